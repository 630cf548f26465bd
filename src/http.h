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
	const char *body;			/* NUL-terminated; valid until the next request */
	size_t		body_len;
} VeltHttpResponse;

extern void velt_http_post(const VeltHttpRequest *req, VeltHttpResponse *resp);

#endif							/* VELT_HTTP_H */
