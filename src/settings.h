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
extern char *velt_base_url;
extern char *velt_ca_file;
extern int	velt_api_version;
extern int	velt_timeout_ms;
extern int	velt_connect_timeout_ms;
extern int	velt_max_retries;
extern int	velt_retry_max_delay_ms;
extern int	velt_batch_size;
extern int	velt_max_attempts;
extern int	velt_outbox_retry_max_delay_ms;
extern int	velt_result_retention_s;

extern void velt_define_settings(void);
extern const char *velt_api_version_name(void);

/*
 * Raises an ERROR with a HINT when the API key or the auth token is unset;
 * called before anything is sent.
 */
extern void velt_require_credentials(void);

#endif							/* VELT_SETTINGS_H */
