/*-------------------------------------------------------------------------
 *
 * settings.c
 *		Definition and validation of the velt.* configuration parameters.
 *
 * The API key and auth token are secrets.  They are superuser-only, hidden
 * from everyone else, and refused wherever PostgreSQL would store them in a
 * catalog that every role can read (ALTER DATABASE/ROLE ... SET, a
 * function's SET clause).  That leaves postgresql.conf, an included file
 * readable only by the server, ALTER SYSTEM, and a superuser's SET.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "nodes/pg_list.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "http.h"
#include "secrets.h"
#include "settings.h"

char	   *velt_api_key = NULL;
char	   *velt_auth_token = NULL;
char	   *velt_secrets_file = NULL;
char	   *velt_base_url = NULL;
char	   *velt_ca_file = NULL;
int			velt_api_version = VELT_API_V2;
int			velt_timeout_ms = 30000;
int			velt_connect_timeout_ms = 5000;
int			velt_max_retries = 3;
int			velt_retry_max_delay_ms = 10000;
int			velt_batch_size = 500;
int			velt_max_requests_per_second = 0;
bool		velt_track_stats = true;
int			velt_max_concurrency = 16;
int			velt_max_attempts = 10;
int			velt_outbox_retry_max_delay_ms = 600000;
int			velt_result_retention_s = 7 * 24 * 3600;
char	   *velt_database = NULL;
char	   *velt_databases = NULL;
int			velt_worker_idle_ms = 10000;
bool		velt_pause_delivery = false;

static const struct config_enum_entry api_version_options[] = {
	{"v1", VELT_API_V1, false},
	{"v2", VELT_API_V2, false},
	{NULL, 0, false}
};

#define SECRET_HINT \
	"Set it in postgresql.conf (or a file it includes that only the server can read) " \
	"or with ALTER SYSTEM SET, then SELECT pg_reload_conf()."

/*
 * The secrets may not come from sources that PostgreSQL keeps in
 * pg_db_role_setting or pg_proc.proconfig: those catalogs are readable by
 * every role.  PGC_S_TEST is how ALTER DATABASE/ROLE SET and CREATE FUNCTION
 * ... SET validate a value before storing it; the other three are how a
 * stored value would be applied at session start.
 */
static bool
check_secret(char **newval, void **extra, GucSource source)
{
	switch (source)
	{
		case PGC_S_TEST:
		case PGC_S_DATABASE:
		case PGC_S_USER:
		case PGC_S_DATABASE_USER:
			if (*newval != NULL && (*newval)[0] != '\0')
			{
				GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
				GUC_check_errmsg("velt secrets cannot be stored in the catalog, where every role could read them");
				GUC_check_errhint(SECRET_HINT);
				return false;
			}
			return true;
		default:
			return true;
	}
}

/*
 * Only absolute http:// or https:// URLs without user information are
 * accepted: other libcurl protocols (file://, smtp://, ...) must never be
 * reachable through this setting, and credentials belong in the headers.
 */
static bool
check_base_url(char **newval, void **extra, GucSource source)
{
	const char *url = *newval;
	const char *authority;
	const char *p;

	if (url == NULL)
		return true;
	if (pg_strncasecmp(url, "https://", 8) == 0)
		authority = url + 8;
	else if (pg_strncasecmp(url, "http://", 7) == 0)
		authority = url + 7;
	else
	{
		GUC_check_errdetail("velt.base_url must start with http:// or https://.");
		return false;
	}
	if (*authority == '\0' || *authority == '/')
	{
		GUC_check_errdetail("velt.base_url has no host.");
		return false;
	}
	for (p = url; *p; p++)
	{
		if (isspace((unsigned char) *p) || iscntrl((unsigned char) *p))
		{
			GUC_check_errdetail("velt.base_url must not contain spaces or control characters.");
			return false;
		}
	}
	for (p = authority; *p && *p != '/'; p++)
	{
		if (*p == '@')
		{
			GUC_check_errdetail("velt.base_url must not contain user information; the API key and auth token are sent as headers.");
			return false;
		}
	}
	if (strchr(url, '?') || strchr(url, '#'))
	{
		GUC_check_errdetail("velt.base_url must not contain a query or a fragment.");
		return false;
	}
	return true;
}

