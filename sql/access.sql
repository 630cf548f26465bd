-- Folders, document moves, permissions, tokens and GDPR.
SELECT standin_reset();
SET velt.max_retries = 0;

-- folders: per-ID rows
SELECT * FROM velt_add_folders('fco', '[{"folderId": "f1", "folderName": "One"},
										 {"folderId": "f2", "folderName": "Two", "parentFolderId": "f1"}]');
SELECT id, success, message FROM velt_update_folders('fco', '[{"folderId": "f1", "folderName": "Uno"},
															   {"folderId": "nope"}]');
SELECT id, success, message, result->>'accessType' AS access
FROM velt_update_folders_access('fco', ARRAY['f1', 'nope'], 'restricted');
SELECT id, folder_name, parent_folder_id FROM velt_get_folders('fco') ORDER BY id;
SELECT id, jsonb_array_length(folder->'subFolders') AS subfolders FROM velt_get_folders('fco', 'f1');

-- moving 31 documents takes two requests of at most 30
SELECT count(*) AS added FROM velt_add_documents('fco',
	(SELECT jsonb_agg(jsonb_build_object('documentId', 'md' || g)) FROM generate_series(1, 31) AS g));
SELECT velt_move_documents('fco', ARRAY(SELECT 'md' || g FROM generate_series(1, 31) AS g), 'f2');
SELECT jsonb_array_length(body->'data'->'documentIds') AS ids_in_request
FROM standin_requests() WHERE path = '/v2/organizations/documents/move' ORDER BY seq;
SELECT count(*) AS in_f2 FROM velt_get_documents('fco', folder => 'f2');

-- deleting a folder; an unknown one is Velt's 404
SELECT velt_delete_folder('fco', 'f2');
SELECT * FROM try($$SELECT velt_delete_folder('fco', 'nope')$$);

-- permissions, read back as rows
SELECT count(*) AS added FROM velt_add_users('fco', test_users('pu'));
SELECT velt_add_permissions('pu', '[{"type": "folder", "id": "f1", "organizationId": "fco", "accessRole": "viewer"},
									{"type": "document", "id": "md1", "organizationId": "fco"}]');
SELECT body FROM standin_requests() ORDER BY seq DESC LIMIT 1;
SELECT user_id, resource_type, resource_id, access_role
FROM velt_get_permissions('fco', ARRAY['pu'], folder_ids => ARRAY['f1']);
SELECT velt_remove_permissions('pu', '[{"type": "document", "id": "md1", "organizationId": "fco"}]');
SELECT body FROM standin_requests() ORDER BY seq DESC LIMIT 1;

-- an end-user token
SELECT split_part(velt_generate_token('pu', '{"name": "P U", "email": "pu@example.test"}',
									  '[{"type": "organization", "id": "fco"}]'), '.', 1) AS token_header;
SELECT path, body->'data'->'permissions' AS permissions FROM standin_requests() ORDER BY seq DESC LIMIT 1;

-- GDPR: read the user's data page by page, delete it, follow the job
SELECT count(*) AS pages, bool_and(page ? 'users') AS has_users
FROM velt_get_user_data('fco', 'pu') AS page;
SELECT velt_delete_user_data(ARRAY['pu'], ARRAY['fco']) - 'data' AS answer;
SELECT velt_get_delete_user_data_status(
	(SELECT body->>'jobId' FROM (SELECT velt_delete_user_data(ARRAY['pu'])->'data' AS body) j)) - 'lastTaskCompletedTime' AS status;
SELECT standin_state()->'fco'->'users' ? 'pu' AS pu_still_there;

-- bad input, nothing sent
SELECT standin_reset();
SELECT * FROM try($$SELECT velt_delete_folder(NULL, 'f')$$);
SELECT * FROM try($$SELECT velt_move_documents('o', ARRAY['a', NULL], 'f')$$);
SELECT * FROM try($$SELECT velt_move_documents('o', ARRAY[]::text[], 'f')$$);
SELECT * FROM try($$SELECT velt_add_permissions('', '[]')$$);
SELECT * FROM try($$SELECT velt_generate_token('u', NULL)$$);
SELECT * FROM try($$SELECT velt_get_delete_user_data_status(NULL)$$);
SELECT * FROM try($$SELECT * FROM velt_update_folders_access('o', ARRAY['f'], NULL)$$);
SELECT standin_stats()->'requests' AS requests_sent;

-- asking about a folder or document Velt does not know is Velt's 404
SELECT state, message FROM try($$SELECT * FROM velt_get_permissions('fco', ARRAY['pu'], document_ids => ARRAY['gone'])$$);
