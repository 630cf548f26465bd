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

-- GDPR pages: with at most one item per list on a page, a user in three
-- groups takes three pages
SELECT standin_reset();
SELECT count(*) AS added FROM velt_add_users('gd', test_users('gu'));
SELECT count(*) AS groups FROM velt_add_user_groups('gd', '[{"groupId": "g1"}, {"groupId": "g2"}, {"groupId": "g3"}]');
SELECT count(*) AS memberships FROM (
	SELECT velt_add_users_to_group('gd', g, ARRAY['gu']) FROM unnest(ARRAY['g1', 'g2', 'g3']) AS g) t;
SELECT standin('POST', 'config', '{"max_page_size": 1}');
SELECT count(*) AS pages FROM velt_get_user_data('gd', 'gu');
SELECT count(*) AS get_requests, count(*) FILTER (WHERE body->'data' ? 'pageToken') AS with_token
FROM standin_requests() WHERE path = '/v2/users/data/get';
SELECT standin('POST', 'config', '{"max_page_size": null}');

-- every function raises Velt's errors the same way
SELECT standin_reset();
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
