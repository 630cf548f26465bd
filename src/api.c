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

void
velt_post_data(const char *endpoint_path, json_object *data, int max_retries,
			   VeltExchange *ex)
{
	json_object *root = velt_jsonc_owned(checked(json_object_new_object()));
	size_t		body_len;
	const char *body_text;

	json_object_object_add(root, "data", json_object_get(data));
	body_text = velt_jsonc_text(root, &body_len);
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

bool
velt_send_items(const VeltCall *call, int first, int count, int max_retries,
				VeltExchange *ex, VeltResultSink sink, void *sink_arg)
{
	json_object *details;
	VeltItemResult *results;
	int			n;
	int			i;

	velt_post_data(call->endpoint->path,
				   velt_call_data(call, call->endpoint->items_key, first, count),
				   max_retries, ex);
	details = velt_items_in_error_details(call->endpoint, ex, json_type_object);
	if (details)
	{
		/* a partly failed batch: every item's outcome is in the details */
		ex->envelope.data = details;
		ex->kind = VELT_ANSWER_OK;
	}
	if (ex->kind != VELT_ANSWER_OK)
		return false;
	if (!prepare_results(call, ex, first, count, &results, &n))
	{
		ex->kind = VELT_ANSWER_MALFORMED;
		return false;
	}
	for (i = 0; i < n; i++)
		sink(sink_arg, &results[i]);
	return true;
}

void
velt_call_execute(const VeltCall *call, VeltResultSink sink, void *sink_arg)
{
	int			batch_size = velt_batch_size;
	int			nbatches;
	int			batch;
	MemoryContext batch_cxt;

	velt_require_credentials();

	nbatches = velt_call_has_items(call) ? (call->nitems + batch_size - 1) / batch_size : 1;
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "velt batch",
									  ALLOCSET_DEFAULT_SIZES);
	for (batch = 0; batch < nbatches; batch++)
	{
		int			first = batch * batch_size;
		int			count = velt_call_has_items(call) ? Min(batch_size, call->nitems - first) : 0;
		MemoryContext old = MemoryContextSwitchTo(batch_cxt);
		VeltExchange ex;

		if (!velt_send_items(call, first, count, velt_max_retries, &ex, sink, sink_arg))
			velt_raise_exchange_error(&ex, batch + 1, nbatches);

		MemoryContextSwitchTo(old);
		/* releases this request's json-c objects and the parsed answer */
		MemoryContextReset(batch_cxt);
	}
	MemoryContextDelete(batch_cxt);
}

json_object *
velt_call_result(const char *endpoint_path, json_object *data, VeltExchange *ex)
{
	velt_post_data(endpoint_path, data, velt_max_retries, ex);
	if (ex->kind != VELT_ANSWER_OK)
		velt_raise_exchange_error(ex, 1, 1);
	return ex->envelope.result;
}
