/*-------------------------------------------------------------------------
 *
 * raw_client.c
 *		The yardstick for the benchmarks: the least a program can do to send
 *		velt's requests with libcurl.
 *
 * It POSTs request bodies read from a file (one JSON body per line, as
 * captured from velt) to one URL with the same headers velt sends, and
 * keeps each answer in memory without parsing it.  Every answer must be
 * HTTP 200.  With CONCURRENCY 1 (the default) it sends one request at a
 * time over one keep-alive connection (one easy handle, reused); with N it
 * keeps N requests in flight on a multi handle, over at most N keep-alive
 * connections (one easy handle each, reused): the yardstick for overlapped
 * requests.
 *
 *	raw_client URL BODIES_FILE REPEAT [CONCURRENCY]
 *
 * sends every line of BODIES_FILE, in order, REPEAT times over, and prints
 *
 *	requests=N wall_ms=W cpu_ms=C connections=K
 *
 * The API key and auth token come from VELT_BENCH_API_KEY and
 * VELT_BENCH_AUTH_TOKEN.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct Answer
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Answer;

static size_t
keep_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Answer	   *answer = userdata;
	size_t		n = size * nmemb;

	if (answer->len + n > answer->cap)
	{
		size_t		cap = answer->cap ? answer->cap : 16384;
		char	   *grown;

		while (cap < answer->len + n)
			cap *= 2;
		grown = realloc(answer->data, cap);
		if (grown == NULL)
			return 0;
		answer->data = grown;
		answer->cap = cap;
	}
	memcpy(answer->data + answer->len, ptr, n);
	answer->len += n;
	return n;
}

static double
now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static char *
header(const char *name, const char *env)
{
	const char *value = getenv(env);
	char	   *line;

	if (value == NULL)
	{
		fprintf(stderr, "raw_client: %s is not set\n", env);
		exit(2);
	}
	line = malloc(strlen(name) + strlen(value) + 3);
	if (line == NULL)
		exit(2);
	sprintf(line, "%s: %s", name, value);
	return line;
}

/* One transfer slot: an easy handle and the answer it is reading. */
typedef struct Slot
{
	CURL	   *h;
	Answer		answer;
	long		body;			/* index of the body in flight, -1 if idle */
} Slot;

/* Makes an easy handle that POSTs to url with headers, into answer. */
static CURL *
new_handle(const char *url, struct curl_slist *headers, Answer *answer)
{
	CURL	   *h = curl_easy_init();

	if (h == NULL)
		exit(2);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "velt-postgres/1.2");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
	return h;
}

/* Checks a finished transfer; exits on anything but HTTP 200. */
static long
finished(CURL *h, CURLcode rc, long sent)
{
	long		status = 0;
	long		opened = 0;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &opened);
	if (rc != CURLE_OK || status != 200)
	{
		fprintf(stderr, "raw_client: request %ld failed: %s, HTTP %ld\n",
				sent + 1, curl_easy_strerror(rc), status);
		exit(1);
	}
	return opened;
}

/*
 * Sends total requests (body i % nbodies for the i-th) with concurrency
 * in flight on one multi handle; returns the connections opened.
 */
static long
send_overlapped(const char *url, struct curl_slist *headers, char **bodies,
				size_t *lengths, size_t nbodies, long total, int concurrency)
{
	CURLM	   *multi = curl_multi_init();
	Slot	   *slots = calloc((size_t) concurrency, sizeof(Slot));
	long		next = 0;
	long		done = 0;
	long		connects = 0;
	int			running = 0;

	if (multi == NULL || slots == NULL)
		exit(2);
	for (int i = 0; i < concurrency; i++)
	{
		slots[i].h = new_handle(url, headers, &slots[i].answer);
		curl_easy_setopt(slots[i].h, CURLOPT_PRIVATE, &slots[i]);
		slots[i].body = -1;
	}
	while (done < total)
	{
		CURLMsg    *msg;
		int			queued;
		int			finished_now = 0;

		/* every idle slot takes the next body */
		for (int i = 0; i < concurrency && next < total; i++)
		{
			if (slots[i].body >= 0)
				continue;
			slots[i].body = next % (long) nbodies;
			slots[i].answer.len = 0;
			curl_easy_setopt(slots[i].h, CURLOPT_POSTFIELDS, bodies[slots[i].body]);
			curl_easy_setopt(slots[i].h, CURLOPT_POSTFIELDSIZE_LARGE,
							 (curl_off_t) lengths[slots[i].body]);
			curl_multi_add_handle(multi, slots[i].h);
			next++;
		}
		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &queued)) != NULL)
		{
			Slot	   *slot;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &slot);
			connects += finished(slot->h, msg->data.result, done);
			curl_multi_remove_handle(multi, slot->h);
			slot->body = -1;
			done++;
			finished_now++;
		}
		/* a slot just freed takes the next body at once */
		if (done < total && finished_now == 0)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	for (int i = 0; i < concurrency; i++)
	{
		curl_easy_cleanup(slots[i].h);
		free(slots[i].answer.data);
	}
	free(slots);
	curl_multi_cleanup(multi);
	return connects;
}

