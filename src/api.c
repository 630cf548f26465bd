/*-------------------------------------------------------------------------
 *
 * api.c
 *		Calling Velt: batching, retries, envelope checks, per-ID results.
 *
 * A call's items are sent in requests of at most velt.batch_size items.
 * Each request is retried after 429 (waiting at least its Retry-After),
 * 502, 503, 504 and transport failures, with exponential backoff and
 * jitter capped at velt.retry_max_delay_ms; other answers are final.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "api.h"
#include "errors.h"
#include "jsonc_pg.h"
#include "settings.h"

/* First retry waits about this long; each further one doubles it. */
#define VELT_RETRY_BASE_MS 100.0

/* How much of an unexpected answer an error message quotes. */
#define VELT_QUOTE_BYTES 200

static json_object *
checked(json_object *obj)
{
	if (obj == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building a Velt request")));
	return obj;
}

long
velt_backoff_ms(int attempt, double base_ms, int cap_ms, long retry_after_s)
{
	double		delay = base_ms * (double) (1L << Min(Max(attempt - 1, 0), 30));

	delay = Min(delay, (double) cap_ms);
	/* jitter: somewhere in the upper half, so callers do not move in step */
	delay = delay / 2 + pg_prng_double(&pg_global_prng_state) * delay / 2;
	if (retry_after_s >= 0)
		delay = Max(delay, retry_after_s * 1000.0);
	return (long) delay;
}

static void
interruptible_sleep(long ms)
{
	instr_time	start;
	instr_time	now;

	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		long		remaining;

		CHECK_FOR_INTERRUPTS();
		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		remaining = ms - (long) INSTR_TIME_GET_MILLISEC(now);
		if (remaining <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 remaining, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

void
velt_exchange(const char *endpoint_path, const char *body, size_t body_len,
			  int max_retries, VeltExchange *ex)
{
	StringInfoData url;
	VeltHttpRequest req;
	size_t		base_len = strlen(velt_base_url);
	instr_time	start;
	instr_time	elapsed;

	memset(ex, 0, sizeof(*ex));
	while (base_len > 0 && velt_base_url[base_len - 1] == '/')
		base_len--;
	/* a path that names its version ("v1/...") overrides velt.api_version */
	if (strncmp(endpoint_path, "v1/", 3) == 0 || strncmp(endpoint_path, "v2/", 3) == 0)
		snprintf(ex->path, sizeof(ex->path), "/%s", endpoint_path);
	else
		snprintf(ex->path, sizeof(ex->path), "/%s/%s",
				 velt_api_version_name(), endpoint_path);
	initStringInfo(&url);
	appendBinaryStringInfo(&url, velt_base_url, base_len);
	appendStringInfoString(&url, ex->path);

	memset(&req, 0, sizeof(req));
	req.url = url.data;
	req.body = body;
	req.body_len = body_len;
	req.api_key = velt_api_key;
	req.auth_token = velt_auth_token;
	req.timeout_ms = velt_timeout_ms;
	req.connect_timeout_ms = velt_connect_timeout_ms;
	req.ca_file = velt_ca_file;

	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		long		wait_ms;

		ex->attempts++;
		velt_http_post(&req, &ex->http);
		if (!velt_is_retryable(&ex->http) || ex->attempts > max_retries)
			break;
		if (ex->http.retry_after_s >= 0 &&
			(double) ex->http.retry_after_s * 1000.0 > velt_retry_max_delay_ms)
		{
			ex->retry_after_too_long = true;
			break;
		}
		wait_ms = velt_backoff_ms(ex->attempts, VELT_RETRY_BASE_MS,
								  velt_retry_max_delay_ms, ex->http.retry_after_s);
		interruptible_sleep(wait_ms);
	}
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	ex->elapsed_ms = INSTR_TIME_GET_MILLISEC(elapsed);
	pfree(url.data);

	if (ex->http.failure != VELT_TRANSPORT_OK)
	{
		ex->kind = VELT_ANSWER_TRANSPORT;
		return;
	}

	velt_envelope_parse(ex->http.body, ex->http.body_len, &ex->envelope);
	velt_jsonc_owned(ex->envelope.root);

	/* an error status is an error answer, whatever its body holds */
	if (ex->http.status < 200 || ex->http.status > 299 ||
		ex->envelope.kind == VELT_ENVELOPE_ERROR)
		ex->kind = VELT_ANSWER_ERROR;
	else if (ex->envelope.kind == VELT_ENVELOPE_RESULT)
		ex->kind = VELT_ANSWER_OK;
	else
		ex->kind = VELT_ANSWER_INVALID;
}

/* The start of an answer, safe to print: printable ASCII only. */
static char *
quote_answer(const VeltHttpResponse *http)
{
	size_t		n = Min(http->body_len, VELT_QUOTE_BYTES);
	char	   *quoted = palloc(n + sizeof("..."));
	size_t		i;

	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) http->body[i];

		quoted[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
	}
	strlcpy(quoted + n, http->body_len > n ? "..." : "", sizeof("..."));
	return quoted;
}

static char *
exchange_summary(const VeltExchange *ex, int batch, int nbatches)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "Endpoint: POST %s; HTTP status: ", ex->path);
	if (ex->kind == VELT_ANSWER_TRANSPORT)
		appendStringInfoString(&s, "none");
	else
		appendStringInfo(&s, "%ld", ex->http.status);
	if (ex->kind == VELT_ANSWER_ERROR && ex->envelope.error_status)
		appendStringInfo(&s, "; Velt status: %s", ex->envelope.error_status);
	appendStringInfo(&s, "; %d attempt%s in %.0f ms", ex->attempts,
					 ex->attempts == 1 ? "" : "s", ex->elapsed_ms);
	if (nbatches > 1)
		appendStringInfo(&s, "; request %d of %d", batch, nbatches);
	if (ex->kind == VELT_ANSWER_TRANSPORT)
		appendStringInfo(&s, "; libcurl: %s", ex->http.libcurl_error);
	if (ex->kind == VELT_ANSWER_INVALID ||
		(ex->kind == VELT_ANSWER_ERROR && ex->envelope.kind != VELT_ENVELOPE_ERROR))
		appendStringInfo(&s, "; answer begins: %s", quote_answer(&ex->http));
	appendStringInfoChar(&s, '.');
	return s.data;
}

