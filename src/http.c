/*-------------------------------------------------------------------------
 *
 * http.c
 *		libcurl transport, independent of SQL so any caller can share it.
 *
 * One easy handle and one multi handle live for the whole backend and are
 * reused for every request (curl_easy_reset between requests), so the
 * connection cache survives and keep-alive connections are reused.
 *
 * The transfer is driven through the multi interface in short polls so that
 * the backend checks for interrupts at least every VELT_POLL_MS: a cancel,
 * statement_timeout or a shutdown request stops an in-flight request
 * promptly.  No PostgreSQL error is ever raised inside a libcurl callback
 * (that would longjmp through libcurl); the callbacks only record state.
 *
 * Nothing allocated per request outlives it: the header list is cached per
 * backend and rebuilt only when the credentials change, and the response
 * buffer is a per-backend malloc'd buffer, so an ERROR leaves nothing to
 * free except the handle's membership in the multi stack, which PG_FINALLY
 * undoes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "storage/pmsignal.h"
#include "utils/timestamp.h"

#include "http.h"

/* The extension's version comes from velt.control, through the Makefile. */
#ifndef VELT_VERSION
#error "VELT_VERSION is not defined; build with the project's Makefile"
#endif
#define VELT_USER_AGENT "velt-postgres/" VELT_VERSION

/* Longest wait between interrupt checks while a request is in flight. */
#define VELT_POLL_MS 10

/* Longest Retry-After taken at its word (a day); more is treated as a day. */
#define VELT_MAX_RETRY_AFTER_S ((curl_off_t) 24 * 3600)

/* Largest answer accepted; Velt's per-ID answers are far smaller. */
#define VELT_MAX_RESPONSE_MB 64
#define VELT_MAX_RESPONSE_BYTES ((size_t) VELT_MAX_RESPONSE_MB * 1024 * 1024)

/* A buffer grown past this is released after use to keep the backend small. */
#define VELT_KEEP_BUFFER_BYTES ((size_t) 1024 * 1024)

typedef struct ResponseBuffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		too_large;
	bool		out_of_memory;
} ResponseBuffer;

/*
 * One transfer slot: an easy handle (reused, so its connection stays in the
 * multi handle's cache), the buffer its answer goes into and the buffer
 * libcurl writes its error text into.  A call keeps up to
 * velt.max_concurrency slots busy; a single request uses slot 0.
 */
typedef struct HttpSlot
{
	CURL	   *easy;
	ResponseBuffer response;
	char		errbuf[CURL_ERROR_SIZE];	/* libcurl keeps a pointer to it */
	long		connect_timeout_ms; /* of the request in flight */
	bool		running;		/* added to the multi handle */
} HttpSlot;

static CURLM *multi_handle = NULL;
static HttpSlot slots[VELT_HTTP_MAX_SLOTS];
static struct curl_slist *header_list = NULL;
static char *header_key = NULL;
static char *header_token = NULL;