int
main(int argc, char **argv)
{
	FILE	   *file;
	char	  **bodies = NULL;
	size_t	   *lengths = NULL;
	size_t		nbodies = 0;
	char	   *line = NULL;
	size_t		linecap = 0;
	ssize_t		linelen;
	long		repeat;
	long		sent = 0;
	long		connects = 0;
	struct curl_slist *headers = NULL;
	char	   *key_header;
	char	   *token_header;
	Answer		answer = {0};
	CURL	   *h;
	double		wall_start;
	double		cpu_start;
	int			concurrency = 1;

	if ((argc != 4 && argc != 5) || (repeat = atol(argv[3])) < 1 ||
		(argc == 5 && (concurrency = atoi(argv[4])) < 1))
	{
		fprintf(stderr, "usage: raw_client URL BODIES_FILE REPEAT [CONCURRENCY]\n");
		return 2;
	}
	if ((file = fopen(argv[2], "r")) == NULL)
	{
		perror(argv[2]);
		return 2;
	}
	while ((linelen = getline(&line, &linecap, file)) > 0)
	{
		while (linelen > 0 && (line[linelen - 1] == '\n' || line[linelen - 1] == '\r'))
			line[--linelen] = '\0';
		if (linelen == 0)
			continue;
		bodies = realloc(bodies, (nbodies + 1) * sizeof(*bodies));
		lengths = realloc(lengths, (nbodies + 1) * sizeof(*lengths));
		if (bodies == NULL || lengths == NULL || (bodies[nbodies] = strdup(line)) == NULL)
			return 2;
		lengths[nbodies++] = (size_t) linelen;
	}
	fclose(file);
	free(line);
	if (nbodies == 0)
	{
		fprintf(stderr, "raw_client: %s has no bodies\n", argv[2]);
		return 2;
	}

	/* the headers velt sends, in velt's order */
	key_header = header("x-velt-api-key", "VELT_BENCH_API_KEY");
	token_header = header("x-velt-auth-token", "VELT_BENCH_AUTH_TOKEN");
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	headers = curl_slist_append(headers, "Expect:");
	headers = curl_slist_append(headers, key_header);
	headers = curl_slist_append(headers, token_header);

	curl_global_init(CURL_GLOBAL_ALL);
	if (headers == NULL)
		return 2;

	wall_start = now_ms(CLOCK_MONOTONIC);
	cpu_start = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	if (concurrency > 1)
	{
		sent = repeat * (long) nbodies;
		connects = send_overlapped(argv[1], headers, bodies, lengths, nbodies, sent, concurrency);
		h = NULL;
	}
	else
	{
		h = new_handle(argv[1], headers, &answer);
		for (long round = 0; round < repeat; round++)
		{
			for (size_t i = 0; i < nbodies; i++)
			{
				CURLcode	rc;

				answer.len = 0;
				curl_easy_setopt(h, CURLOPT_POSTFIELDS, bodies[i]);
				curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) lengths[i]);
				rc = curl_easy_perform(h);
				connects += finished(h, rc, sent);
				sent++;
			}
		}
	}
	printf("requests=%ld wall_ms=%.1f cpu_ms=%.1f connections=%ld\n", sent,
		   now_ms(CLOCK_MONOTONIC) - wall_start,
		   now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu_start, connects);

	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	free(answer.data);
	return 0;
}
