/*-------------------------------------------------------------------------
 *
 * secrets.h
 *		The API key and auth token: from a file only the server's OS user
 *		can read (velt.secrets_file), or from the two settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_SECRETS_H
#define VELT_SECRETS_H

/*
 * Sets *api_key and *auth_token to the credentials to send.  With
 * velt.secrets_file set they come from that file, read again whenever it
 * changed (a rotation needs no statement that carries the key); otherwise
 * from velt.api_key and velt.auth_token.  Raises an ERROR (never quoting a
 * secret) when the file cannot be used or either credential is missing.
 * The strings stay valid until the next call.
 */
extern void velt_credentials(const char **api_key, const char **auth_token);

#endif							/* VELT_SECRETS_H */
