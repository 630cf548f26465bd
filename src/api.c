/*-------------------------------------------------------------------------
 *
 * api.c
 *		Calling Velt: batching, envelope checks, per-ID results.
 *
 * A call's items are sent in requests of at most velt.batch_size items,
 * each one exchange (exchange.c: retries, and the ERROR of a failed one).
 * Every ID's outcome is read from the answer before any is handed out, so
 * an answer that is not shaped as documented fails as a whole.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "utils/builtins.h"
#include "utils/memutils.h"

#include "api.h"
#include "jsonc_pg.h"
#include "settings.h"
#include "stats.h"

/* obj, or an out-of-memory ERROR if json-c could not make it. */
static json_object *
checked(json_object *obj)
{
	if (obj == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building a Velt request")));
	return obj;
}

json_object *
velt_call_data(const VeltCall *call, const char *items_key, int first, int count)
{
	json_object *data = velt_jsonc_owned(checked(json_object_new_object()));

	{
		/* the foreach macro declares its own variables */
		json_object_object_foreach(call->fixed, key, value)
			json_object_object_add(data, key, json_object_get(value));
	}

	if (count > 0)
	{
		json_object *slice = checked(json_object_new_array_ext(count));
		int			i;

		if (json_object_object_add(data, items_key, slice) != 0)
		{
			json_object_put(slice);
			checked(NULL);
		}
		for (i = 0; i < count; i++)
			velt_call_append_item(call, first + i, slice);
	}
	return data;
}

const char *
velt_request_text(json_object *data, size_t *len)
{
	json_object *root = velt_jsonc_owned(checked(json_object_new_object()));

	json_object_object_add(root, "data", json_object_get(data));
	return velt_jsonc_text(root, len);
}

void
velt_post_data(const char *endpoint_path, json_object *data, int max_retries,
			   VeltExchange *ex)
{
	size_t		body_len;
	const char *body_text = velt_request_text(data, &body_len);

	velt_exchange(endpoint_path, body_text, body_len, max_retries, ex);
}

json_object *
velt_items_in_error_details(const VeltEndpoint *ep, const VeltExchange *ex,
							json_type shape)
{
	if (ep->items_in_error_details && ex->kind == VELT_ANSWER_ERROR &&
		ex->http.status == 500 && ex->envelope.kind == VELT_ENVELOPE_ERROR &&
		ex->envelope.error_status && strcmp(ex->envelope.error_status, "INTERNAL") == 0 &&
		ex->envelope.details != NULL && json_object_is_type(ex->envelope.details, shape))
		return ex->envelope.details;
	return NULL;
}

/*
 * Reads one ID's outcome into *result, the item converted to jsonb once.
 * Returns false, with the reason in ex, when it is not shaped as documented.
 */
static bool
prepare_result(VeltExchange *ex, int index, const char *id, VeltItemResult *result)
{
	VeltItemOutcome outcome;
	char		reason[128];

	memset(result, 0, sizeof(*result));
	result->index = index;
	result->id = id;
	if (!velt_item_outcome(ex->envelope.data, id, &outcome, reason, sizeof(reason)))
	{
		snprintf(ex->malformed_reason, sizeof(ex->malformed_reason),
				 "the result for ID \"%s\" is invalid: %s", id, reason);
		return false;
	}
	if (!outcome.present)
	{
		result->success = -1;
		result->message = "Velt returned no result for this ID";
		result->result_isnull = true;
		return true;
	}
	if (!velt_jsonc_to_jsonb_checked(outcome.item, &result->result))
	{
		snprintf(ex->malformed_reason, sizeof(ex->malformed_reason),
				 "the result for ID \"%s\" contains a NUL character", id);
		return false;
	}
	result->success = outcome.success;
	result->velt_id = outcome.velt_id;
	result->message = outcome.message;
	return true;
}

/*
 * Reads every ID's outcome before handing any out, so that a malformed
 * answer fails as a whole.  Sets *results and *n.
 */
static bool
prepare_results(const VeltCall *call, VeltExchange *ex, int first, int count,
				VeltItemResult **results, int *n)
{
	json_object *data = ex->envelope.data;
	int			i;

	*n = 0;
	if (data != NULL && !json_object_is_type(data, json_type_object))
	{
		snprintf(ex->malformed_reason, sizeof(ex->malformed_reason),
				 "\"result.data\" is a JSON %s, not a map of IDs",
				 json_type_to_name(json_object_get_type(data)));
		return false;
	}
	if (!velt_call_has_items(call))
	{
		/* no IDs were sent (delete_all): every ID Velt names */
		*results = palloc(sizeof(VeltItemResult) * Max(data ? json_object_object_length(data) : 0, 1));
		if (data != NULL)
		{
			json_object_object_foreach(data, key, value)
			{
				(void) value;
				if (!prepare_result(ex, *n, key, &(*results)[*n]))
					return false;
				(*n)++;
			}
		}
		return true;
	}
	*results = palloc(sizeof(VeltItemResult) * Max(count, 1));
	for (i = first; i < first + count; i++)
	{
		if (!prepare_result(ex, i, call->ids[i], &(*results)[*n]))
			return false;
		(*n)++;
	}
	return true;
}

/*
 * The one outcome of a whole-result endpoint (velt_enqueue_request): the
 * path as its ID, Velt's result and message.  Velt has acted on a 2xx, so
 * a result jsonb cannot hold is left out rather than failing the request
 * (it need not be idempotent, and would be sent again).
 */
static void
whole_result(const VeltEndpoint *ep, VeltExchange *ex, VeltItemResult *result)
{
	json_object *message;

	memset(result, 0, sizeof(*result));
	result->id = ep->path;
	result->success = 1;
	if (!velt_jsonc_to_jsonb_checked(ex->envelope.result, &result->result))
	{
		result->result_isnull = true;
		result->message = "delivered; Velt's result contains a NUL character, which jsonb cannot store";
		return;
	}
	if (json_object_object_get_ex(ex->envelope.result, "message", &message) &&
		json_object_is_type(message, json_type_string))
		result->message = json_object_get_string(message);
}

/*
 * read_item_results without the counting: true with *results and *n, or
 * false with ex->kind saying why.
 */
static bool
read_item_results_uncounted(const VeltCall *call, VeltExchange *ex, int first,
							int count, VeltItemResult **results, int *n)
{
	json_object *details = velt_items_in_error_details(call->endpoint, ex, json_type_object);

	if (details)
	{
		/* a partly failed batch: every item's outcome is in the details */
		ex->envelope.data = details;
		ex->kind = VELT_ANSWER_OK;
	}
	if (ex->kind != VELT_ANSWER_OK)
		return false;
	if (call->endpoint->outbox == VELT_OUTBOX_REQUEST)
	{
		*results = palloc(sizeof(VeltItemResult));
		whole_result(call->endpoint, ex, &(*results)[0]);
		*n = 1;
		return true;
	}
	if (!prepare_results(call, ex, first, count, results, n))
	{
		ex->kind = VELT_ANSWER_MALFORMED;
		return false;
	}
	return true;
}

/*
 * Counts a finished request's per-ID outcomes in velt_stats: the IDs sent
 * (or, for a request that sends none, those Velt answered for), of them
 * those answered with success true; the rest failed.
 */
static void
count_outcomes(const VeltCall *call, const VeltExchange *ex, int count, bool ok,
			   const VeltItemResult *results, int n)
{
	uint64		items = velt_call_has_items(call) ? (uint64) count : (ok ? (uint64) n : 0);
	uint64		successes = 0;
	int			i;

	for (i = 0; ok && i < n; i++)
		if (results[i].success == 1)
			successes++;
	if (ex->kind == VELT_ANSWER_MALFORMED)
		velt_stats_count_malformed(ex->stats_endpoint, ex->stats_caller);
	velt_stats_count_items(ex->stats_endpoint, ex->stats_caller, items, successes);
}

/*
 * Reads the outcomes of items [first, first + count) from a finished
 * exchange: true with *results and *n, or false with ex->kind saying why
 * (a failed exchange, or an answer not shaped as documented).  Counts
 * them in velt_stats.
 */
static bool
read_item_results(const VeltCall *call, VeltExchange *ex, int first, int count,
				  VeltItemResult **results, int *n)
{
	bool		ok = read_item_results_uncounted(call, ex, first, count, results, n);

	/* a request that never went out (no rate-limit token) sent no items */
	if (ex->attempts > 0)
		count_outcomes(call, ex, count, ok, ok ? *results : NULL, ok ? *n : 0);
	return ok;
}

bool
velt_send_items(const VeltCall *call, int first, int count, int max_retries,
				VeltExchange *ex, VeltResultSink sink, void *sink_arg)
{
	velt_post_data(call->endpoint->path,
				   velt_call_data(call, call->endpoint->items_key, first, count),
				   max_retries, ex);
	return velt_read_items(call, ex, first, count, sink, sink_arg);
}

bool
velt_read_items(const VeltCall *call, VeltExchange *ex, int first, int count,
				VeltResultSink sink, void *sink_arg)
{
	VeltItemResult *results;
	int			n;
	int			i;

	if (!read_item_results(call, ex, first, count, &results, &n))
		return false;
	for (i = 0; i < n; i++)
		sink(sink_arg, &results[i]);
	return true;
}

void
velt_flight_prepare_items(VeltFlight *flight, const VeltCall *call, int first, int count)
{
	MemoryContext old = MemoryContextSwitchTo(flight->cxt);
	const char *body;
	size_t		body_len;

	body = velt_request_text(velt_call_data(call, call->endpoint->items_key, first, count),
						&body_len);
	velt_exchange_prepare(&flight->ex, &flight->req, call->endpoint->path, body, body_len);
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------------
 * Overlapped requests
 *
 * A call of several requests keeps up to velt.max_concurrency of them in
 * flight, through the engine of flight.c (retries, waits, rate-limit
 * tokens).  Requests start in input order; the rows go to the sink in
 * input order, each request's once those before it are done.  After a
 * failure no further request starts, those in flight finish, and the call
 * raises the ERROR of the first failed request in input order, saying
 * which succeeded.
 * ---------------------------------------------------------------------
 */

typedef enum BatchPhase
{
	BATCH_UNSENT,
	BATCH_STARTED,				/* handed to the engine */
	BATCH_SUCCEEDED,
	BATCH_FAILED
} BatchPhase;

/* One request of an overlapped call. */
typedef struct Batch
{
	VeltFlight	flight;			/* first: a flight is its batch; its cxt
								 * holds the body, answer and rows */
	BatchPhase	phase;
	VeltItemResult *results;	/* BATCH_SUCCEEDED: its rows */
	int			nresults;
} Batch;

/* An overlapped call in progress. */
typedef struct Overlap
{
	const VeltCall *call;
	MemoryContext cxt;			/* parent of the batches' contexts */
	Batch	   *batches;
	int			nbatches;
	int			batch_size;
	int			next_new;		/* the next batch never started */
	int			next_emit;		/* the next batch whose rows go to the sink */
	int			first_failed;	/* lowest failed batch, or -1 */
	VeltResultSink sink;
	void	   *sink_arg;
} Overlap;

/* Plan: the next batch in input order, until one has failed. */
static VeltFlight *
overlap_next(void *arg)
{
	Overlap    *o = arg;
	Batch	   *batch;
	int			first = o->next_new * o->batch_size;

	if (o->first_failed >= 0 || o->next_new >= o->nbatches)
		return NULL;
	batch = &o->batches[o->next_new++];
	batch->flight.cxt = AllocSetContextCreate(o->cxt, "velt request", ALLOCSET_DEFAULT_SIZES);
	batch->flight.max_retries = velt_max_retries;
	velt_flight_prepare_items(&batch->flight, o->call, first,
							  Min(o->batch_size, o->call->nitems - first));
	batch->phase = BATCH_STARTED;
	return &batch->flight;
}

/*
 * Plan: a batch is done; its rows are read now, handed out in order later
 * (so its context stays), or it was dropped (nothing to keep).
 */
static bool
overlap_finished(void *arg, VeltFlight *flight)
{
	Overlap    *o = arg;
	Batch	   *batch = (Batch *) flight;
	int			b = batch - o->batches;
	int			first = b * o->batch_size;
	int			count = Min(o->batch_size, o->call->nitems - first);

	if (flight->phase == VELT_FLIGHT_DROPPED)
	{
		batch->phase = BATCH_UNSENT;
		return true;
	}
	batch->phase = read_item_results(o->call, &flight->ex, first, count,
									 &batch->results, &batch->nresults) ?
		BATCH_SUCCEEDED : BATCH_FAILED;
	if (batch->phase == BATCH_FAILED && (o->first_failed < 0 || b < o->first_failed))
		o->first_failed = b;
	return false;
}

/* Plan: after a failure nothing new starts. */
static bool
overlap_halted(void *arg)
{
	return ((Overlap *) arg)->first_failed >= 0;
}

/* Plan: hands the rows of every batch whose predecessors are done to the sink. */
static void
overlap_tick(void *arg)
{
	Overlap    *o = arg;

	while (o->next_emit < o->next_new &&
		   o->batches[o->next_emit].phase == BATCH_SUCCEEDED)
	{
		Batch	   *batch = &o->batches[o->next_emit];
		MemoryContext old = MemoryContextSwitchTo(batch->flight.cxt);
		int			i;

		for (i = 0; i < batch->nresults; i++)
			o->sink(o->sink_arg, &batch->results[i]);
		MemoryContextSwitchTo(old);
		/* releases the request's json-c objects and the parsed answer */
		MemoryContextDelete(batch->flight.cxt);
		batch->flight.cxt = NULL;
		o->next_emit++;
	}
}

/*
 * The HINT's account of the requests that succeeded, when it is not "the
 * first ones" (NULL then).
 */
static char *
succeeded_text(Overlap *o)
{
	StringInfoData s;
	int			b;
	int			runs = 0;
	bool		only_first = true;

	for (b = 0; b < o->nbatches; b++)
		if ((o->batches[b].phase == BATCH_SUCCEEDED) != (b < o->first_failed))
			only_first = false;
	if (only_first)
		return NULL;
	initStringInfo(&s);
	for (b = 0; b < o->nbatches; b++)
		if (o->batches[b].phase == BATCH_SUCCEEDED)
			runs++;
	if (runs == 1)
	{
		for (b = 0; o->batches[b].phase != BATCH_SUCCEEDED; b++)
			;
		appendStringInfo(&s, "Request %d of this call succeeded and is not undone.", b + 1);
		return s.data;
	}
	runs = 0;
	appendStringInfoString(&s, "Requests ");
	for (b = 0; b < o->nbatches; b++)
	{
		int			end = b;
		int			next;

		if (o->batches[b].phase != BATCH_SUCCEEDED)
			continue;
		while (end + 1 < o->nbatches && o->batches[end + 1].phase == BATCH_SUCCEEDED)
			end++;
		/* is there another run after this one? */
		for (next = end + 1; next < o->nbatches; next++)
			if (o->batches[next].phase == BATCH_SUCCEEDED)
				break;
		appendStringInfo(&s, "%s%d", runs == 0 ? "" : (next < o->nbatches ? ", " : " and "), b + 1);
		if (end > b)
			appendStringInfo(&s, " to %d", end + 1);
		runs++;
		b = end;
	}
	appendStringInfo(&s, " of this call succeeded and are not undone.");
	return s.data;
}

/* Runs a call of nbatches requests, up to velt.max_concurrency at once. */
static void
run_overlapped(const VeltCall *call, int nbatches, VeltResultSink sink, void *sink_arg)
{
	Overlap		o;
	VeltFlightPlan plan;

	memset(&o, 0, sizeof(o));
	o.call = call;
	o.cxt = AllocSetContextCreate(CurrentMemoryContext, "velt overlapped call",
								  ALLOCSET_DEFAULT_SIZES);
	o.batches = MemoryContextAllocZero(o.cxt, sizeof(Batch) * nbatches);
	o.nbatches = nbatches;
	o.batch_size = velt_batch_size;
	o.first_failed = -1;
	o.sink = sink;
	o.sink_arg = sink_arg;

	memset(&plan, 0, sizeof(plan));
	plan.arg = &o;
	plan.slots = Min(velt_max_concurrency, nbatches);
	plan.next = overlap_next;
	plan.finished = overlap_finished;
	plan.halted = overlap_halted;
	plan.tick = overlap_tick;
	velt_flights_run(&plan);

	overlap_tick(&o);
	if (o.first_failed >= 0)
		velt_raise_call_error(&o.batches[o.first_failed].flight.ex, o.first_failed + 1,
							  nbatches, succeeded_text(&o));
	MemoryContextDelete(o.cxt);
}

void
velt_call_execute(const VeltCall *call, VeltResultSink sink, void *sink_arg)
{
	int			nbatches;
	VeltExchange ex;
	MemoryContext cxt;
	MemoryContext old;

	velt_require_credentials();
	velt_stats_count_call(velt_stats_endpoint_of(call->endpoint), VELT_STATS_CALL);
	nbatches = velt_call_has_items(call) ?
		(call->nitems + velt_batch_size - 1) / velt_batch_size : 1;
	if (nbatches > 1)
	{
		/* velt.max_concurrency = 1 runs them one at a time, the same way */
		run_overlapped(call, nbatches, sink, sink_arg);
		return;
	}
	/* the request's json-c objects and parsed answer go with this context */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "velt request", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	if (!velt_send_items(call, 0, velt_call_has_items(call) ? call->nitems : 0,
						 velt_max_retries, &ex, sink, sink_arg))
		velt_raise_exchange_error(&ex, 1, 1);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

json_object *
velt_call_result(const char *endpoint_path, json_object *data, VeltExchange *ex)
{
	velt_stats_count_call(velt_stats_endpoint_of_path(endpoint_path), VELT_STATS_CALL);
	velt_post_data(endpoint_path, data, velt_max_retries, ex);
	if (ex->kind != VELT_ANSWER_OK)
		velt_raise_exchange_error(ex, 1, 1);
	return ex->envelope.result;
}
