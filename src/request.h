/*-------------------------------------------------------------------------
 *
 * request.h
 *		Turning SQL arguments into a validated Velt call.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_REQUEST_H
#define VELT_REQUEST_H

#include "postgres.h"

#include "json_c.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "endpoints.h"

/*
 * One validated call: the members every request's "data" carries, and the
 * items to split into batches.  json-c objects are owned by the memory
 * context that was current when the call was built.
 */
typedef struct VeltCall
{
	const VeltEndpoint *endpoint;
	json_object *fixed;			/* data members common to every batch */
	json_object *items;			/* array of items as json-c, or NULL: see
								 * items_jsonb; for an ID list, its IDs are
								 * its items */
	const char **ids;			/* the ID of each item */
	int			nitems;
	Jsonb	   *items_jsonb;	/* the items as jsonb, as the caller passed
								 * them or as the outbox stored them (then
								 * items is NULL); neither is set for
								 * delete_all */
	int			max_items;		/* reads: most rows wanted, 0 for all */
} VeltCall;

/* True if the call carries items (not for delete_all or an unfiltered read). */
static inline bool
velt_call_has_items(const VeltCall *call)
{
	return call->nitems > 0;
}

/*
 * Appends item index to the json-c array slice.  Items that came as jsonb
 * are converted here, one request's worth at a time, so a call with many
 * items never holds them all as json-c objects.
 */
extern void velt_call_append_item(const VeltCall *call, int index, json_object *slice);

/* The byte offset of value's first control character, or -1. */
extern int	velt_control_character_at(const char *value, int len);

/*
 * Raises 22023 if value (len bytes) holds a control character (U+0001 to
 * U+001F, U+007F), naming arg, and *index and field when given.
 */
extern void velt_reject_control_characters(const char *value, int len, const char *arg,
										   const int *index, const char *field);

/*
 * Validates the arguments of an endpoint's SQL function and builds the
 * call.  Bad input raises 22004 (a NULL) or 22023 (anything else) before
 * anything is sent.
 */
extern void velt_call_from_args(FunctionCallInfo fcinfo,
								const VeltEndpoint *ep,
								VeltCall *call);

/*
 * Merges the keys of an options object into data.  With an endpoint, keys
 * its arguments set are refused; without one, keys data already has.
 */
extern void velt_merge_options(json_object *data, Jsonb *jb,
							   const VeltEndpoint *ep);

/*
 * Validates velt_request's arguments (path text, data jsonb, options
 * jsonb) and returns the path: relative, of letters, digits and "/_.-",
 * with no empty or ".." segment, at most 200 bytes.  *data is the data
 * object (empty for NULL) with the options merged in, owned by
 * CurrentMemoryContext.  Bad input raises 22004 or 22023.
 */
extern const char *velt_request_from_args(FunctionCallInfo fcinfo,
										  json_object **data);

#endif							/* VELT_REQUEST_H */
