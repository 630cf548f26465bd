-- Velt's errors and answers that are not Velt's envelope.  SQLSTATEs follow
-- the table in docs/errors.md; messages carry Velt's message and status, and
-- the DETAIL names the endpoint and HTTP status.
SELECT standin_reset();
SET velt.max_retries = 0;

-- every error seen here is kept, to check at the end that none shows a secret
CREATE TABLE seen_errors(state text, message text, detail text, hint text);
CREATE FUNCTION add_one() RETURNS TABLE(state text, message text, detail text, hint text)
LANGUAGE sql AS $$
	WITH e AS (SELECT * FROM try($q$SELECT * FROM velt_add_users('acme', test_users('e1'))$q$)),
		 kept AS (INSERT INTO seen_errors SELECT * FROM e)
	SELECT * FROM e
$$;

-- Velt error envelopes, by status
SELECT standin_fault('{"status": 400, "message": "organizationId is invalid."}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 401}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 403, "error_status": "PERMISSION_DENIED", "message": "Invalid API key."}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 404}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 409, "error_status": "ALREADY_EXISTS"}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 400, "error_status": "FAILED_PRECONDITION"}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 500}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 501}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 503}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 429}');
SELECT * FROM add_one();
-- an unknown status name falls back to the HTTP status
SELECT standin_fault('{"status": 403, "error_status": "SOMETHING_NEW"}');
SELECT * FROM add_one();
SELECT standin_fault('{"status": 418, "error_status": "TEAPOT"}');
SELECT * FROM add_one();
-- an error envelope with HTTP 200 is still an error
SELECT standin_fault('{"body": "{\"error\": {\"message\": \"No way.\", \"status\": \"INVALID_ARGUMENT\"}}"}');
SELECT * FROM add_one();

-- the stand-in's real checks: wrong credentials
SET velt.api_key = 'not-the-key';
SELECT * FROM add_one();
RESET velt.api_key;
-- a request body Velt's schema refuses (users need an email)
SELECT * FROM try($$SELECT * FROM velt_add_users('acme', '[{"userId": "x", "name": "X"}]')$$);

-- answers that are not Velt envelopes
SELECT standin_fault('{"status": 502, "body": "<html><body>Bad gateway</body></html>", "content_type": "text/html"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "<html>maintenance</html>", "content_type": "text/html"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "{\"result\": {\"data\": "}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "{\"result\": {}} trailing"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": ""}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "[1, 2]"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "{\"status\": \"ok\"}"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "{\"result\": \"done\"}"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "{\"result\": {\"data\": [1]}}"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"e1\": \"yes\"}}}"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"e1\": {\"success\": \"yes\"}}}}"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"e1\": {\"success\": true, \"message\": 5}}}}"}');
SELECT * FROM add_one();
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"e1\": {\"success\": true, \"id\": [1]}}}}"}');
SELECT * FROM add_one();

-- transport failures: class 08, velt's reason, the elapsed time and (in the
-- DETAIL) libcurl's own text
-- (libcurl itself resends once when a reused connection closes unanswered)
SELECT standin_fault('{"drop": true, "count": 2}');
SELECT * FROM add_one();
SELECT standin_fault('{"truncate": true}');
SELECT * FROM add_one();
SET velt.base_url = 'http://127.0.0.1:1';
SELECT * FROM add_one();
RESET velt.base_url;

-- the backend survived all of it
SELECT id, success FROM velt_add_users('acme', test_users('e1'));

-- no message, detail or hint ever shows the API key or the auth token
SELECT count(*) AS errors_seen,
	   count(*) FILTER (WHERE concat(message, detail, hint) LIKE '%standin-api-key%'
						   OR concat(message, detail, hint) LIKE '%standin-auth-token%'
						   OR concat(message, detail, hint) LIKE '%not-the-key%') AS leaks
FROM seen_errors;

-- TLS: a self-signed certificate is refused (verification is always on) ...
SET velt.max_retries = 0;
SELECT set_config('velt.base_url', current_setting('regress.tls_url'), false) IS NOT NULL AS set;
SELECT * FROM add_one();
-- ... and accepted once velt.ca_file names the CA that signed it
SELECT set_config('velt.ca_file', current_setting('regress.tls_ca'), false) IS NOT NULL AS set;
SELECT id, success FROM velt_add_users('tlsco', test_users('t1'));
RESET velt.ca_file;
RESET velt.base_url;

-- a host that does not resolve: class 08, not retried forever
SET velt.base_url = 'http://velt-test.invalid';
SET velt.connect_timeout_ms = 3000;
-- (08001 when the resolver answers at once, 08006 if it times out)
SELECT state LIKE '08%' AS class_08,
	   message IN ('could not get an answer from Velt: could not resolve Velt''s host name',
				   'could not get an answer from Velt: timed out before a connection was made') AS could_not_resolve,
	   detail
FROM try($$SELECT * FROM velt_add_users('acme', test_users('e1'))$$);
RESET velt.connect_timeout_ms;
RESET velt.base_url;

-- large answers: 50 MB is read (Velt said nothing per ID: NULL rows);
-- beyond 64 MB the transfer stops with 54000, and the backend carries on
SELECT standin_fault('{"body_bytes": 50000000}');
SELECT id, success, message FROM velt_add_users('acme', test_users('big1'));
SELECT standin_fault('{"body_bytes": 70000000}');
SELECT state, message, hint FROM add_one();
SELECT id, success FROM velt_add_users('acme', test_users('after-big'));

