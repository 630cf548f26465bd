/*-------------------------------------------------------------------------
 *
 * api.h
 *		Calling Velt: batching, retries, envelope checks, per-ID results.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_API_H
#define VELT_API_H

#include "postgres.h"

#include "pg_compat.h"

#include "envelope.h"
#include "http.h"
#include "request.h"

typedef enum VeltAnswerKind
{
	VELT_ANSWER_OK,				/* 2xx with a result envelope */
	VELT_ANSWER_TRANSPORT,		/* no HTTP answer at all */
	VELT_ANSWER_ERROR,			/* error envelope, or a non-2xx status */
	VELT_ANSWER_INVALID,		/* 2xx that is not a Velt envelope */
	VELT_ANSWER_MALFORMED		/* an envelope whose per-ID results are not
								 * shaped as documented */
} VeltAnswerKind;

/* One request and everything learned from its attempts. */
typedef struct VeltExchange
{
	char		path[256];		/* "/v2/users/add", for messages */
	VeltAnswerKind kind;
	int			attempts;
	double		elapsed_ms;		/* all attempts and waits */
	bool		retry_after_too_long;	/* stopped: Retry-After above the cap */
	VeltHttpResponse http;		/* the last attempt */
	VeltEnvelope envelope;		/* root owned by CurrentMemoryContext */
	char		malformed_reason[200];	/* for VELT_ANSWER_MALFORMED */
} VeltExchange;

/* The outcome for one ID, as handed to a result sink. */
typedef struct VeltItemResult
{
	int			index;			/* the item's position in the call */
	const char *id;
	int			success;		/* 1 true, 0 false, -1 unknown (NULL) */
	const char *velt_id;
	const char *message;
	Datum		result;			/* jsonb */
	bool		result_isnull;
} VeltItemResult;

typedef void (*VeltResultSink) (void *arg, const VeltItemResult *result);

/*
 * Exponential backoff with jitter before attempt + 1: base_ms doubled per
 * attempt, capped at cap_ms, drawn from the upper half, and never shorter
 * than a Retry-After (seconds; -1 if none).
 */
extern long velt_backoff_ms(int attempt, double base_ms, int cap_ms,
							long retry_after_s);

/*
 * Sends {"data": data} to the endpoint path (see velt_exchange).
 */
/*
 * The "data" of a request for items [first, first + count) of call: its
 * fixed members, then the items under items_key (none when count is 0).
 * Owned by CurrentMemoryContext.
 */
extern json_object *velt_call_data(const VeltCall *call, const char *items_key,
								   int first, int count);

extern void velt_post_data(const char *endpoint_path, json_object *data,
						   int max_retries, VeltExchange *ex);

/*
 * v2 documents answer a partly failed request with HTTP 500 INTERNAL and
 * the items in error.details; for an endpoint marked so in the catalog,
 * returns those details when they have the given JSON type, else NULL.
 */
extern json_object *velt_items_in_error_details(const VeltEndpoint *ep,
												const VeltExchange *ex,
												json_type shape);

/*
 * Sends body to the endpoint path under the configured base URL and API
 * version, retrying what is worth retrying.  Raises no error for a failed
 * exchange: ex->kind says what happened.
 */
extern void velt_exchange(const char *endpoint_path, const char *body,
						  size_t body_len, int max_retries, VeltExchange *ex);

/* Raises the ERROR that describes a failed exchange. */
velt_noreturn extern void velt_raise_exchange_error(const VeltExchange *ex,
													int batch, int nbatches);

/*
 * Sends items [first, first + count) of a call in one request (retrying up
 * to max_retries times).  On success hands every ID's outcome to sink and
 * returns true; otherwise returns false with ex describing the failure and
 * raises nothing.
 */
extern bool velt_send_items(const VeltCall *call, int first, int count,
							int max_retries, VeltExchange *ex,
							VeltResultSink sink, void *sink_arg);

/*
 * Sends {"data": data} to one endpoint (with retries) and returns Velt's
 * "result" object, owned by CurrentMemoryContext; any failure raises the
 * usual ERROR.  For reads and the generic velt_request.
 */
extern json_object *velt_call_result(const char *endpoint_path,
									 json_object *data, VeltExchange *ex);

/*
 * Runs a call: splits its items into batches of velt.batch_size, sends
 * each, and hands every ID's outcome to sink in input order.  Any failed
 * request raises an ERROR.
 */
extern void velt_call_execute(const VeltCall *call, VeltResultSink sink,
							  void *sink_arg);

#endif							/* VELT_API_H */
