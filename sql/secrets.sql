-- Privileges and secrets: no EXECUTE for PUBLIC, secrets hidden from
-- everyone but superusers, never storable where every role can read them.
SELECT standin_reset();
CREATE ROLE velt_app NOLOGIN;
CREATE ROLE velt_nobody NOLOGIN;

-- no function of velt is executable by PUBLIC
SELECT p.proname, has_function_privilege('velt_nobody', p.oid, 'EXECUTE') AS nobody_can_execute
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'velt'
ORDER BY 1;

SET ROLE velt_nobody;
SELECT * FROM try($$SELECT * FROM velt_add_users('acme', test_users('x'))$$);
RESET ROLE;

-- the documented grant
GRANT EXECUTE ON FUNCTION velt_add_users(text, jsonb, text, text, jsonb) TO velt_app;
SET ROLE velt_app;
SELECT id, success FROM velt_add_users('acme', test_users('granted'));

-- ... but the secrets stay hidden (PostgreSQL words the refusal differently
-- from version to version: the SQLSTATE and the setting named say it)
SELECT state, message ~ 'examine "velt.api_key"' AS refused FROM try($$SHOW velt.api_key$$);
SELECT state, message ~ 'examine "velt.auth_token"' AS refused FROM try($$SELECT current_setting('velt.auth_token')$$);
SELECT name FROM pg_settings WHERE name LIKE 'velt.%' ORDER BY 1;
SELECT count(*) AS secret_rows FROM pg_settings WHERE setting LIKE '%standin-%';
-- and the endpoint and credentials cannot be changed
SELECT * FROM try($$SET velt.base_url = 'http://127.0.0.1:9'$$);
SELECT * FROM try($$SET velt.api_key = 'mine'$$);
SELECT * FROM try($$SET velt.ca_file = '/tmp/ca.pem'$$);
-- the ordinary settings are the caller's own
SET velt.batch_size = 10;
SET velt.api_version = 'v1';
RESET velt.batch_size;
RESET velt.api_version;
RESET ROLE;

-- secrets are refused where every role could read them back
SELECT * FROM try($$ALTER DATABASE contrib_regression SET velt.api_key = 'leaky'$$);
SELECT * FROM try($$ALTER ROLE velt_app SET velt.auth_token = 'leaky'$$);
SELECT * FROM try($$ALTER ROLE velt_app IN DATABASE contrib_regression SET velt.api_key = 'leaky'$$);
SELECT * FROM try($$CREATE FUNCTION leaky() RETURNS int LANGUAGE sql SET velt.api_key = 'leaky' AS 'SELECT 1'$$);
SELECT count(*) AS stored_settings FROM pg_db_role_setting
WHERE array_to_string(setconfig, ',') LIKE '%velt.%';
-- the non-secret settings can be stored per role as usual
ALTER ROLE velt_app SET velt.batch_size = 50;
ALTER ROLE velt_app RESET velt.batch_size;

-- ALTER SYSTEM is a safe way (postgresql.auto.conf is readable only by the server)
ALTER SYSTEM SET velt.api_key = 'from-alter-system';
SELECT count(*) AS in_auto_conf FROM pg_file_settings
WHERE name = 'velt.api_key' AND setting = 'from-alter-system';
ALTER SYSTEM RESET velt.api_key;

-- a fresh session as a non-superuser: the module is preloaded, so no
-- placeholder can show the configured secret
\c -
SET ROLE velt_app;
SELECT state, message ~ 'examine "velt.api_key"' AS refused FROM try($$SHOW velt.api_key$$);
SELECT count(*) AS secret_rows FROM pg_settings WHERE setting LIKE '%standin-%';
RESET ROLE;

REVOKE EXECUTE ON FUNCTION velt_add_users(text, jsonb, text, text, jsonb) FROM velt_app;
DROP ROLE velt_app;
DROP ROLE velt_nobody;
