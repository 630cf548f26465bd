-- Every per-ID write function has an enqueue twin: the same arguments and
-- checks, the operation written to the outbox in the caller's transaction,
-- delivered after COMMIT in commit order, retried, recorded in
-- velt_results.  Organizations twins write one operation per organization;
-- folder operations are sent alone in their organization's order.
SELECT standin_reset();
SET velt.max_retries = 0;
-- earlier files' outcomes are left out below
SELECT coalesce(max(operation_id), 0) AS ops_before FROM velt_results \gset
CREATE FUNCTION durable_drain() RETURNS TABLE(requests int, delivered bigint, failed bigint, retried bigint)
LANGUAGE sql AS $$
	SELECT requests, delivered, failed, retried FROM velt_process_outbox(10000, 30)
$$;

-- the twins, as the catalog lists them: every one returns bigint, none is
-- open to PUBLIC
SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments,
	   p.prorettype::regtype AS returns,
	   has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
	 JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'velt'
WHERE p.proname LIKE 'velt\_enqueue\_%' ORDER BY 1;
-- each twin has the synchronous function with the same arguments
SELECT count(*) AS twins_without_a_synchronous_function
FROM pg_proc t
WHERE t.proname LIKE 'velt\_enqueue\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_proc s
				  WHERE s.proname = 'velt_' || substring(t.proname FROM 14)
					AND pg_get_function_identity_arguments(s.oid) = pg_get_function_identity_arguments(t.oid));
-- and every synchronous per-ID write function has a twin
SELECT string_agg(s.proname, ', ') AS writes_without_a_twin
FROM pg_proc s JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'e'
	 JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'velt'
WHERE s.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
  AND s.proname ~ '^velt_(add|update|delete)_' AND s.proretset
  AND NOT EXISTS (SELECT 1 FROM pg_proc t WHERE t.proname = 'velt_enqueue_' || substring(s.proname FROM 6));

-- nothing is sent before COMMIT; after it, everything in commit order
BEGIN;
SELECT velt_enqueue_add_organizations('[{"organizationId": "dw1", "organizationName": "One"},
										{"organizationId": "dw2", "organizationName": "Two"}]') > 0 AS enqueued;
SELECT velt_enqueue_update_organizations('[{"organizationId": "dw1", "organizationName": "One, renamed"}]') > 0 AS enqueued;
SELECT velt_enqueue_add_folders('dw1', '[{"folderId": "f1", "folderName": "Folder one"}]') > 0 AS enqueued;
SELECT velt_enqueue_update_folders('dw1', '[{"folderId": "f1", "folderName": "Folder 1"}]') > 0 AS enqueued;
SELECT velt_enqueue_update_folders_access('dw1', ARRAY['f1'], 'restricted') > 0 AS enqueued;
SELECT velt_enqueue_add_documents('dw1', '[{"documentId": "d1", "documentName": "Doc one"},
										  {"documentId": "d2", "documentName": "Doc two"}]', folder => 'f1') > 0 AS enqueued;