/* Creates the backend's multi handle, and slot i's easy handle, on first use. */
static void
ensure_handles(int i)
{
	if (multi_handle == NULL)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not initialize libcurl")));
		multi_handle = curl_multi_init();
		if (multi_handle == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
		/* keep a connection for every slot; HTTP/2 multiplexes (the default) */
		curl_multi_setopt(multi_handle, CURLMOPT_MAXCONNECTS, (long) VELT_HTTP_MAX_SLOTS);
	}
	if (slots[i].easy == NULL && (slots[i].easy = curl_easy_init()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
}

/* Frees the cached headers, wiping the secrets in them first. */
static void
free_header_list(void)
{
	struct curl_slist *line;

	for (line = header_list; line; line = line->next)
		explicit_bzero(line->data, strlen(line->data));
	if (header_key)
		explicit_bzero(header_key, strlen(header_key));
	if (header_token)
		explicit_bzero(header_token, strlen(header_token));
	curl_slist_free_all(header_list);
	header_list = NULL;
	free(header_key);
	free(header_token);
	header_key = NULL;
	header_token = NULL;
}

/*
 * Appends one header to a new list; on failure frees what was built so far
 * and returns NULL.
 */
static struct curl_slist *
append_header(struct curl_slist *list, const char *name, const char *value)
{
	struct curl_slist *grown;
	char	   *line;
	size_t		size = strlen(name) + strlen(value) + 3;

	line = malloc(size);
	if (line == NULL)
	{
		curl_slist_free_all(list);
		return NULL;
	}
	snprintf(line, size, "%s: %s", name, value);
	grown = curl_slist_append(list, line);
	/* curl_slist_append copies the string; wipe our copy of the secret */
	explicit_bzero(line, size);
	free(line);
	if (grown == NULL)
		curl_slist_free_all(list);
	return grown;
}

/*
 * Returns the header list for these credentials, building it only when they
 * differ from the cached ones.
 */
static struct curl_slist *
headers_for(const char *api_key, const char *auth_token)
{
	struct curl_slist *list;

	if (header_list != NULL &&
		strcmp(header_key, api_key) == 0 &&
		strcmp(header_token, auth_token) == 0)
		return header_list;

	free_header_list();

	list = curl_slist_append(NULL, "Content-Type: application/json");
	if (list)
		list = curl_slist_append(list, "Accept: application/json");
	if (list)
		list = curl_slist_append(list, "Expect:");	/* no 100-continue round trip */
	if (list)
		list = append_header(list, "x-velt-api-key", api_key);
	if (list)
		list = append_header(list, "x-velt-auth-token", auth_token);
	header_key = strdup(api_key);
	header_token = strdup(auth_token);
	if (list == NULL || header_key == NULL || header_token == NULL)
	{
		curl_slist_free_all(list);
		header_list = NULL;
		free_header_list();
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building the request headers")));
	}
	header_list = list;
	return header_list;
}

/* libcurl write callback: must not raise errors, only record them. */
static size_t
collect_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	ResponseBuffer *buf = (ResponseBuffer *) userdata;
	size_t		n = size * nmemb;

	if (buf->len + n + 1 > VELT_MAX_RESPONSE_BYTES)
	{
		buf->too_large = true;
		return 0;
	}
	if (buf->len + n + 1 > buf->cap)
	{
		size_t		newcap = buf->cap ? buf->cap : 16384;
		char	   *grown;

		while (newcap < buf->len + n + 1)
			newcap *= 2;
		grown = realloc(buf->data, newcap);
		if (grown == NULL)
		{
			buf->out_of_memory = true;
			return 0;
		}
		buf->data = grown;
		buf->cap = newcap;
	}
	memcpy(buf->data + buf->len, ptr, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return n;
}

/* Empties a response buffer, releasing it if a large answer grew it. */
static void
reset_response_buffer(ResponseBuffer *response)
{
	if (response->cap > VELT_KEEP_BUFFER_BYTES)
	{
		free(response->data);
		response->data = NULL;
		response->cap = 0;
	}
	response->len = 0;
	response->too_large = false;
	response->out_of_memory = false;
	if (response->data)
		response->data[0] = '\0';
}

/*
 * What a failed transfer was, in velt's own words.  libcurl's error text
 * changes between its versions ("Couldn't connect" became "Could not
 * connect", "transfer closed with 40 bytes remaining to read" became "end
 * of response with 40 bytes missing"); messages lead with these words,
 * which do not, and carry libcurl's text only as a detail.
 */
typedef struct FailureClass
{
	VeltTransportFailure failure;
	const char *reason;
} FailureClass;

/* Classifies a CURLcode; connected says whether a connection was made. */
static FailureClass
classify(CURLcode code, bool connected)
{
	switch (code)
	{
		case CURLE_OK:
			return (FailureClass) {VELT_TRANSPORT_OK, ""};
		case CURLE_COULDNT_RESOLVE_HOST:
			return (FailureClass) {VELT_TRANSPORT_CONNECT, "could not resolve Velt's host name"};
		case CURLE_COULDNT_RESOLVE_PROXY:
			return (FailureClass) {VELT_TRANSPORT_CONNECT, "could not resolve the proxy's host name"};
		case CURLE_COULDNT_CONNECT:
			return (FailureClass) {VELT_TRANSPORT_CONNECT, "could not connect"};
		case CURLE_OPERATION_TIMEDOUT:
			if (!connected)
				return (FailureClass) {VELT_TRANSPORT_TIMEOUT, "timed out before a connection was made"};
			return (FailureClass) {VELT_TRANSPORT_TIMEOUT, "timed out waiting for the answer"};
		case CURLE_PARTIAL_FILE:
			return (FailureClass) {VELT_TRANSPORT_BROKEN, "the connection closed before the answer was complete"};
		case CURLE_GOT_NOTHING:
			return (FailureClass) {VELT_TRANSPORT_BROKEN, "the connection closed without an answer"};
		case CURLE_SEND_ERROR:
			return (FailureClass) {VELT_TRANSPORT_BROKEN, "the connection broke while sending the request"};
		case CURLE_RECV_ERROR:
			return (FailureClass) {VELT_TRANSPORT_BROKEN, "the connection broke while reading the answer"};
		case CURLE_PEER_FAILED_VERIFICATION:
			return (FailureClass) {VELT_TRANSPORT_TLS, "Velt's TLS certificate could not be verified"};
		case CURLE_SSL_CACERT_BADFILE:
			return (FailureClass) {VELT_TRANSPORT_TLS, "the CA certificates could not be read"};
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_SSL_CRL_BADFILE:
		case CURLE_SSL_ENGINE_NOTFOUND:
		case CURLE_SSL_ENGINE_SETFAILED:
			return (FailureClass) {VELT_TRANSPORT_TLS, "the TLS handshake failed"};
		case CURLE_UNSUPPORTED_PROTOCOL:
			return (FailureClass) {VELT_TRANSPORT_SETUP, "velt.base_url's scheme is neither http nor https"};
		case CURLE_URL_MALFORMAT:
			return (FailureClass) {VELT_TRANSPORT_SETUP, "velt.base_url is not a valid URL"};
		default:
			return (FailureClass) {VELT_TRANSPORT_BROKEN, "the exchange failed"};
	}
}

/* Sets up slot's reused easy handle for one request. */
static void
set_options(HttpSlot *slot, const VeltHttpRequest *req)
{
	CURL	   *h = slot->easy;
	bool		ok = true;

	curl_easy_reset(h);
	ok &= curl_easy_setopt(h, CURLOPT_URL, req->url) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers_for(req->api_key, req->auth_token)) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_USERAGENT, VELT_USER_AGENT) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_WRITEDATA, &slot->response) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, slot->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(h, CURLOPT_PRIVATE, (void *) slot) == CURLE_OK;
	/* over HTTP/2, wait for a multiplexed stream rather than open a connection */
	ok &= curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L) == CURLE_OK;
	if (req->ca_file && req->ca_file[0] != '\0')
		ok &= curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file) == CURLE_OK;

	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not configure the libcurl handle")));
}

