-- velt.secrets_file: the API key and auth token from a file that only the
-- server's operating system user can read, read again whenever it changes,
-- so that rotating the key needs no statement that carries it; no message,
-- log line or view shows what it holds.  The files are written through a
-- program (umask 077), so no statement here carries a secret either.
SELECT standin_reset();
SET log_min_messages = debug5;     -- every log level of this backend
CREATE FUNCTION write_secrets(script text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	-- no rows: nothing is written to a program that reads nothing
	EXECUTE format('COPY (SELECT 1 WHERE false) TO PROGRAM %L', 'umask 077; ' || script);
END $$;
-- the stand-in's own credentials, from the settings, into the file
CREATE FUNCTION write_good_secrets() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('COPY (SELECT %L UNION ALL SELECT %L) TO PROGRAM %L',
		'# velt credentials', 'api_key = ' || current_setting('velt.api_key'),
		'umask 077; cat > /tmp/velt-regress-secrets.new && mv /tmp/velt-regress-secrets.new /tmp/velt-regress-secrets');
	EXECUTE format('COPY (SELECT %L) TO PROGRAM %L',
		'auth_token = ' || current_setting('velt.auth_token'),
		'umask 077; cat >> /tmp/velt-regress-secrets');
END $$;
CREATE FUNCTION last_auth() RETURNS text LANGUAGE sql AS $$
	SELECT auth FROM standin_requests() ORDER BY seq DESC LIMIT 1
$$;

SELECT write_good_secrets();
ALTER SYSTEM SET velt.secrets_file = '/tmp/velt-regress-secrets';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW velt.secrets_file;
-- the file wins over the settings, which are wrong in this session now
SET velt.api_key = 'not-the-key';
SET velt.auth_token = 'not-the-token';
SELECT id, success FROM velt_add_users('secco', test_users('s1'));
SELECT last_auth();

-- rotating: the file replaced by one with other credentials is read at the
-- next request, without a reload; then the right ones again
SELECT write_secrets('cp /tmp/velt-regress-secrets /tmp/velt-regress-secrets.good; '
	|| 'printf "api_key = rotated-%s\nauth_token = rotated-token\n" "$(date +%s%N)" > /tmp/velt-regress-secrets.new; '
	|| 'mv /tmp/velt-regress-secrets.new /tmp/velt-regress-secrets');
SELECT * FROM try($$SELECT * FROM velt_add_users('secco', test_users('s2'))$$);
SELECT last_auth();
SELECT write_secrets('cp /tmp/velt-regress-secrets.good /tmp/velt-regress-secrets.new; '
	|| 'mv /tmp/velt-regress-secrets.new /tmp/velt-regress-secrets');
SELECT id, success FROM velt_add_users('secco', test_users('s3'));
SELECT last_auth();
-- the outbox's drain reads it too
SELECT velt_enqueue_add_users('secco', test_users('s4')) > 0 AS enqueued;
SELECT requests, delivered FROM velt_process_outbox();
SELECT last_auth();

-- a file others may read is refused, and so is one that is not right
SELECT write_secrets('chmod 644 /tmp/velt-regress-secrets');
SELECT * FROM try($$SELECT * FROM velt_add_users('secco', test_users('s5'))$$);
SELECT write_secrets('chmod 600 /tmp/velt-regress-secrets');
SELECT count(*) AS rows_again FROM velt_add_users('secco', test_users('s5'));
SELECT write_secrets('head -n 2 /tmp/velt-regress-secrets.good > /tmp/velt-regress-secrets.new; '
	|| 'mv /tmp/velt-regress-secrets.new /tmp/velt-regress-secrets');
SELECT * FROM try($$SELECT * FROM velt_add_users('secco', test_users('s6'))$$);
SELECT write_secrets('printf "api_key: rotated-x\n" > /tmp/velt-regress-secrets');
SELECT * FROM try($$SELECT * FROM velt_add_users('secco', test_users('s6'))$$);
SELECT write_secrets('printf "# comment\n\npassword = rotated-x\n" > /tmp/velt-regress-secrets');
SELECT * FROM try($$SELECT * FROM velt_add_users('secco', test_users('s6'))$$);
SELECT write_secrets('rm -f /tmp/velt-regress-secrets');
SELECT * FROM try($$SELECT * FROM velt_add_users('secco', test_users('s6'))$$);
SELECT count(*) AS requests_sent_for_s6 FROM standin_requests() WHERE body::text LIKE '%"s6"%';

-- no trace: the server log (at debug5 for this backend), pg_settings and
-- pg_stat_activity hold neither the file's key nor the rotated one
RESET velt.api_key;
RESET velt.auth_token;
CREATE TEMP TABLE log_hits(n int);
DO $$
BEGIN
	EXECUTE format('COPY log_hits FROM PROGRAM %L',
		'cat /var/log/postgresql/postgresql-*.log | grep -c -F -e ' || quote_literal(current_setting('velt.api_key'))
		|| ' -e rotated- || true');
	-- and, to show it reads the right log, the reload's line about the file
	EXECUTE format('COPY log_hits FROM PROGRAM %L',
		'cat /var/log/postgresql/postgresql-*.log | grep -c -F ''"velt.secrets_file" changed to'' || true');
END $$;
SELECT (array_agg(n))[1] AS log_lines_with_a_secret, (array_agg(n))[2] > 0 AS log_has_the_reload
FROM log_hits;
SELECT count(*) AS settings_with_a_secret FROM pg_settings
WHERE setting LIKE '%rotated-%' OR (name <> 'velt.api_key' AND setting = current_setting('velt.api_key'));
SELECT count(*) AS activity_with_a_secret FROM pg_stat_activity WHERE query LIKE '%rotat' || 'ed-%';

-- back to the settings
ALTER SYSTEM RESET velt.secrets_file;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW velt.secrets_file;
SELECT count(*) AS rows_from_settings FROM velt_add_users('secco', test_users('s7'));
SELECT write_secrets('rm -f /tmp/velt-regress-secrets /tmp/velt-regress-secrets.good');
RESET log_min_messages;
DROP FUNCTION write_secrets(text), write_good_secrets(), last_auth();
