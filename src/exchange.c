/*-------------------------------------------------------------------------
 *
 * exchange.c
 *		One request to Velt, its retries, and what a failed one says.
 *
 * A request is retried at once after 429 (waiting at least its
 * Retry-After), 502, 503, 504 and transport failures, with exponential
 * backoff and jitter capped at velt.retry_max_delay_ms; other answers are
 * final for the call.  The outbox tries a wider set again later (see
 * velt_worth_retrying); both rules, and both backoffs, live here.
 *
 * A failed exchange is told in two forms, both built here from the same
 * facts: the ERROR a synchronous call raises (message per kind of
 * failure, a DETAIL summing the exchange up, a HINT), and the one-line
 * text the outbox keeps in last_error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/wait_event.h"

#include "errors.h"
#include "exchange.h"
#include "ratelimit.h"
#include "jsonc_pg.h"
#include "secrets.h"
#include "settings.h"

/* How much of an unexpected answer an error message quotes. */
#define VELT_QUOTE_BYTES 200

/* ---------------------------------------------------------------------
 * Retry policy
 * ---------------------------------------------------------------------
 */

/* Whether the last attempt failed in a way that passes in moments. */
static bool
transient_failure(const VeltHttpResponse *http)
{
	switch (http->failure)
	{
		case VELT_TRANSPORT_OK:
			return http->status == 429 || http->status == 502 ||
				http->status == 503 || http->status == 504;
		case VELT_TRANSPORT_CONNECT:
		case VELT_TRANSPORT_TIMEOUT:
		case VELT_TRANSPORT_BROKEN:
			return true;
		case VELT_TRANSPORT_TLS:
		case VELT_TRANSPORT_SETUP:
		case VELT_TRANSPORT_TOO_LARGE:
			break;
	}
	return false;
}

/* Whether a 2xx error envelope names a status that passes with time. */
static bool
transient_velt_status(const VeltExchange *ex)
{
	const char *status = ex->envelope.error_status;

	return ex->http.status >= 200 && ex->http.status < 300 && status != NULL &&
		(strcmp(status, "UNAVAILABLE") == 0 ||
		 strcmp(status, "RESOURCE_EXHAUSTED") == 0 ||
		 strcmp(status, "INTERNAL") == 0);
}

bool
velt_worth_retrying(const VeltExchange *ex, VeltRetryWhen when)
{
	if (transient_failure(&ex->http))
		return true;
	if (when == VELT_RETRY_NOW)
		return false;
	switch (ex->kind)
	{
		case VELT_ANSWER_TRANSPORT:
			/* even TLS and URL trouble: a fixed setting lets it through */
			return true;
		case VELT_ANSWER_ERROR:
			/* 401/403: credentials being rotated must not reject the queue */
			return ex->http.status >= 500 ||
				ex->http.status == 401 || ex->http.status == 403 ||
				transient_velt_status(ex);
		case VELT_ANSWER_INVALID:
		case VELT_ANSWER_MALFORMED:
			/* a proxy's page or a broken answer: likely to pass */
			return true;
		case VELT_ANSWER_OK:
			break;
	}
	return false;
}

/* The backoff formula of velt_retry_delay_ms, for any base and cap. */
static long
backoff_ms(int attempt, double base_ms, int cap_ms, long retry_after_s)
{
	double		delay = base_ms * (double) (1L << Min(Max(attempt - 1, 0), 30));

	delay = Min(delay, (double) cap_ms);
	/* jitter: somewhere in the upper half, so callers do not move in step */
	delay = delay / 2 + pg_prng_double(&pg_global_prng_state) * delay / 2;
	if (retry_after_s >= 0)
		delay = Max(delay, retry_after_s * 1000.0);
	return (long) delay;
}

long
velt_retry_delay_ms(VeltRetryWhen when, int attempt, long retry_after_s)
{
	if (when == VELT_RETRY_NOW)
		return backoff_ms(attempt, VELT_RETRY_BASE_MS,
							   velt_retry_max_delay_ms, retry_after_s);
	return backoff_ms(attempt, VELT_OUTBOX_RETRY_BASE_MS,
						   velt_outbox_retry_max_delay_ms, retry_after_s);
}

/* ---------------------------------------------------------------------
 * The exchange
 * ---------------------------------------------------------------------
 */

/* Sleeps ms milliseconds, answering interrupts (a cancel ends it). */
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

/*
 * Sets ex->path ("/v2/users/add") for the endpoint path and returns the
 * full URL under velt.base_url, palloc'd.
 */
static char *
exchange_url(const char *endpoint_path, VeltExchange *ex)
{
	StringInfoData url;
	size_t		base_len = strlen(velt_base_url);

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
	return url.data;
}

/*
 * Records an attempt that never went out: the cluster's rate limit had no
 * token for it within velt.timeout_ms.  It fails as a timeout (class 08,
 * retried later by the outbox), and is not retried at once.
 */
