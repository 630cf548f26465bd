/*-------------------------------------------------------------------------
 *
 * exchange.h
 *		One request to Velt and its retries; what a failed one means and
 *		how it is told.
 *
 * An exchange is one request body sent to one endpoint, retried at once
 * while the failure is worth it, and everything learned from its last
 * attempt.  This is the one place that decides which failures are worth
 * another attempt (now, within a call; or later, from the outbox), how long
 * to wait before one, and how a failed exchange is put into words (the
 * ERROR of a synchronous call, the short text the outbox keeps).
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_EXCHANGE_H
#define VELT_EXCHANGE_H

#include "postgres.h"

#include "pg_compat.h"

#include "portability/instr_time.h"

#include "envelope.h"
#include "http.h"
#include "stats.h"

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
	bool		rate_limited;	/* stopped: no token of the cluster's rate
								 * limit within velt.timeout_ms */
	VeltHttpResponse http;		/* the last attempt */
	instr_time	started;		/* when velt_exchange_prepare ran */
	instr_time	attempt_started;	/* when the last attempt was sent */
	size_t		body_len;		/* bytes of the request body */
	int			stats_endpoint; /* its row of velt_stats (stats.h) */
	VeltStatsCaller stats_caller;	/* VELT_STATS_CALL unless the owner
									 * says otherwise (the drain) */
	VeltEnvelope envelope;		/* root owned by CurrentMemoryContext */
	char		malformed_reason[200];	/* for VELT_ANSWER_MALFORMED */
} VeltExchange;

/*
 * When a failed exchange would be tried again: at once, within the call
 * that sent it (velt_exchange, after velt.max_retries), or later, from the
 * outbox, minutes or hours on (the drain, up to velt.max_attempts).
 */
typedef enum VeltRetryWhen
{
	VELT_RETRY_NOW,
	VELT_RETRY_LATER
} VeltRetryWhen;

/* First retry waits about this long; each further one doubles it. */
#define VELT_RETRY_BASE_MS 100.0		/* VELT_RETRY_NOW */
#define VELT_OUTBOX_RETRY_BASE_MS 1000.0	/* VELT_RETRY_LATER */

/*
 * Whether a failed exchange is worth another attempt.  Now: only what
 * passes in moments (429, 502, 503, 504, a connection that failed, broke
 * or timed out); this reads ex->http alone, so velt_exchange asks before
 * reading the answer.  Later: that, and what a changed setting or Velt's
 * recovery may cure (any 5xx, 401 and 403 while credentials are rotated,
 * TLS, URL and size trouble, an answer that is not a usable envelope, and
 * a 2xx error envelope saying UNAVAILABLE, RESOURCE_EXHAUSTED or INTERNAL).
 */
extern bool velt_worth_retrying(const VeltExchange *ex, VeltRetryWhen when);

/*
 * The wait before attempt + 1: exponential backoff with jitter (the base
 * doubled per attempt, capped, drawn from the upper half, never shorter
 * than a Retry-After in seconds, -1 if none), with the base and cap of a
 * retry now (VELT_RETRY_BASE_MS, velt.retry_max_delay_ms) or later
 * (VELT_OUTBOX_RETRY_BASE_MS, velt.outbox_retry_max_delay_ms).
 */
extern long velt_retry_delay_ms(VeltRetryWhen when, int attempt,
								long retry_after_s);

/*
 * Sends body to the endpoint path under the configured base URL and API
 * version, retrying what is worth retrying now.  Raises no error for a
 * failed exchange: ex->kind says what happened.
 */
extern void velt_exchange(const char *endpoint_path, const char *body,
						  size_t body_len, int max_retries, VeltExchange *ex);

/*
 * The steps of velt_exchange, for a caller that keeps several exchanges in
 * flight (api.c).  velt_exchange_prepare sets up ex and the request (its
 * URL palloc'd; body must outlive the exchange).  The caller calls
 * velt_exchange_attempt_begins as it sends each attempt, and fills ex->http
 * with its answer; then velt_exchange_after_attempt counts the attempt in
 * velt_stats and applies the one retry policy: it returns false with the
 * wait before the next attempt, or true once ex is finished (answer read,
 * ex->kind set).
 * velt_exchange_rate_limited finishes ex as not sent: no token of the
 * cluster's rate limit came within velt.timeout_ms.
 */
extern void velt_exchange_prepare(VeltExchange *ex, VeltHttpRequest *req,
								  const char *endpoint_path, const char *body,
								  size_t body_len);
extern void velt_exchange_attempt_begins(VeltExchange *ex);
extern bool velt_exchange_after_attempt(VeltExchange *ex, int max_retries,
										long *delay_ms);
extern void velt_exchange_rate_limited(VeltExchange *ex);

/*
 * Raises the ERROR that describes a failed exchange: a message per kind,
 * the DETAIL summing the exchange up (request batch of nbatches of a
 * call) and a HINT on what to check.
 */
velt_noreturn extern void velt_raise_exchange_error(const VeltExchange *ex,
													int batch, int nbatches);

/*
 * The same, with the HINT's account of the call's other requests in
 * succeeded ("Requests 1 to 3 and 5 of this call succeeded and are not
 * undone.") instead of "the first batch - 1 requests succeeded"; NULL
 * keeps that.
 */
velt_noreturn extern void velt_raise_call_error(const VeltExchange *ex,
												int batch, int nbatches,
												const char *succeeded);

/*
 * The one-line text of a failed exchange, such as
 * "POST /v2/users/add: HTTP 503 UNAVAILABLE: try later"; the outbox keeps
 * it as last_error.  Palloc'd in CurrentMemoryContext.
 */
extern char *velt_exchange_failure_text(const VeltExchange *ex);

/*
 * The same text for an answer that arrived but cannot be used as it is,
 * in the given words: "POST <path>: HTTP <status>: <reason>".
 */
extern char *velt_exchange_unusable_text(const VeltExchange *ex,
										 const char *reason);

#endif							/* VELT_EXCHANGE_H */
