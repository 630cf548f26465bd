-- Documents: per-ID rows, the v2 partial failure (HTTP 500 with details)
-- turned into rows, access and disabled state, and paged reads.
SELECT standin_reset();
SET velt.max_retries = 0;

SELECT * FROM velt_add_documents('docco', '[
	{"documentId": "d1", "documentName": "Spec"},
	{"documentId": "d2", "documentName": "Plan"}]');
SELECT path, body FROM standin_requests();

-- a document that already exists: v2 answers HTTP 500 for the whole batch,
-- the rows still tell which item failed and why; the others were added
SELECT id, success, message, result->>'code' AS code
FROM velt_add_documents('docco', '[{"documentId": "d2"}, {"documentId": "d3", "documentName": "New"}]');
SELECT status FROM standin_requests() ORDER BY seq DESC LIMIT 1;
-- v1 reports the same inline with HTTP 200
SET velt.api_version = 'v1';
SELECT id, success, message FROM velt_add_documents('docco', '[{"documentId": "d3"}]');
RESET velt.api_version;

-- into a folder
SELECT id, success FROM velt_add_documents('docco', '[{"documentId": "f-doc"}]', folder => 'folder-1');
SELECT body->'data'->>'folderId' AS folder_sent FROM standin_requests() ORDER BY seq DESC LIMIT 1;

SELECT id, success, message, result->>'code' AS code
FROM velt_update_documents('docco', '[{"documentId": "d1", "documentName": "Spec v2"}, {"documentId": "ghost"}]');
SELECT id, success, message FROM velt_update_documents_access('docco', ARRAY['d1', 'ghost'], 'restricted');
SELECT id, success, message FROM velt_update_documents_disabled('docco', ARRAY['d2'], true);

-- reads: typed columns, one document per page (response key pageToken)
SELECT id, document_name, disabled, access_type FROM velt_get_documents('docco') ORDER BY id;
SELECT standin_reset();
SELECT count(*) AS added FROM velt_add_documents('pages', '[{"documentId": "p1"}, {"documentId": "p2"}, {"documentId": "p3"}]');
SELECT array_agg(id ORDER BY id) AS ids FROM velt_get_documents('pages', options => '{"pageSize": 1}');
SELECT count(*) AS get_requests FROM standin_requests() WHERE path = '/v2/organizations/documents/get';
SELECT id FROM velt_get_documents('pages', folder => 'nowhere');
-- more than 30 IDs are split
SELECT count(*) AS found FROM velt_get_documents('pages', ARRAY(SELECT 'p' || g FROM generate_series(1, 31) AS g));
SELECT jsonb_array_length(body->'data'->'documentIds') AS ids_in_request
FROM standin_requests() WHERE path = '/v2/organizations/documents/get' AND body->'data' ? 'documentIds'
ORDER BY 1 DESC;  -- (the slices are in flight together)

SELECT id, success, message, result->>'code' AS code
FROM velt_delete_documents('pages', ARRAY['p1', 'ghost']);
SELECT array_agg(id ORDER BY id) AS left_over FROM velt_get_documents('pages');

-- errors and bad input
SELECT standin_fault('{"status": 500, "message": "Boom."}');
SELECT state, message FROM try($$SELECT * FROM velt_add_documents('pages', '[{"documentId": "x"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_update_documents_access('pages', ARRAY['p2'], NULL)$$);
SELECT * FROM try($$SELECT * FROM velt_add_documents('pages', '[{"documentName": "no id"}]')$$);
