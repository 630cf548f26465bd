/*-------------------------------------------------------------------------
 *
 * secrets.c
 *		The API key and auth token, from velt.secrets_file or the settings.
 *
 * A setting's value passes through statements, the server log ("parameter
 * ... changed to ...") and pg_settings; a file the server's OS user alone
 * can read passes through none of them.  The file holds two lines,
 *
 *		api_key = <the key>
 *		auth_token = <the token>
 *
 * with blank lines and lines starting with # ignored.  Like libpq's password
 * file, it must be a regular file owned by the server's OS user and
 * readable by nobody else.  Each use compares the file's identity (device,
 * inode, size, modification time) with the last read and reads it again
 * when it changed, so replacing the file rotates the key at the next
 * request of every process, without a reload.  No message here ever quotes
 * a value from the file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"

#include "secrets.h"
#include "settings.h"

/* Longest line of the secrets file. */
#define VELT_SECRETS_LINE_MAX 4096

/* What was read from the file last, and which file version it was. */
typedef struct SecretsCache
{
	char	   *path;			/* malloc'd; NULL: nothing read */
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
	char	   *api_key;		/* malloc'd */
	char	   *auth_token;		/* malloc'd */
} SecretsCache;

static SecretsCache cache;

/* Frees a secret, wiping it first. */
static void
forget(char **secret)
{
	if (*secret)
	{
		explicit_bzero(*secret, strlen(*secret));
		free(*secret);
		*secret = NULL;
	}
}

/* Whether the cache holds what path names now (st: its stat). */
static bool
cache_is_current(const char *path, const struct stat *st)
{
	return cache.path != NULL && strcmp(cache.path, path) == 0 &&
		cache.dev == st->st_dev && cache.ino == st->st_ino &&
		cache.size == st->st_size &&
		cache.mtime.tv_sec == st->st_mtim.tv_sec &&
		cache.mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Raises unless st is a regular file of the server's OS user, private to it. */
static void
check_file(const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("velt.secrets_file \"%s\" is not a regular file", path)));
	if (st->st_uid != geteuid())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("velt.secrets_file \"%s\" is not owned by the server's operating system user", path),
				 errhint("chown it to the user the server runs as.")));
	if ((st->st_mode & (S_IRWXG | S_IRWXO)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("velt.secrets_file \"%s\" has group or world access", path),
				 errdetail("Its permissions are %04o; velt uses it only when no one else may read it.",
						   (unsigned int) (st->st_mode & 07777)),
				 errhint("chmod 600 it.")));
}

/* Trims spaces and tabs off both ends of s, in place. */
static char *
trim(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/*
 * Takes one line of the file: sets *key or *token (malloc'd) or raises,
 * naming the line but not its value.
 */
static void
take_line(const char *path, int lineno, char *line, char **key, char **token)
{
	char	   *eq = strchr(line, '=');
	char	   *name;
	char	   *value;
	char	  **slot;

	line = trim(line);
	if (line[0] == '\0' || line[0] == '#')
		return;
	if (eq == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("velt.secrets_file \"%s\", line %d: expected name = value", path, lineno)));
	*eq = '\0';
	name = trim(line);
	value = trim(eq + 1);
	if (strcmp(name, "api_key") == 0)
		slot = key;
	else if (strcmp(name, "auth_token") == 0)
		slot = token;
	else
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("velt.secrets_file \"%s\", line %d: unknown name \"%.40s\"", path, lineno, name),
				 errhint("The names are api_key and auth_token.")));
	forget(slot);
	*slot = strdup(value);
	if (*slot == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

/* Takes every line of f; line is the caller's buffer, wiped by it. */
static void
take_lines(const char *path, FILE *f, char *line, char **key, char **token)
{
	int			lineno = 0;

	while (fgets(line, VELT_SECRETS_LINE_MAX, f) != NULL)
		take_line(path, ++lineno, line, key, token);
}

/* Reads path (opened as f, already checked) into the cache. */
static void
read_file(const char *path, FILE *f, const struct stat *st)
{
	char		line[VELT_SECRETS_LINE_MAX];
	char	   *key = NULL;
	char	   *token = NULL;

	PG_TRY();
	{
		take_lines(path, f, line, &key, &token);
	}
	PG_CATCH();
	{
		explicit_bzero(line, sizeof(line));
		forget(&key);
		forget(&token);
		PG_RE_THROW();
	}
	PG_END_TRY();
	explicit_bzero(line, sizeof(line));
	forget(&cache.api_key);
	forget(&cache.auth_token);
	free(cache.path);
	cache.path = strdup(path);
	cache.api_key = key;
	cache.auth_token = token;
	cache.dev = st->st_dev;
	cache.ino = st->st_ino;
	cache.size = st->st_size;
	cache.mtime = st->st_mtim;
}

/* Brings the cache up to date with the file path names now. */
static void
refresh(const char *path)
{
	struct stat st;
	FILE	   *f;

	/* the file's owner and mode are checked on every use: chmod alone
	 * changes neither its size nor its modification time */
	if (stat(path, &st) == 0)
	{
		check_file(path, &st);
		if (cache_is_current(path, &st))
			return;
	}
	f = AllocateFile(path, "r");
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open velt.secrets_file \"%s\": %m", path)));
	if (fstat(fileno(f), &st) != 0)
	{
		FreeFile(f);
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat velt.secrets_file \"%s\": %m", path)));
	}
	PG_TRY();
	{
		check_file(path, &st);
		read_file(path, f, &st);
	}
	PG_FINALLY();
	{
		FreeFile(f);
	}
	PG_END_TRY();
}

/* Raises that credential name is missing from where it should come. */
static void
missing(const char *name, bool from_file)
{
	if (from_file)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("velt.secrets_file \"%s\" has no %s", velt_secrets_file,
						strcmp(name, "velt.api_key") == 0 ? "api_key" : "auth_token"),
				 errdetail("Velt requires both an API key and an auth token on every request."),
				 errhint("Add a line \"%s = ...\" to the file; it is read again at the next request.",
						 strcmp(name, "velt.api_key") == 0 ? "api_key" : "auth_token")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("%s is not set", name),
			 errdetail("Velt requires both an API key and an auth token on every request."),
			 errhint("Keep both in a file named by velt.secrets_file, or as a superuser: "
					 "ALTER SYSTEM SET %s = '...'; SELECT pg_reload_conf();", name)));
}

void
velt_credentials(const char **api_key, const char **auth_token)
{
	bool		from_file = velt_secrets_file != NULL && velt_secrets_file[0] != '\0';

	if (from_file)
	{
		refresh(velt_secrets_file);
		*api_key = cache.api_key;
		*auth_token = cache.auth_token;
	}
	else
	{
		*api_key = velt_api_key;
		*auth_token = velt_auth_token;
	}
	if (*api_key == NULL || (*api_key)[0] == '\0')
		missing("velt.api_key", from_file);
	if (*auth_token == NULL || (*auth_token)[0] == '\0')
		missing("velt.auth_token", from_file);
}