/* Fills resp's failure, reason and libcurl_error for slot's failed transfer. */
static void
record_failure(HttpSlot *slot, CURLcode result, VeltHttpResponse *resp)
{
	curl_off_t	connect_time = 0;
	curl_off_t	total_time = 0;
	long		request_size = 0;
	FailureClass class;

	curl_easy_getinfo(slot->easy, CURLINFO_CONNECT_TIME_T, &connect_time);
	curl_easy_getinfo(slot->easy, CURLINFO_TOTAL_TIME_T, &total_time);
	/* a reused connection has no connect time, but its request was sent */
	curl_easy_getinfo(slot->easy, CURLINFO_REQUEST_SIZE, &request_size);
	/* some libcurl versions report a connect timeout as a failed connect */
	if (result == CURLE_COULDNT_CONNECT && total_time / 1000 >= slot->connect_timeout_ms)
		result = CURLE_OPERATION_TIMEDOUT;
	class = classify(result, connect_time > 0 || request_size > 0);
	resp->failure = class.failure;
	strlcpy(resp->reason, class.reason, sizeof(resp->reason));
	if (slot->errbuf[0] != '\0')
		strlcpy(resp->libcurl_error, slot->errbuf, sizeof(resp->libcurl_error));
	else
		strlcpy(resp->libcurl_error, curl_easy_strerror(result), sizeof(resp->libcurl_error));

	/* velt's own limits: these reasons are velt's, not libcurl's */
	if (slot->response.too_large)
	{
		resp->failure = VELT_TRANSPORT_TOO_LARGE;
		snprintf(resp->reason, sizeof(resp->reason),
				 "answer larger than %d MB", VELT_MAX_RESPONSE_MB);
	}
	else if (slot->response.out_of_memory)
		strlcpy(resp->reason, "out of memory reading the answer", sizeof(resp->reason));
}