-- \u0000, which jsonb cannot store: an answer with it in a per-ID result,
-- a read's record or velt_request's result is not shaped as documented
SELECT standin_fault('{"body": "{\"result\": {\"status\": \"success\", \"data\": {\"n1\": {\"success\": true, \"message\": \"a\\u0000b\"}}}}"}');
SELECT * FROM try($$SELECT * FROM velt_add_users('acme', test_users('n1'))$$);
SELECT standin_fault('{"body": "{\"result\": {\"status\": \"success\", \"data\": {\"note\": \"a\\u0000b\"}}}"}');
SELECT * FROM try($$SELECT velt_request('users/get', '{"organizationId": "acme"}')$$);
SELECT standin_fault('{"body": "{\"result\": {\"status\": \"success\", \"data\": [{\"id\": \"o1\", \"name\": \"a\\u0000b\"}]}}"}');
SELECT * FROM try($$SELECT * FROM velt_get_organizations()$$);
-- an escaped backslash before u0000 is ordinary text
SELECT standin_fault('{"body": "{\"result\": {\"status\": \"success\", \"data\": {\"n2\": {\"success\": true, \"message\": \"a\\\\u0000b\"}}}}"}');
SELECT id, success, message FROM velt_add_users('acme', test_users('n2'));

-- every function raises Velt's errors the same way
SELECT standin_reset();
SET velt.max_retries = 0;
CREATE TEMP TABLE calls(fn text, stmt text);
INSERT INTO calls VALUES
	('velt_add_users', $$SELECT * FROM velt_add_users('o', test_users('u'))$$),
	('velt_delete_users', $$SELECT * FROM velt_delete_users('o', ARRAY['u'])$$),
	('velt_update_users', $$SELECT * FROM velt_update_users('o', test_users('u'))$$),
	('velt_get_users', $$SELECT * FROM velt_get_users('o')$$),
	('velt_add_user_groups', $$SELECT * FROM velt_add_user_groups('o', '[{"groupId": "g"}]')$$),
	('velt_add_users_to_group', $$SELECT * FROM velt_add_users_to_group('o', 'g', ARRAY['u'])$$),
	('velt_delete_users_from_group', $$SELECT * FROM velt_delete_users_from_group('o', 'g', ARRAY['u'])$$),
	('velt_add_organizations', $$SELECT * FROM velt_add_organizations('[{"organizationId": "o", "organizationName": "O"}]')$$),
	('velt_update_organizations', $$SELECT * FROM velt_update_organizations('[{"organizationId": "o", "organizationName": "O"}]')$$),
	('velt_delete_organizations', $$SELECT * FROM velt_delete_organizations(ARRAY['o'])$$),
	('velt_update_organizations_disabled', $$SELECT * FROM velt_update_organizations_disabled(ARRAY['o'], true)$$),
	('velt_get_organizations', $$SELECT * FROM velt_get_organizations()$$),
	('velt_add_folders', $$SELECT * FROM velt_add_folders('o', '[{"folderId": "f"}]')$$),
	('velt_update_folders', $$SELECT * FROM velt_update_folders('o', '[{"folderId": "f"}]')$$),
	('velt_update_folders_access', $$SELECT * FROM velt_update_folders_access('o', ARRAY['f'], 'public')$$),
	('velt_delete_folder', $$SELECT velt_delete_folder('o', 'f')$$),
	('velt_get_folders', $$SELECT * FROM velt_get_folders('o')$$),
	('velt_add_documents', $$SELECT * FROM velt_add_documents('o', '[{"documentId": "d"}]')$$),
	('velt_update_documents', $$SELECT * FROM velt_update_documents('o', '[{"documentId": "d"}]')$$),
	('velt_delete_documents', $$SELECT * FROM velt_delete_documents('o', ARRAY['d'])$$),
	('velt_update_documents_access', $$SELECT * FROM velt_update_documents_access('o', ARRAY['d'], 'public')$$),
	('velt_update_documents_disabled', $$SELECT * FROM velt_update_documents_disabled('o', ARRAY['d'], true)$$),
	('velt_move_documents', $$SELECT velt_move_documents('o', ARRAY['d'], 'f')$$),
	('velt_get_documents', $$SELECT * FROM velt_get_documents('o')$$),
	('velt_add_permissions', $$SELECT velt_add_permissions('u', '[{"type": "organization", "id": "o"}]')$$),
	('velt_remove_permissions', $$SELECT velt_remove_permissions('u', '[{"type": "organization", "id": "o"}]')$$),
	('velt_get_permissions', $$SELECT * FROM velt_get_permissions('o', ARRAY['u'])$$),
	('velt_generate_token', $$SELECT velt_generate_token('u', '{"name": "U", "email": "u@example.test"}')$$),
	('velt_delete_user_data', $$SELECT velt_delete_user_data(ARRAY['u'])$$),
	('velt_get_delete_user_data_status', $$SELECT velt_get_delete_user_data_status('job')$$),
	('velt_get_user_data', $$SELECT * FROM velt_get_user_data('o', 'u')$$),
	('velt_request', $$SELECT velt_request('users/get', '{"organizationId": "o"}')$$);
SELECT fn, (SELECT state || ' ' || split_part(message, ':', 1)
			FROM (SELECT standin_fault('{"status": 403, "error_status": "PERMISSION_DENIED", "message": "Nope."}')) f,
				 try(stmt)) AS outcome
FROM calls ORDER BY fn;
SELECT count(*) AS requests, count(*) FILTER (WHERE status = 403) AS refused FROM standin_requests();