static void
rate_limit_timeout(VeltExchange *ex)
{
	memset(&ex->http, 0, sizeof(ex->http));
	ex->http.failure = VELT_TRANSPORT_TIMEOUT;
	ex->http.retry_after_s = -1;
	ex->http.body = "";
	strlcpy(ex->http.reason,
			"timed out waiting for the cluster's request rate limit",
			sizeof(ex->http.reason));
	ex->rate_limited = true;	/* libcurl_error stays empty: nothing was sent */
}

/* Reads the last attempt's answer into ex->envelope and sets ex->kind. */
static void
read_answer(VeltExchange *ex)
{
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

void
velt_exchange_prepare(VeltExchange *ex, VeltHttpRequest *req,
					  const char *endpoint_path, const char *body, size_t body_len)
{
	memset(ex, 0, sizeof(*ex));
	memset(req, 0, sizeof(*req));
	req->url = exchange_url(endpoint_path, ex);
	req->body = body;
	req->body_len = body_len;
	ex->body_len = body_len;
	ex->stats_endpoint = velt_stats_endpoint_of_path(endpoint_path);
	velt_credentials(&req->api_key, &req->auth_token);
	req->timeout_ms = velt_timeout_ms;
	req->connect_timeout_ms = velt_connect_timeout_ms;
	req->ca_file = velt_ca_file;
	INSTR_TIME_SET_CURRENT(ex->started);
}

/* Marks ex finished: its elapsed time, its answer read, ex->kind set. */
static void
finish(VeltExchange *ex)
{
	instr_time	elapsed;

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, ex->started);
	ex->elapsed_ms = INSTR_TIME_GET_MILLISEC(elapsed);
	read_answer(ex);
}

void
velt_exchange_attempt_begins(VeltExchange *ex)
{
	ex->attempts++;
	INSTR_TIME_SET_CURRENT(ex->attempt_started);
}

/*
 * How the last attempt ended, for velt_stats: by its HTTP status, and once
 * ex is finished by whether its 2xx answer was a usable envelope.
 */
static VeltStatsOutcome
attempt_outcome(const VeltExchange *ex, bool finished)
{
	long		status = ex->http.status;

	if (ex->http.failure != VELT_TRANSPORT_OK)
		return VELT_STATS_TRANSPORT;
	if (status == 429)
		return VELT_STATS_RATE_LIMITED;
	if (status >= 500 && status <= 599)
		return VELT_STATS_SERVER_ERROR;
	if (status >= 400 && status <= 499)
		return VELT_STATS_CLIENT_ERROR;
	if (status < 200 || status > 299)
		return VELT_STATS_MALFORMED;
	if (finished && ex->kind == VELT_ANSWER_INVALID)
		return VELT_STATS_MALFORMED;
	if (finished && ex->kind == VELT_ANSWER_ERROR)
		return VELT_STATS_CLIENT_ERROR; /* an error envelope under 2xx */
	return VELT_STATS_ANSWERED;
}

/* Counts the attempt that just ended in velt_stats. */
static void
count_attempt(const VeltExchange *ex, bool finished)
{
	instr_time	elapsed;

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, ex->attempt_started);
	velt_stats_count_attempt(ex->stats_endpoint, ex->stats_caller,
							 attempt_outcome(ex, finished), ex->attempts > 1,
							 ex->body_len, ex->http.body_len,
							 INSTR_TIME_GET_MILLISEC(elapsed));
}

bool
velt_exchange_after_attempt(VeltExchange *ex, int max_retries, long *delay_ms)
{
	if (ex->http.status == 429)
		velt_ratelimit_pause(ex->http.retry_after_s);
	if (velt_worth_retrying(ex, VELT_RETRY_NOW) && ex->attempts <= max_retries)
	{
		if (ex->http.retry_after_s < 0 ||
			(double) ex->http.retry_after_s * 1000.0 <= velt_retry_max_delay_ms)
		{
			*delay_ms = velt_retry_delay_ms(VELT_RETRY_NOW, ex->attempts,
											ex->http.retry_after_s);
			count_attempt(ex, false);
			return false;
		}
		ex->retry_after_too_long = true;
	}
	finish(ex);
	count_attempt(ex, true);
	return true;
}

void
velt_exchange_rate_limited(VeltExchange *ex)
{
	rate_limit_timeout(ex);
	finish(ex);
}

void
velt_exchange(const char *endpoint_path, const char *body, size_t body_len,
			  int max_retries, VeltExchange *ex)
{
	VeltHttpRequest req;
	long		delay_ms;

	velt_exchange_prepare(ex, &req, endpoint_path, body, body_len);
	for (;;)
	{
		if (!velt_ratelimit_acquire(velt_timeout_ms))
		{
			velt_exchange_rate_limited(ex);
			break;
		}
		velt_exchange_attempt_begins(ex);
		velt_http_post(&req, &ex->http);
		if (velt_exchange_after_attempt(ex, max_retries, &delay_ms))
			break;
		interruptible_sleep(delay_ms);
	}
	pfree((char *) req.url);
}

/* ---------------------------------------------------------------------
 * Telling a failed exchange
 * ---------------------------------------------------------------------
 */

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