SELECT velt_enqueue_update_documents('dw1', '[{"documentId": "d1", "documentName": "Doc 1"}]') > 0 AS enqueued;
SELECT velt_enqueue_update_documents_access('dw1', ARRAY['d1', 'd2'], 'public') > 0 AS enqueued;
SELECT velt_enqueue_update_documents_disabled('dw1', ARRAY['d2'], true) > 0 AS enqueued;
SELECT velt_enqueue_add_users('dw1', test_users('u1', 'u2')) > 0 AS enqueued;
SELECT velt_enqueue_update_users('dw1', '[{"userId": "u1", "name": "User one, renamed", "email": "u1@example.test"}]') > 0 AS enqueued;
SELECT velt_enqueue_delete_documents('dw1', ARRAY['d2']) > 0 AS enqueued;
SELECT velt_enqueue_update_organizations_disabled(ARRAY['dw2'], true) > 0 AS enqueued;
SELECT * FROM durable_drain();
SELECT endpoint, target, cardinality(ids) AS ids FROM velt.outbox ORDER BY id;
COMMIT;
SELECT * FROM durable_drain();
SELECT count(*) AS left_over FROM velt.outbox;
-- requests that touch no common ID go together, so the order of arrival
-- varies between them; per ID it is the order of COMMIT, and the
-- organization and folder operations (sent alone) come before the rest
CREATE TEMP VIEW sent AS
SELECT r.seq, substring(r.path FROM '^/v2/(?:organizations/)?(.*)$') AS path, r.status, i.id
FROM standin_requests() r,
	 LATERAL (SELECT jsonb_array_elements(coalesce(r.body->'data'->'organizations', r.body->'data'->'folders',
										  r.body->'data'->'documents', r.body->'data'->'users'))
					 ->> (CASE WHEN r.body->'data' ? 'organizations' THEN 'organizationId'
							   WHEN r.body->'data' ? 'folders' THEN 'folderId'
							   WHEN r.body->'data' ? 'documents' THEN 'documentId' ELSE 'userId' END)
			  UNION ALL
			  SELECT jsonb_array_elements_text(coalesce(r.body->'data'->'organizationIds', r.body->'data'->'folderIds',
											   r.body->'data'->'documentIds', r.body->'data'->'userIds'))) AS i(id);
SELECT id, string_agg(path, ' > ' ORDER BY seq) AS requests_in_order, bool_and(status = 200) AS ok
FROM sent GROUP BY id ORDER BY id;
SELECT (SELECT max(seq) FROM sent WHERE path LIKE 'folders/%' OR id = 'dw1')
	   < (SELECT min(seq) FROM sent WHERE path NOT LIKE 'folders/%' AND id NOT IN ('dw1', 'dw2'))
	   AS alone_ones_first;
SELECT s->'organizationDetails'->'dw1'->'metadata'->>'organizationName' AS dw1_name,
	   s->'organizationDetails'->'dw2'->>'disabled' AS dw2_disabled,
	   s->'folderDetails'->'dw1'->'f1'->'metadata'->>'folderName' AS folder_name, s->'folderDetails'->'dw1'->'f1'->>'accessType' AS folder_access,
	   (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(s->'organizations'->'dw1'->'documents') AS k) AS documents,
	   s->'organizations'->'dw1'->'users'->'u1'->>'name' AS u1_name
FROM standin('GET', 'state') AS s;
SELECT endpoint, count(*) AS ids, bool_and(success) AS all_succeeded
FROM velt_results WHERE operation_id > :ops_before GROUP BY endpoint ORDER BY endpoint;

-- an organizations twin writes one operation per organization and returns
-- the first one's id
SELECT velt_enqueue_delete_organizations(ARRAY['dw1', 'dw2']) AS first_op \gset
SELECT id - :first_op AS nth, target, ids FROM velt.outbox ORDER BY id;
SELECT * FROM durable_drain();

-- bad input is refused before anything is queued, as by the synchronous twin
SELECT * FROM try($$SELECT velt_enqueue_add_documents(NULL, '[{"documentId": "x"}]')$$);
SELECT * FROM try($$SELECT velt_enqueue_add_documents('dw1', '[{"documentName": "no id"}]')$$);
SELECT * FROM try($$SELECT velt_enqueue_update_documents_access('dw1', ARRAY['d1'], NULL)$$);
SELECT * FROM try($$SELECT velt_enqueue_delete_documents('dw1', ARRAY['d1', 'd1'])$$);
SELECT * FROM try($$SELECT velt_enqueue_update_organizations_disabled(ARRAY['o1'], NULL)$$);
SELECT * FROM try($$SELECT velt_enqueue_add_organizations('[]')$$);
SELECT * FROM try($$SELECT velt_enqueue_update_folders_access('dw1', ARRAY[]::text[], 'public')$$);
SELECT count(*) AS queued FROM velt.outbox;

