/*-------------------------------------------------------------------------
 *
 * http.h
 *		HTTP transport: one POST to a URL with Velt's headers.
 *
 * This layer knows nothing of Velt's envelope or of SQL, so the functions and
 * a future background worker can share it.  It never raises an error for a failed
 * exchange (the caller decides whether to retry), only for interrupts and
 * out-of-memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_HTTP_H
#define VELT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define VELT_HTTP_ERROR_SIZE 256

typedef struct VeltHttpRequest
{
	const char *url;
	const char *body;
	size_t		body_len;
	const char *api_key;
	const char *auth_token;
	long		timeout_ms;
	long		connect_timeout_ms;
	const char *ca_file;		/* NULL or empty: system store */
} VeltHttpRequest;

typedef enum VeltTransportFailure
{
	VELT_TRANSPORT_OK,			/* an HTTP answer arrived */
	VELT_TRANSPORT_CONNECT,		/* nothing reached the server */
	VELT_TRANSPORT_TIMEOUT,		/* velt.timeout_ms or the connect timeout */
	VELT_TRANSPORT_BROKEN,		/* connection lost or answer unreadable */
	VELT_TRANSPORT_TLS,			/* certificate or handshake failure */
	VELT_TRANSPORT_TOO_LARGE,	/* answer larger than we accept */
	VELT_TRANSPORT_SETUP		/* bad URL or unsupported protocol */
} VeltTransportFailure;

typedef struct VeltHttpResponse
{
	VeltTransportFailure failure;
	char		reason[VELT_HTTP_ERROR_SIZE];	/* why it failed, in velt's
												 * words (stable across
												 * libcurl versions) */
	char		libcurl_error[VELT_HTTP_ERROR_SIZE];	/* libcurl's own text */
	long		status;			/* HTTP status, 0 without an answer */
	long		retry_after_s;	/* Retry-After in seconds, -1 if absent */
	const char *body;			/* NUL-terminated; valid until its slot is
								 * used again */
	size_t		body_len;
} VeltHttpResponse;

/* Most transfers one backend keeps in flight (velt.max_concurrency's top). */
#define VELT_HTTP_MAX_SLOTS 64

/*
 * Sends one request and waits for its answer (slot 0).  resp->body stays
 * valid until slot 0 is used again.
 */
extern void velt_http_post(const VeltHttpRequest *req, VeltHttpResponse *resp);

/*
 * Starts req on slot (0 to VELT_HTTP_MAX_SLOTS - 1, not in flight); req's
 * strings must stay valid until the slot's transfer is handed out.
 */
extern void velt_http_start(int slot, const VeltHttpRequest *req);

/*
 * Drives the transfers in flight until one finishes: fills resp (its body
 * valid until that slot starts again) and returns its slot; or returns -1
 * once timeout_ms (-1: no limit) passes or nothing is in flight.  Checks
 * for interrupts every few milliseconds; an ERROR (cancel, timeout)
 * detaches every transfer first.
 */
extern int	velt_http_wait(VeltHttpResponse *resp, long timeout_ms);

/* Detaches every transfer in flight (its answer is not read). */
extern void velt_http_abort(void);

#endif							/* VELT_HTTP_H */