/* Whether the answer carried no Velt error description to quote. */
static bool
answer_undescribed(const VeltExchange *ex)
{
	return ex->kind == VELT_ANSWER_INVALID ||
		(ex->kind == VELT_ANSWER_ERROR && ex->envelope.kind != VELT_ENVELOPE_ERROR);
}

/* The ERROR's DETAIL: endpoint, statuses, attempts, time, libcurl's words. */
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
	if (ex->kind == VELT_ANSWER_TRANSPORT && ex->http.libcurl_error[0] != '\0')
		appendStringInfo(&s, "; libcurl: %s", ex->http.libcurl_error);
	if (answer_undescribed(ex))
		appendStringInfo(&s, "; answer begins: %s", quote_answer(&ex->http));
	appendStringInfoChar(&s, '.');
	return s.data;
}

/* The HINT's advice for a failure without an HTTP answer. */
static const char *
transport_hint(VeltTransportFailure failure)
{
	switch (failure)
	{
		case VELT_TRANSPORT_TLS:
			return "Check Velt's TLS certificate, or point velt.ca_file at the CA that signed it. ";
		case VELT_TRANSPORT_SETUP:
			return "Check velt.base_url. ";
		case VELT_TRANSPORT_TOO_LARGE:
			return "Velt's answers are far smaller; check that velt.base_url points at Velt. ";
		case VELT_TRANSPORT_TIMEOUT:
			return "Raise velt.timeout_ms or velt.connect_timeout_ms if Velt is slow. ";
		case VELT_TRANSPORT_OK:
		case VELT_TRANSPORT_CONNECT:
		case VELT_TRANSPORT_BROKEN:
			break;
	}
	return "Check velt.base_url and the network path to Velt. ";
}

/* The HINT's advice for an answer, or "" when there is none. */
static const char *
answer_hint(const VeltExchange *ex)
{
	long		status = ex->http.status;
	const char *velt_status = ex->envelope.error_status;

	if (status == 401 || status == 403 ||
		(velt_status && (strcmp(velt_status, "PERMISSION_DENIED") == 0 ||
						 strcmp(velt_status, "UNAUTHENTICATED") == 0)))
		return "Check velt.api_key and velt.auth_token. ";
	if (status == 429)
		return "Velt is limiting the request rate; raise velt.max_retries or send fewer, larger requests. ";
	if (status >= 500)
		return "Velt may be unavailable; user, group and organization calls can be repeated safely once it answers. ";
	return "";
}

/* The ERROR's HINT: what to check, and what earlier requests did; or NULL. */
static char *
exchange_hint(const VeltExchange *ex, int batch, const char *succeeded)
{
	StringInfoData s;

	initStringInfo(&s);
	if (ex->retry_after_too_long)
		appendStringInfo(&s, "Velt asked to retry after %ld s, longer than velt.retry_max_delay_ms. ",
						 ex->http.retry_after_s);
	else if (ex->rate_limited)
		appendStringInfoString(&s, "velt.max_requests_per_second limits the requests of the whole cluster; raise it, or velt.timeout_ms to wait longer. ");
	else if (ex->kind == VELT_ANSWER_TRANSPORT)
		appendStringInfoString(&s, transport_hint(ex->http.failure));
	else
		appendStringInfoString(&s, answer_hint(ex));

	if (succeeded != NULL)
		appendStringInfoString(&s, succeeded);
	else if (batch > 1)
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
	velt_raise_call_error(ex, batch, nbatches, NULL);
}

void
velt_raise_call_error(const VeltExchange *ex, int batch, int nbatches,
					  const char *succeeded)
{
	char	   *detail = exchange_summary(ex, batch, nbatches);
	char	   *hint = exchange_hint(ex, batch, succeeded);

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

char *
velt_exchange_unusable_text(const VeltExchange *ex, const char *reason)
{
	return psprintf("POST %s: HTTP %ld: %s", ex->path, ex->http.status, reason);
}

char *
velt_exchange_failure_text(const VeltExchange *ex)
{
	switch (ex->kind)
	{
		case VELT_ANSWER_TRANSPORT:
			if (ex->http.libcurl_error[0] == '\0')
				return psprintf("POST %s: no answer: %s", ex->path, ex->http.reason);
			return psprintf("POST %s: no answer: %s (libcurl: %s)", ex->path,
							ex->http.reason, ex->http.libcurl_error);
		case VELT_ANSWER_ERROR:
			return psprintf("POST %s: HTTP %ld %s: %s", ex->path, ex->http.status,
							ex->envelope.error_status ? ex->envelope.error_status : "",
							ex->envelope.message ? ex->envelope.message : "no Velt error description");
		case VELT_ANSWER_INVALID:
			return velt_exchange_unusable_text(ex, psprintf("not a Velt envelope: %s",
															ex->envelope.invalid_reason));
		case VELT_ANSWER_MALFORMED:
			return velt_exchange_unusable_text(ex, ex->malformed_reason);
		case VELT_ANSWER_OK:
			break;
	}
	return pstrdup("no failure");
}