-- a twin's failures are retried and dead-lettered like the rest, and a
-- folder operation (sent alone) holds back what follows it in its
-- organization while it waits
SELECT standin_reset();
SELECT standin_fault('{"status": 503, "path_contains": "folders/add"}');
SELECT velt_enqueue_add_folders('dw3', '[{"folderId": "g1", "folderName": "G"}]') > 0 AS enqueued;
SELECT velt_enqueue_add_documents('dw3', '[{"documentId": "e1"}]') > 0 AS enqueued;
SELECT velt_enqueue_add_documents('dw4', '[{"documentId": "e2"}]') > 0 AS enqueued;
SELECT * FROM durable_drain();
SELECT endpoint, target, state, attempts FROM velt.outbox ORDER BY id;
UPDATE velt.outbox SET next_attempt_at = clock_timestamp();
SELECT * FROM durable_drain();
SELECT body->'data'->>'organizationId' AS org, substring(path FROM '^/v2/(.*)$') AS path, status
FROM standin_requests() ORDER BY org, seq;
SELECT count(*) AS left_over FROM velt.outbox;

-- velt_enqueue_request: any endpoint through the outbox, in the order of
-- the organization data names; Velt's whole result is kept in velt_results
SELECT standin_reset();
SELECT standin_fault('{"status": 503, "path_contains": "folders/delete"}');
BEGIN;
SELECT velt_enqueue_add_folders('dw5', '[{"folderId": "h1", "folderName": "H"}]') > 0 AS enqueued;
SELECT velt_enqueue_request('organizations/folders/delete', '{"organizationId": "dw5", "folderId": "h1"}') AS delete_op \gset
SELECT velt_enqueue_request('v2/users/get', '{"organizationId": "dw5"}') AS read_op \gset
COMMIT;
SELECT endpoint, target, fixed, ids FROM velt.outbox ORDER BY id;
SELECT * FROM durable_drain();
SELECT endpoint, state, attempts FROM velt.outbox ORDER BY id;
UPDATE velt.outbox SET next_attempt_at = clock_timestamp();
SELECT * FROM durable_drain();
SELECT substring(path FROM '^/v2/(.*)$') AS path, status FROM standin_requests() ORDER BY seq;
SELECT operation_id = :delete_op AS delete_op, endpoint, id, success, message,
	   result ? 'data' AS has_data, attempts
FROM velt_results WHERE operation_id IN (:delete_op, :read_op) ORDER BY operation_id;
SELECT standin_state()->'dw5'->'folders' ? 'h1' AS h1_still_there;
-- refused arguments queue nothing; a request Velt refuses stays rejected
SELECT * FROM try($$SELECT velt_enqueue_request('not a path', '{}')$$);
SELECT * FROM try($$SELECT velt_enqueue_request(NULL, '{}')$$);
SELECT * FROM try($$SELECT velt_enqueue_request('users/get', '[1]')$$);
SELECT standin_fault('{"status": 400}');
SELECT velt_enqueue_request('users/get', '{"organizationId": "dw5"}') > 0 AS enqueued;
SELECT * FROM durable_drain();
SELECT endpoint, target, state, last_error FROM velt.outbox ORDER BY id;
DELETE FROM velt.outbox;
-- a 2xx whose result jsonb cannot hold (a NUL character) is delivered all
-- the same, once: Velt has acted on it
SELECT standin_reset();
SELECT standin_fault('{"body": "{\"result\": {\"status\": \"success\", \"message\": \"ok\", \"data\": {\"note\": \"a\\u0000b\"}}}"}');
SELECT velt_enqueue_request('users/get', '{"organizationId": "dw5"}') AS nul_op \gset
SELECT * FROM durable_drain();
SELECT success, result IS NULL AS no_result, message FROM velt_results WHERE operation_id = :nul_op;
SELECT count(*) AS requests_sent, (SELECT count(*) FROM velt.outbox) AS left_over FROM standin_requests();
DROP FUNCTION durable_drain();
