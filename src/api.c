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
#include "utils/timestamp.h"

#include "api.h"
#include "jsonc_pg.h"
#include "ratelimit.h"
#include "settings.h"

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

/*
 * The body of a request: {"data": data} as JSON text, owned by
 * CurrentMemoryContext (through the json-c object that holds it).
 */
static const char *
request_body(json_object *data, size_t *len)
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
	const char *body_text = request_body(data, &body_len);

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
 * Reads the outcomes of items [first, first + count) from a finished
 * exchange: true with *results and *n, or false with ex->kind saying why
 * (a failed exchange, or an answer not shaped as documented).
 */
static bool
read_item_results(const VeltCall *call, VeltExchange *ex, int first, int count,
				  VeltItemResult **results, int *n)
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
	if (!prepare_results(call, ex, first, count, results, n))
	{
		ex->kind = VELT_ANSWER_MALFORMED;
		return false;
	}
	return true;
}

bool
velt_send_items(const VeltCall *call, int first, int count, int max_retries,
				VeltExchange *ex, VeltResultSink sink, void *sink_arg)
{
	VeltItemResult *results;
	int			n;
	int			i;

	velt_post_data(call->endpoint->path,
				   velt_call_data(call, call->endpoint->items_key, first, count),
				   max_retries, ex);
	if (!read_item_results(call, ex, first, count, &results, &n))
		return false;
	for (i = 0; i < n; i++)
		sink(sink_arg, &results[i]);
	return true;
}

/* ---------------------------------------------------------------------
 * Overlapped requests
 *
 * A call of several requests keeps up to velt.max_concurrency of them in
 * flight.  Requests start in input order; each one's retries follow the
 * one policy of exchange.c (velt_exchange_after_attempt), the waits kept
 * here rather than slept; the rows go to the sink in input order, each
 * request's once those before it are done.  After a failure no further
 * request starts, those in flight finish, and the call raises the ERROR
 * of the first failed request in input order, saying which succeeded.
 * ---------------------------------------------------------------------
 */

typedef enum BatchPhase
{
	BATCH_UNSENT,
	BATCH_WAITING,				/* due at not_before (a retry, a token) */
	BATCH_IN_FLIGHT,
	BATCH_SUCCEEDED,
	BATCH_FAILED
} BatchPhase;

/* One request of an overlapped call. */
typedef struct Batch
{
	BatchPhase	phase;
	MemoryContext cxt;			/* its body, answer and rows */
	VeltExchange ex;
	VeltHttpRequest req;
	TimestampTz not_before;		/* BATCH_WAITING: its next attempt */
	TimestampTz token_since;	/* waiting for a rate-limit token since, or 0 */
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
	int			slots;			/* velt.max_concurrency, at most the batches */
	int			slot_batch[VELT_HTTP_MAX_SLOTS];	/* batch per slot, or -1 */
	int			in_flight;
} Overlap;

