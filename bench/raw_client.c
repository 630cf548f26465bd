/*-------------------------------------------------------------------------
 *
 * raw_client.c
 *		The yardstick for the benchmarks: the least a program can do to send
 *		velt's requests with libcurl.
 *
 * It POSTs request bodies read from a file (one JSON body per line, as
 * captured from velt) to one URL with the same headers velt sends, over one
 * keep-alive connection (one easy handle, reused), and keeps each answer in
 * memory without parsing it.  Every answer must be HTTP 200.
 *
 *	raw_client URL BODIES_FILE REPEAT
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

	if (argc != 4 || (repeat = atol(argv[3])) < 1)
	{
		fprintf(stderr, "usage: raw_client URL BODIES_FILE REPEAT\n");
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
	h = curl_easy_init();
	if (h == NULL || headers == NULL)
		return 2;
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "velt-postgres/1.0");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);

	wall_start = now_ms(CLOCK_MONOTONIC);
	cpu_start = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	for (long round = 0; round < repeat; round++)
	{
		for (size_t i = 0; i < nbodies; i++)
		{
			CURLcode	rc;
			long		status = 0;
			long		opened = 0;

			answer.len = 0;
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, bodies[i]);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) lengths[i]);
			rc = curl_easy_perform(h);
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
			curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &opened);
			if (rc != CURLE_OK || status != 200)
			{
				fprintf(stderr, "raw_client: request %ld failed: %s, HTTP %ld\n",
						sent + 1, curl_easy_strerror(rc), status);
				return 1;
			}
			connects += opened;
			sent++;
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
