/*-------------------------------------------------------------------------
 *
 * settings.h
 *		The velt.* configuration parameters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_SETTINGS_H
#define VELT_SETTINGS_H

typedef enum VeltApiVersion
{
	VELT_API_V1,
	VELT_API_V2
} VeltApiVersion;

extern char *velt_api_key;
extern char *velt_auth_token;
extern char *velt_secrets_file;

extern char *velt_base_url;
extern char *velt_ca_file;
extern int	velt_api_version;
extern int	velt_timeout_ms;
extern int	velt_connect_timeout_ms;
extern int	velt_max_retries;
extern int	velt_retry_max_delay_ms;
extern int	velt_batch_size;
extern int	velt_max_requests_per_second;
extern bool velt_track_stats;	/* velt.track_stats: count in velt_stats */
extern int	velt_max_concurrency;
extern int	velt_max_attempts;
extern int	velt_outbox_retry_max_delay_ms;
extern int	velt_result_retention_s;
/* velt.pause_delivery: every drain does nothing while it is on */
extern bool velt_pause_delivery;
/* the workers': defined only while shared_preload_libraries is processed */
extern char *velt_database;
extern char *velt_databases;
extern int	velt_worker_idle_ms;

/* Defines every velt.* setting but the worker's (from _PG_init). */
extern void velt_define_settings(void);

/*
 * Defines the workers' settings, velt.databases, velt.database (its
 * alias, used when velt.databases is empty) and velt.worker_idle_ms:
 * from _PG_init, only while shared_preload_libraries is processed, and
 * before the worker is registered.
 */
extern void velt_define_worker_settings(void);

/* "v1" or "v2", as velt.api_version says. */
extern const char *velt_api_version_name(void);

/*
 * Raises an ERROR with a HINT when the API key or the auth token is unset;
 * called before anything is sent.
 */
extern void velt_require_credentials(void);

#endif							/* VELT_SETTINGS_H */
