-- The velt.* settings: defaults, validation, and the HINT for missing secrets.
SELECT name, setting, unit, context FROM pg_settings
WHERE name LIKE 'velt.%' AND name NOT IN ('velt.base_url') ORDER BY name;
SELECT current_setting('velt.base_url') ~ '^http://127\.0\.0\.1:[0-9]+$' AS points_at_standin;

-- only http and https, no credentials in the URL
SELECT * FROM try($$SET velt.base_url = 'ftp://example.test'$$);
SELECT * FROM try($$SET velt.base_url = 'file:///etc/passwd'$$);
SELECT * FROM try($$SET velt.base_url = 'https://user:secret@example.test'$$);
SELECT * FROM try($$SET velt.base_url = 'https://exa mple.test'$$);
SELECT * FROM try($$SET velt.base_url = 'https://'$$);
SELECT * FROM try($$SET velt.base_url = 'https://example.test/?x=1'$$);
SELECT * FROM try($$SET velt.base_url = 'HTTPS://api.example.test/prefix/'$$);
RESET velt.base_url;

SELECT * FROM try($$SET velt.api_version = 'v3'$$);
SELECT * FROM try($$SET velt.batch_size = 0$$);
SELECT * FROM try($$SET velt.max_retries = -1$$);

-- a trailing slash on the base URL is harmless
SELECT standin_reset();
SELECT set_config('velt.base_url', current_setting('velt.base_url') || '/', false) IS NOT NULL AS set;
SELECT id, success FROM velt_add_users('acme', test_users('s1'));
SELECT path FROM standin_requests();
RESET velt.base_url;

-- missing secrets: a clear error with a HINT, and nothing is sent
SELECT standin_reset();
SET velt.api_key = '';
SELECT * FROM try($$SELECT * FROM velt_add_users('acme', test_users('s2'))$$);
RESET velt.api_key;
SET velt.auth_token = '';
SELECT * FROM try($$SELECT * FROM velt_delete_users('acme', ARRAY['s2'])$$);
RESET velt.auth_token;
SELECT standin_stats()->'requests' AS requests_sent;

-- unknown velt.* names are refused once the module is loaded
SELECT * FROM try($$SET velt.no_such_setting = 1$$);