static char *
exchange_hint(const VeltExchange *ex, int batch)
{
	StringInfoData s;
	long		status = ex->http.status;
	const char *velt_status = ex->envelope.error_status;

	initStringInfo(&s);
	if (ex->retry_after_too_long)
		appendStringInfo(&s, "Velt asked to retry after %ld s, longer than velt.retry_max_delay_ms. ",
						 ex->http.retry_after_s);
	else if (ex->kind == VELT_ANSWER_TRANSPORT)
	{
		if (ex->http.failure == VELT_TRANSPORT_TLS)
			appendStringInfoString(&s, "Check Velt's TLS certificate, or point velt.ca_file at the CA that signed it. ");
		else if (ex->http.failure == VELT_TRANSPORT_SETUP)
			appendStringInfoString(&s, "Check velt.base_url. ");
		else if (ex->http.failure == VELT_TRANSPORT_TOO_LARGE)
			appendStringInfoString(&s, "Velt's answers are far smaller; check that velt.base_url points at Velt. ");
		else if (ex->http.failure == VELT_TRANSPORT_TIMEOUT)
			appendStringInfoString(&s, "Raise velt.timeout_ms or velt.connect_timeout_ms if Velt is slow. ");
		else
			appendStringInfoString(&s, "Check velt.base_url and the network path to Velt. ");
	}
	else if (status == 401 || status == 403 ||
			 (velt_status && (strcmp(velt_status, "PERMISSION_DENIED") == 0 ||
							  strcmp(velt_status, "UNAUTHENTICATED") == 0)))
		appendStringInfoString(&s, "Check velt.api_key and velt.auth_token. ");
	else if (status == 429)
		appendStringInfoString(&s, "Velt is limiting the request rate; raise velt.max_retries or send fewer, larger requests. ");
	else if (status >= 500)
		appendStringInfoString(&s, "Velt may be unavailable; user, group and organization calls can be repeated safely once it answers. ");

	if (batch > 1)
	{
		if (batch == 2)
			appendStringInfoString(&s, "The first request of this call succeeded and is not undone.");
		else
			appendStringInfo(&s, "The first %d requests of this call succeeded and are not undone.",
							 batch - 1);
	}
	while (s.len > 0 && s.data[s.len - 1] == ' ')
		s.data[--s.len] = '\0';
	if (s.len == 0)
		return NULL;
	return s.data;
}

void
velt_raise_exchange_error(const VeltExchange *ex, int batch, int nbatches)
{
	char	   *detail = exchange_summary(ex, batch, nbatches);
	char	   *hint = exchange_hint(ex, batch);

	switch (ex->kind)
	{
		case VELT_ANSWER_TRANSPORT:
			ereport(ERROR,
					(errcode(velt_sqlstate_for_transport(ex->http.failure)),
					 errmsg("could not get an answer from Velt: %s", ex->http.reason),
					 errdetail_internal("%s", detail),
					 hint ? errhint("%s", hint) : 0));
			break;
		case VELT_ANSWER_ERROR:
			if (ex->envelope.kind == VELT_ENVELOPE_ERROR)
				ereport(ERROR,
						(errcode(velt_sqlstate_for_answer(ex->envelope.error_status,
														  ex->http.status)),
						 errmsg("Velt rejected the request with %s (HTTP %ld): %s",
								ex->envelope.error_status ? ex->envelope.error_status : "no status",
								ex->http.status,
								ex->envelope.message ? ex->envelope.message : "no message"),
						 errdetail_internal("%s", detail),
						 hint ? errhint("%s", hint) : 0));
			else
				ereport(ERROR,
						(errcode(velt_sqlstate_for_answer(NULL, ex->http.status)),
						 errmsg("Velt answered HTTP %ld without a Velt error description",
								ex->http.status),
						 errdetail_internal("%s", detail),
						 hint ? errhint("%s", hint) : 0));
			break;
		case VELT_ANSWER_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("Velt's answer is not a Velt envelope: %s",
							ex->envelope.invalid_reason),
					 errdetail_internal("%s", detail),
					 hint ? errhint("%s", hint) : 0));
			break;
		case VELT_ANSWER_MALFORMED:
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("Velt's answer is not shaped as documented: %s",
							ex->malformed_reason),
					 errdetail_internal("%s", detail),
					 hint ? errhint("%s", hint) : 0));
			break;
		case VELT_ANSWER_OK:
			break;
	}
	elog(ERROR, "velt_raise_exchange_error called for a successful exchange");
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
