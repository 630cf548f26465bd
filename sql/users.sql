-- Adding and deleting users: rows per ID in input order, scopes, options,
-- batch splitting, API versions, IDs Velt says nothing about.
SELECT standin_reset();

-- organization users; rows come back in the order of the input
SELECT * FROM velt_add_users('acme', '[
	{"userId": "u2", "name": "bob brown", "email": "bob@example.test"},
	{"userId": "u1", "name": "Alice", "email": "alice@example.test", "accessRole": "viewer"}]');

-- the request as Velt received it
SELECT path, auth, body FROM standin_requests();

-- what the stand-in now holds: initial derived from name, default role
SELECT jsonb_pretty(standin_state()->'acme'->'users');

-- document scope: the user lands on the document only, not the organization
SELECT id, success, message FROM velt_add_users('acme', test_users('d1'), document => 'doc-1');
SELECT standin_state()->'acme'->'documents'->'doc-1'->'users' ? 'd1' AS on_document,
	   standin_state()->'acme'->'users' ? 'd1' AS on_organization;

-- folder scope
SELECT id, success FROM velt_add_users('acme', test_users('f1'), folder => 'folder-1');
SELECT standin_state()->'acme'->'folders'->'folder-1'->'users' ? 'f1' AS on_folder;
SELECT body->'data'->>'folderId' AS folder_sent FROM standin_requests() ORDER BY seq DESC LIMIT 1;

-- options are merged into data
SELECT id, success FROM velt_add_users('newco', test_users('n1'), options => '{"createOrganization": true}');
SELECT body FROM standin_requests() ORDER BY seq DESC LIMIT 1;

-- delete: a per-ID failure is a row, not an error
SELECT * FROM velt_delete_users('acme', ARRAY['u1', 'ghost']);
SELECT jsonb_object_keys(standin_state()->'acme'->'users') AS remaining ORDER BY 1;

-- delete at document scope leaves organization users alone
SELECT id, success, message FROM velt_delete_users('acme', ARRAY['d1'], document => 'doc-1');
SELECT id, success, message FROM velt_delete_users('acme', ARRAY['d1'], folder => 'folder-1');

-- velt.batch_size splits a call into several requests; rows stay in input order
SET velt.batch_size = 2;
SELECT id, success FROM velt_add_users('batchco', test_users('b5', 'b4', 'b3', 'b2', 'b1'));
-- (the requests are in flight together, so they may arrive in any order)
SELECT jsonb_array_length(body->'data'->'users') AS users_in_request,
	   body->'data'->'users'->0->>'userId' AS first_user
FROM standin_requests() WHERE body->'data'->>'organizationId' = 'batchco' ORDER BY first_user DESC;
SELECT id, success FROM velt_delete_users('batchco', ARRAY['b1', 'b2', 'b3']);
RESET velt.batch_size;

-- v1 paths
SET velt.api_version = 'v1';
SELECT id, success, message FROM velt_add_users('acme', test_users('v1user'));
SELECT path FROM standin_requests() ORDER BY seq DESC LIMIT 1;
RESET velt.api_version;

-- an ID Velt says nothing about is never reported as a success
SELECT standin_fault('{"body": "{\"result\": {\"status\": \"success\", \"message\": \"ok\", \"data\": {}}}"}');
SELECT * FROM velt_add_users('acme', test_users('m1', 'm2'));
SELECT standin_fault('{"body": "{\"result\": {\"status\": \"success\", \"message\": \"ok\"}}"}');
SELECT * FROM velt_delete_users('acme', ARRAY['m1']);
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"m2\": {\"success\": true, \"id\": 42}}}}"}');
SELECT * FROM velt_add_users('acme', test_users('m1', 'm2'));

-- the result column carries Velt's whole object for the ID
SELECT result FROM velt_add_users('acme', test_users('u2'));

-- usable in joins and aggregates like any set-returning function
SELECT count(*) FILTER (WHERE success) AS added
FROM velt_add_users('acme', test_users('j1', 'j2', 'j3'));

-- JSON values reach Velt as they were given, and Velt's values come back as
-- they were written: null, booleans, integers beyond 32 and 64 bits,
-- decimals, nesting, non-ASCII text (the stand-in, in Python, shows 0.1000
-- as 0.1; the answer keeps Velt's 0.1000).  Integers in an answer beyond 64
-- bits (which json-c 0.17 and later refuse) keep their exact value too, in
-- result and as a velt_id; digits inside a string are left alone.
SELECT id, success FROM velt_add_users('acme',
	'[{"userId": "types1", "name": "Zoë 東京", "email": "t@example.test", "photoUrl": null,
	   "custom": {"n": 12345678901, "big": 123456789012345678901234567890, "dec": 0.1000,
				  "neg": -7, "on": true, "off": false, "none": null, "list": [1, [2, {"x": null}]]}}]');
SELECT body->'data'->'users'->0 AS user_sent FROM standin_requests() ORDER BY seq DESC LIMIT 1;
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"t1\": {\"success\": true, \"id\": 123456789012345678901234567891, \"message\": null, \"n\": 12345678901, \"dec\": 0.1000, \"big\": 1e40, \"u64\": 18446744073709551615, \"beyond\": 123456789012345678901234567890, \"below\": -99999999999999999999, \"digits\": \"a\\\"123456789012345678901234567890\", \"none\": null, \"text\": \"Zo\\u00eb\"}}}}"}');
SELECT id, success, velt_id, message, result FROM velt_add_users('acme', test_users('t1'));
-- a number beyond what PostgreSQL's numeric (and so jsonb) holds, more than
-- 131072 digits before the point or 16383 after it, reads as its text; one
-- just inside the limits stays a number
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"t1\": {\"success\": true, \"huge\": 1e200000, \"tiny\": -1e-20000, \"zero\": 0.0e999999, \"edge\": 1e-16383}}}}"}');
SELECT id, success, result - 'edge' AS result, jsonb_typeof(result->'edge') AS edge,
	   length((result->'edge')::text) AS edge_digits
FROM velt_add_users('acme', test_users('t1'));
