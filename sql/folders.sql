-- Folders: adding, updating, access, reading, deleting; moving documents
-- between folders in requests of at most 30.
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

-- bad input, nothing sent
SELECT standin_reset();
SELECT * FROM try($$SELECT velt_delete_folder(NULL, 'f')$$);
SELECT * FROM try($$SELECT velt_move_documents('o', ARRAY['a', NULL], 'f')$$);
SELECT * FROM try($$SELECT velt_move_documents('o', ARRAY[]::text[], 'f')$$);
SELECT * FROM try($$SELECT * FROM velt_update_folders_access('o', ARRAY['f'], NULL)$$);
SELECT standin_stats()->'requests' AS requests_sent;