/* Builds batch b's request body and exchange; it is due at once. */
static void
batch_begin(Overlap *o, int b)
{
	Batch	   *batch = &o->batches[b];
	const VeltCall *call = o->call;
	int			first = b * o->batch_size;
	int			count = Min(o->batch_size, call->nitems - first);
	MemoryContext old;
	const char *body;
	size_t		body_len;

	batch->cxt = AllocSetContextCreate(o->cxt, "velt request", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(batch->cxt);
	body = request_body(velt_call_data(call, call->endpoint->items_key, first, count),
						&body_len);
	velt_exchange_prepare(&batch->ex, &batch->req, call->endpoint->path, body, body_len);
	MemoryContextSwitchTo(old);
	batch->phase = BATCH_WAITING;
	batch->not_before = 0;
}

/* Records batch b as finished, its rows read, or failed. */
static void
batch_finished(Overlap *o, int b)
{
	Batch	   *batch = &o->batches[b];
	int			first = b * o->batch_size;
	int			count = Min(o->batch_size, o->call->nitems - first);

	batch->phase = read_item_results(o->call, &batch->ex, first, count,
									 &batch->results, &batch->nresults) ?
		BATCH_SUCCEEDED : BATCH_FAILED;
	if (batch->phase == BATCH_FAILED && (o->first_failed < 0 || b < o->first_failed))
		o->first_failed = b;
}

/* What batch_start did. */
typedef enum StartOutcome
{
	START_SENT,					/* the slot is taken */
	START_NO_TOKEN,				/* the rate limit has no token yet */
	START_FAILED				/* no token within velt.timeout_ms */
} StartOutcome;

/*
 * Starts batch b's next attempt on slot, or, when the cluster's rate limit
 * has no token yet, makes it wait (or fails it past velt.timeout_ms).
 */
static StartOutcome
batch_start(Overlap *o, int b, int slot, TimestampTz now)
{
	Batch	   *batch = &o->batches[b];
	long		token_ms = velt_ratelimit_try();

	if (token_ms > 0)
	{
		if (batch->token_since == 0)
			batch->token_since = now;
		if ((now - batch->token_since) / 1000 + token_ms > velt_timeout_ms)
		{
			MemoryContext old = MemoryContextSwitchTo(batch->cxt);

			velt_exchange_rate_limited(&batch->ex);
			batch_finished(o, b);
			MemoryContextSwitchTo(old);
			return START_FAILED;
		}
		batch->not_before = TimestampTzPlusMilliseconds(now, token_ms);
		return START_NO_TOKEN;
	}
	batch->token_since = 0;
	batch->ex.attempts++;
	velt_http_start(slot, &batch->req);
	batch->phase = BATCH_IN_FLIGHT;
	o->slot_batch[slot] = b;
	o->in_flight++;
	return START_SENT;
}

/* The batch a free slot should take now (a due retry first), or -1. */
static int
next_due_batch(Overlap *o, TimestampTz now)
{
	int			b;

	for (b = o->next_emit; b < o->next_new; b++)
		if (o->batches[b].phase == BATCH_WAITING && o->batches[b].not_before <= now)
			return b;
	if (o->first_failed >= 0 || o->next_new >= o->nbatches)
		return -1;
	batch_begin(o, o->next_new);
	return o->next_new++;
}

/* Gives every free slot a due batch, while the rate limit has tokens. */
static void
fill_slots(Overlap *o, TimestampTz now)
{
	int			slot;

	for (slot = 0; slot < o->slots; slot++)
	{
		StartOutcome outcome = START_FAILED;
		int			b;

		if (o->slot_batch[slot] >= 0)
			continue;
		while (outcome == START_FAILED && (b = next_due_batch(o, now)) >= 0)
			outcome = batch_start(o, b, slot, now);
		if (outcome != START_SENT)
			return;
	}
}

/*
 * Milliseconds until the next waiting batch is due (rounded up); -1 if
 * none waits or no slot is free for it (then only a transfer can finish
 * first).
 */
static long
next_wait_ms(Overlap *o, TimestampTz now)
{
	long		wait_ms = -1;
	int			b;

	if (o->in_flight >= o->slots)
		return -1;
	for (b = o->next_emit; b < o->next_new; b++)
	{
		Batch	   *batch = &o->batches[b];

		if (batch->phase == BATCH_WAITING)
		{
			long		ms = Max((long) ((batch->not_before - now + 999) / 1000), 0L);

			wait_ms = wait_ms < 0 ? ms : Min(wait_ms, ms);
		}
	}
	return wait_ms;
}

/*
 * After a failure nothing new is sent: a batch still waiting for its
 * first attempt (a rate-limit token) is left unsent.
 */
static void
forget_unsent(Overlap *o)
{
	int			b;

	if (o->first_failed < 0)
		return;
	for (b = o->next_emit; b < o->next_new; b++)
		if (o->batches[b].phase == BATCH_WAITING && o->batches[b].ex.attempts == 0)
			o->batches[b].phase = BATCH_UNSENT;
}

/* Hands the rows of every finished batch whose predecessors are done to sink. */
static void
emit_ready(Overlap *o, VeltResultSink sink, void *sink_arg)
{
	while (o->next_emit < o->next_new &&
		   o->batches[o->next_emit].phase == BATCH_SUCCEEDED)
	{
		Batch	   *batch = &o->batches[o->next_emit];
		MemoryContext old = MemoryContextSwitchTo(batch->cxt);
		int			i;

		for (i = 0; i < batch->nresults; i++)
			sink(sink_arg, &batch->results[i]);
		MemoryContextSwitchTo(old);
		/* releases the request's json-c objects and the parsed answer */
		MemoryContextDelete(batch->cxt);
		batch->cxt = NULL;
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

/* Runs o's requests until every one started is finished. */
static void
drive_overlap(Overlap *o, VeltResultSink sink, void *sink_arg)
{
	for (;;)
	{
		VeltHttpResponse resp;
		TimestampTz now = GetCurrentTimestamp();
		long		wait_ms;
		int			done;
		int			b;
		Batch	   *batch;
		MemoryContext old;
		long		delay_ms;

		forget_unsent(o);
		fill_slots(o, now);
		emit_ready(o, sink, sink_arg);
		wait_ms = next_wait_ms(o, now);
		if (o->in_flight == 0 && wait_ms < 0)
			return;
		done = velt_http_wait(&resp, wait_ms);
		if (done < 0)
			continue;
		b = o->slot_batch[done];
		if (b < 0)
			elog(ERROR, "velt: an HTTP answer arrived for no request of this call");
		batch = &o->batches[b];
		o->slot_batch[done] = -1;
		o->in_flight--;
		old = MemoryContextSwitchTo(batch->cxt);
		/* the answer lives in the slot's buffer, which the next request reuses */
		if (resp.body_len > 0)
			resp.body = pnstrdup(resp.body, resp.body_len);
		batch->ex.http = resp;
		if (velt_exchange_after_attempt(&batch->ex, velt_max_retries, &delay_ms))
			batch_finished(o, b);
		else
		{
			batch->phase = BATCH_WAITING;
			batch->not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay_ms);
		}
		MemoryContextSwitchTo(old);
	}
}

/* Runs a call of nbatches requests, up to velt.max_concurrency at once. */
static void
run_overlapped(const VeltCall *call, int nbatches, VeltResultSink sink, void *sink_arg)
{
	Overlap		o;
	int			slot;

	memset(&o, 0, sizeof(o));
	o.call = call;
	o.cxt = AllocSetContextCreate(CurrentMemoryContext, "velt overlapped call",
								  ALLOCSET_DEFAULT_SIZES);
	o.batches = MemoryContextAllocZero(o.cxt, sizeof(Batch) * nbatches);
	o.nbatches = nbatches;
	o.batch_size = velt_batch_size;
	o.first_failed = -1;
	o.slots = Min(velt_max_concurrency, nbatches);
	for (slot = 0; slot < VELT_HTTP_MAX_SLOTS; slot++)
		o.slot_batch[slot] = -1;

	PG_TRY();
	{
		drive_overlap(&o, sink, sink_arg);
	}
	PG_CATCH();
	{
		/* an ERROR anywhere in the loop: no transfer may stay attached */
		velt_http_abort();
		PG_RE_THROW();
	}
	PG_END_TRY();

	emit_ready(&o, sink, sink_arg);
	if (o.first_failed >= 0)
		velt_raise_call_error(&o.batches[o.first_failed].ex, o.first_failed + 1,
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
	velt_post_data(endpoint_path, data, velt_max_retries, ex);
	if (ex->kind != VELT_ANSWER_OK)
		velt_raise_exchange_error(ex, 1, 1);
	return ex->envelope.result;
}