/* Fills resp from slot's finished transfer. */
static void
read_response(HttpSlot *slot, CURLcode result, VeltHttpResponse *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	resp->body = "";
	if (result != CURLE_OK)
	{
		record_failure(slot, result, resp);
		return;
	}
	{
		long		status = 0;
		curl_off_t	retry_after = 0;
		struct curl_header *hdr;

		curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &status);
		resp->status = status;
		/* CURLINFO_RETRY_AFTER reads both delta-seconds and HTTP dates */
		if (curl_easy_header(slot->easy, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK &&
			curl_easy_getinfo(slot->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK)
			resp->retry_after_s = (long) Min(retry_after, VELT_MAX_RETRY_AFTER_S);
		resp->failure = VELT_TRANSPORT_OK;
		resp->body = slot->response.data ? slot->response.data : "";
		resp->body_len = slot->response.len;
	}
}

void
velt_http_start(int slot_no, const VeltHttpRequest *req)
{
	HttpSlot   *slot = &slots[slot_no];
	CURLMcode	mcode;

	Assert(slot_no >= 0 && slot_no < VELT_HTTP_MAX_SLOTS);
	ensure_handles(slot_no);
	/* a transfer left attached (its caller failed) is dropped, not reused */
	if (slot->running)
	{
		curl_multi_remove_handle(multi_handle, slot->easy);
		slot->running = false;
	}
	reset_response_buffer(&slot->response);
	slot->errbuf[0] = '\0';
	slot->connect_timeout_ms = req->connect_timeout_ms;
	set_options(slot, req);
	mcode = curl_multi_add_handle(multi_handle, slot->easy);
	if (mcode != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not start an HTTP request: %s", curl_multi_strerror(mcode))));
	slot->running = true;
}

void
velt_http_abort(void)
{
	int			i;

	for (i = 0; i < VELT_HTTP_MAX_SLOTS; i++)
	{
		if (slots[i].running)
			curl_multi_remove_handle(multi_handle, slots[i].easy);
		slots[i].running = false;
	}
}

/*
 * Hands out one finished transfer, if libcurl has one: detaches it, fills
 * resp and returns its slot; else -1.
 */
static int
take_finished(VeltHttpResponse *resp)
{
	CURLMsg    *msg;
	int			queued;

	while ((msg = curl_multi_info_read(multi_handle, &queued)) != NULL)
	{
		HttpSlot   *slot = NULL;
		CURLcode	result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		result = msg->data.result;	/* msg is gone once the handle is removed */
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &slot);
		if (slot == NULL || !slot->running)
			continue;
		curl_multi_remove_handle(multi_handle, slot->easy);
		slot->running = false;
		read_response(slot, result, resp);
		return (int) (slot - slots);
	}
	return -1;
}

/*
 * Drives every transfer in flight until one finishes (its slot) or
 * timeout_ms passes (-1), checking for interrupts between short polls.  An
 * interrupt raises its ERROR from here.
 */
static int
drive_transfers(VeltHttpResponse *resp, long timeout_ms)
{
	TimestampTz deadline = timeout_ms < 0 ? 0 :
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);

	for (;;)
	{
		int			running = 0;
		int			done;
		long		poll_ms = VELT_POLL_MS;
		CURLMcode	mcode;

		CHECK_FOR_INTERRUPTS();
		mcode = curl_multi_perform(multi_handle, &running);
		if (mcode != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not drive the HTTP requests: %s", curl_multi_strerror(mcode))));
		if ((done = take_finished(resp)) >= 0)
			return done;
		if (deadline != 0)
		{
			long		left = (long) ((deadline - GetCurrentTimestamp()) / 1000);

			if (left <= 0)
				return -1;
			poll_ms = Min(poll_ms, left);
		}
		if (running > 0)
			curl_multi_poll(multi_handle, NULL, 0, (int) poll_ms, NULL);
		else if (deadline == 0)
			return -1;			/* nothing in flight and nothing to wait for */
		else
			pg_usleep(poll_ms * 1000L);
		/* a backend orphaned by a crashed postmaster must not carry on */
		if (!PostmasterIsAlive())
			ereport(FATAL,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("terminating: the postmaster died during a Velt request")));
	}
}

int
velt_http_wait(VeltHttpResponse *resp, long timeout_ms)
{
	volatile int done = -1;

	PG_TRY();
	{
		done = drive_transfers(resp, timeout_ms);
	}
	PG_CATCH();
	{
		/* cancelled or failed: nothing may stay attached to the multi handle */
		velt_http_abort();
		PG_RE_THROW();
	}
	PG_END_TRY();
	return done;
}

void
velt_http_post(const VeltHttpRequest *req, VeltHttpResponse *resp)
{
	velt_http_start(0, req);
	for (;;)
	{
		int			done = velt_http_wait(resp, -1);

		if (done == 0)
			return;
		if (done < 0)
			elog(ERROR, "velt: the HTTP transfer in flight was lost");
	}
}
