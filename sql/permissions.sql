-- Permissions on organizations, folders and documents, read back as rows,
-- and end-user tokens.
SELECT standin_reset();
SET velt.max_retries = 0;
SELECT count(*) AS folders FROM velt_add_folders('fco', '[{"folderId": "f1", "folderName": "One"}]');
SELECT count(*) AS documents FROM velt_add_documents('fco', '[{"documentId": "md1"}]');

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

-- asking about a folder or document Velt does not know is Velt's 404
SELECT state, message FROM try($$SELECT * FROM velt_get_permissions('fco', ARRAY['pu'], document_ids => ARRAY['gone'])$$);


-- bad input, nothing sent
SELECT standin_reset();
SELECT * FROM try($$SELECT velt_add_permissions('', '[]')$$);
SELECT * FROM try($$SELECT velt_generate_token('u', NULL)$$);
SELECT standin_stats()->'requests' AS requests_sent;
