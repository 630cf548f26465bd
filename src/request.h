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
	json_object *items;			/* array of items; NULL for delete_all */
	const char **ids;			/* the ID of each item */
	int			nitems;
	Jsonb	   *items_jsonb;	/* the items as the caller passed them, when
								 * they came as jsonb (saves re-encoding) */
	int			max_items;		/* reads: most rows wanted, 0 for all */
} VeltCall;

/*
 * Validates the arguments of an endpoint's SQL function and builds the
 * call.  Bad input raises 22004 (a NULL) or 22023 (anything else) before
 * anything is sent.
 */
extern void velt_call_from_args(FunctionCallInfo fcinfo,
								const VeltEndpoint *endpoint,
								VeltCall *call);

/*
 * Merges the keys of an options object into data.  With an endpoint, keys
 * its arguments set are refused; without one, keys data already has.
 */
extern void velt_merge_options(json_object *data, Jsonb *options,
							   const VeltEndpoint *ep);

#endif							/* VELT_REQUEST_H */