/* Defines the credentials and where Velt is (URL, CA file, API version). */
static void
define_connection_settings(void)
{
	DefineCustomStringVariable("velt.api_key",
							   "API key sent as x-velt-api-key.",
							   NULL,
							   &velt_api_key,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_secret, NULL, NULL);

	DefineCustomStringVariable("velt.auth_token",
							   "Auth token sent as x-velt-auth-token.",
							   NULL,
							   &velt_auth_token,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_secret, NULL, NULL);

	DefineCustomStringVariable("velt.secrets_file",
							   "File holding the API key and auth token (api_key = ..., auth_token = ...); "
							   "when set, velt.api_key and velt.auth_token are not used.",
							   "It must be owned by the server's operating system user and readable by no "
							   "one else; it is read again whenever it changes.",
							   &velt_secrets_file,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("velt.base_url",
							   "Base URL of the Velt REST API (http or https).",
							   NULL,
							   &velt_base_url,
							   "https://api.velt.dev",
							   PGC_SUSET,
							   0,
							   check_base_url, NULL, NULL);

	DefineCustomStringVariable("velt.ca_file",
							   "File of CA certificates used to verify Velt's TLS certificate; empty uses the system store.",
							   NULL,
							   &velt_ca_file,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomEnumVariable("velt.api_version",
							 "Velt REST API version used in request paths.",
							 NULL,
							 &velt_api_version,
							 VELT_API_V2,
							 api_version_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

}

/* Defines the timeouts, retries and batching of synchronous calls. */
static void
define_call_settings(void)
{
	DefineCustomIntVariable("velt.timeout_ms",
							"Longest time one HTTP exchange with Velt may take.",
							NULL,
							&velt_timeout_ms,
							30000, 1, 3600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("velt.connect_timeout_ms",
							"Longest time connecting to Velt may take.",
							NULL,
							&velt_connect_timeout_ms,
							5000, 1, 600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("velt.max_retries",
							"How many times a request is retried after 429, 502, 503, 504 or a transport error.",
							NULL,
							&velt_max_retries,
							3, 0, 20,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("velt.retry_max_delay_ms",
							"Longest wait before a retry; a longer Retry-After ends the retries.",
							NULL,
							&velt_retry_max_delay_ms,
							10000, 0, 3600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("velt.batch_size",
							"Most items sent to Velt in one request; larger inputs are split.",
							NULL,
							&velt_batch_size,
							500, 1, 100000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("velt.max_concurrency",
							"Most requests one call keeps in flight at once.",
							NULL,
							&velt_max_concurrency,
							16, 1, VELT_HTTP_MAX_SLOTS,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	/* one rate for the cluster: set in postgresql.conf or ALTER SYSTEM */
	DefineCustomIntVariable("velt.max_requests_per_second",
							"Most requests per second to Velt from the whole cluster (0: no limit); needs velt preloaded.",
							NULL,
							&velt_max_requests_per_second,
							0, 0, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	/* like track_counts: a superuser may switch it off, for a session too */
	DefineCustomBoolVariable("velt.track_stats",
							 "Counts requests in velt_stats.",
							 NULL,
							 &velt_track_stats,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

}

/* Defines the outbox's retries and how long its results are kept. */
static void
define_outbox_settings(void)
{
	DefineCustomIntVariable("velt.max_attempts",
							"Attempts at an outbox operation before it is dead-lettered.",
							NULL,
							&velt_max_attempts,
							10, 1, 1000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("velt.outbox_retry_max_delay_ms",
							"Longest backoff before an outbox operation is tried again.",
							NULL,
							&velt_outbox_retry_max_delay_ms,
							600000, 0, 24 * 3600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* the workers re-read it on SIGHUP; the reload also wakes them */
	DefineCustomBoolVariable("velt.pause_delivery",
							 "While on, no drain sends anything: the workers pause and "
							 "velt_process_outbox returns at once; enqueueing goes on.",
							 NULL,
							 &velt_pause_delivery,
							 false,
							 PGC_SIGHUP,
							 GUC_SUPERUSER_ONLY,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("velt.result_retention",
							"How long per-ID outcomes are kept in velt_results.",
							NULL,
							&velt_result_retention_s,
							7 * 24 * 3600, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

void
velt_define_settings(void)
{
	define_connection_settings();
	define_call_settings();
	define_outbox_settings();
}

/*
 * velt.databases is "*" alone, or a comma-separated list of database
 * names (double quotes keep a comma or space in a name; names are taken
 * as written, never folded to lower case).
 */
static bool
check_databases(char **newval, void **extra, GucSource source)
{
	char	   *copy;
	List	   *names = NIL;
	ListCell   *lc;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	copy = pstrdup(*newval);
	if (!SplitGUCList(copy, ',', &names))
	{
		GUC_check_errdetail("velt.databases must be \"*\" or a comma-separated list of database names.");
		return false;
	}
	foreach(lc, names)
	{
		if (strcmp(lfirst(lc), "*") == 0 && list_length(names) > 1)
		{
			GUC_check_errdetail("\"*\" stands alone in velt.databases: it means every database.");
			return false;
		}
	}
	list_free(names);
	pfree(copy);
	return true;
}

void
velt_define_worker_settings(void)
{
	DefineCustomStringVariable("velt.databases",
							   "Databases whose outbox velt's workers deliver, one worker each: "
							   "a comma-separated list of names, or * for every database "
							   "that allows connections (templates aside).",
							   "When empty, velt.database names the one database.",
							   &velt_databases,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_LIST_INPUT,
							   check_databases, NULL, NULL);
	DefineCustomStringVariable("velt.database",
							   "Database whose outbox the velt background worker delivers "
							   "(used when velt.databases is empty).",
							   NULL,
							   &velt_database,
							   "postgres",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("velt.worker_idle_ms",
							"Longest sleep of the velt worker when it has nothing to do.",
							NULL,
							&velt_worker_idle_ms,
							10000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

const char *
velt_api_version_name(void)
{
	return velt_api_version == VELT_API_V1 ? "v1" : "v2";
}

void
velt_require_credentials(void)
{
	const char *api_key;
	const char *auth_token;

	velt_credentials(&api_key, &auth_token);
}
