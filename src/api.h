/*-------------------------------------------------------------------------
 *
 * api.h
 *		Calling Velt: batching, envelope checks, per-ID results.
 *
 * A call's items travel in requests of at most velt.batch_size items; each
 * request is one exchange (exchange.h), and each ID's outcome is read from
 * its answer and handed to a result sink.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_API_H
#define VELT_API_H

#include "postgres.h"

#include "exchange.h"
#include "flight.h"
#include "request.h"

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
 * The "data" of a request for items [first, first + count) of call: its
 * fixed members, then the items under items_key (none when count is 0).
 * Owned by CurrentMemoryContext.
 */
extern json_object *velt_call_data(const VeltCall *call, const char *items_key,
								   int first, int count);

/*
 * The body of a request: {"data": data} as JSON text, owned by
 * CurrentMemoryContext (through the json-c object that holds it).
 */
extern const char *velt_request_text(json_object *data, size_t *len);

/* Sends {"data": data} to the endpoint path (see velt_exchange). */
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
 * Sends items [first, first + count) of a call in one request (retrying up
 * to max_retries times).  On success hands every ID's outcome to sink and
 * returns true; otherwise returns false with ex describing the failure and
 * raises nothing.
 */
extern bool velt_send_items(const VeltCall *call, int first, int count,
							int max_retries, VeltExchange *ex,
							VeltResultSink sink, void *sink_arg);

/*
 * After the exchange of items [first, first + count) of a call finished:
 * hands every ID's outcome to sink and returns true, or returns false with
 * ex describing the failure (an answer not shaped as documented becomes
 * VELT_ANSWER_MALFORMED) and raises nothing.
 */
extern bool velt_read_items(const VeltCall *call, VeltExchange *ex, int first,
							int count, VeltResultSink sink, void *sink_arg);

/*
 * Prepares flight (flight.h) to send items [first, first + count) of call:
 * the request body and the exchange, in flight->cxt, which the caller has
 * made; velt_read_items reads its answer once it is finished.
 */
extern void velt_flight_prepare_items(VeltFlight *flight, const VeltCall *call,
									  int first, int count);

/*
 * Sends {"data": data} to one endpoint (with retries) and returns Velt's
 * "result" object, owned by CurrentMemoryContext; any failure raises the
 * usual ERROR.  For reads and the generic velt_request.
 */
extern json_object *velt_call_result(const char *endpoint_path,
									 json_object *data, VeltExchange *ex);

/*
 * Runs a call: splits its items into batches of velt.batch_size, sends
 * them (up to velt.max_concurrency in flight), and hands every ID's
 * outcome to sink in input order.  A failed request raises an ERROR once
 * the requests in flight have finished.
 */
extern void velt_call_execute(const VeltCall *call, VeltResultSink sink,
							  void *sink_arg);

#endif							/* VELT_API_H */
