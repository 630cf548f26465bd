-- velt 1.0: the Velt REST API as SQL functions.
\echo Use "CREATE EXTENSION velt" to load this file. \quit

-- Internal objects (outbox tables, helpers) live in schema velt, which
-- PUBLIC cannot use.
CREATE SCHEMA velt;
REVOKE ALL ON SCHEMA velt FROM PUBLIC;
COMMENT ON SCHEMA velt IS 'Internal objects of the velt extension (outbox, results, helpers)';

-- Every function returns one row per ID, in the order of the input:
--   id       the caller's ID (the key in Velt's result.data)
--   success  Velt's verdict for it; NULL when Velt said nothing about it
--   velt_id  Velt's own id for it, when Velt gives one
--   message  Velt's message for it
--   result   that ID's whole result object

CREATE FUNCTION velt_add_users(
	org text,
	users jsonb,
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_add_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_add_users(text, jsonb, text, text, jsonb) IS
'Adds or updates users in an organization, or in one document or folder of it (POST users/add)';

CREATE FUNCTION velt_delete_users(
	org text,
	user_ids text[],
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_delete_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_delete_users(text, text[], text, text, jsonb) IS
'Removes users from an organization, or from one document or folder of it (POST users/delete)';

CREATE FUNCTION velt_add_user_groups(
	org text,
	groups jsonb,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_add_user_groups'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_add_user_groups(text, jsonb, jsonb) IS
'Adds user groups to an organization (POST organizations/usergroups/add)';

CREATE FUNCTION velt_add_users_to_group(
	org text,
	group_id text,
	user_ids text[],
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_add_users_to_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_add_users_to_group(text, text, text[], jsonb) IS
'Adds organization users to a user group (POST organizations/usergroups/users/add)';

CREATE FUNCTION velt_delete_users_from_group(
	org text,
	group_id text,
	user_ids text[] DEFAULT NULL,
	delete_all boolean DEFAULT false,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_delete_users_from_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_delete_users_from_group(text, text, text[], boolean, jsonb) IS
'Removes users, or with delete_all every user, from a user group (POST organizations/usergroups/users/delete)';

-- Organizations (REFERENCE.md 2.1-2.5)
CREATE FUNCTION velt_add_organizations(
	organizations jsonb,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_add_organizations'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_add_organizations(jsonb, jsonb) IS
'Adds organizations, or updates the metadata of existing ones (POST organizations/add)';

CREATE FUNCTION velt_update_organizations(
	organizations jsonb,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_update_organizations'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_update_organizations(jsonb, jsonb) IS
'Updates the metadata of organizations (POST organizations/update)';

CREATE FUNCTION velt_delete_organizations(
	org_ids text[],
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_delete_organizations'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_delete_organizations(text[], jsonb) IS
'Deletes organizations with all their folders, documents and users (POST organizations/delete)';

CREATE FUNCTION velt_update_organizations_disabled(
	org_ids text[],
	disabled boolean,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_update_organizations_disabled'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_update_organizations_disabled(text[], boolean, jsonb) IS
'Disables or enables read and write access to organizations (POST organizations/access/disablestate/update)';

CREATE FUNCTION velt_get_organizations(
	org_ids text[] DEFAULT NULL,
	max_items integer DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, organization_name text, disabled boolean, organization jsonb)
AS 'MODULE_PATHNAME', 'velt_get_organizations'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1000;

COMMENT ON FUNCTION velt_get_organizations(text[], integer, jsonb) IS
'Reads organizations, following page tokens and splitting org_ids into requests of 30 (POST organizations/get)';

-- Documents (REFERENCE.md 2.11-2.19).  v2 answers a partly failed batch
-- with HTTP 500 INTERNAL and every item in error.details: those come back as
-- rows (success = false, Velt's code in result), not as an ERROR.
CREATE FUNCTION velt_add_documents(
	org text,
	documents jsonb,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_add_documents'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

CREATE FUNCTION velt_update_documents(
	org text,
	documents jsonb,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_update_documents'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

CREATE FUNCTION velt_delete_documents(
	org text,
	document_ids text[],
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_delete_documents'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

CREATE FUNCTION velt_update_documents_access(
	org text,
	document_ids text[],
	access_type text,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_update_documents_access'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

CREATE FUNCTION velt_update_documents_disabled(
	org text,
	document_ids text[],
	disabled boolean,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_update_documents_disabled'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

CREATE FUNCTION velt_get_documents(
	org text,
	document_ids text[] DEFAULT NULL,
	folder text DEFAULT NULL,
	max_items integer DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, document_name text, disabled boolean, access_type text, document jsonb)
AS 'MODULE_PATHNAME', 'velt_get_documents'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1000;

-- Users beyond add and delete (REFERENCE.md 2.23, 2.24)
CREATE FUNCTION velt_update_users(
	org text,
	users jsonb,
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_update_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

CREATE FUNCTION velt_get_users(
	org text,
	user_ids text[] DEFAULT NULL,
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	max_items integer DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, name text, email text, access_role text, "user" jsonb)
AS 'MODULE_PATHNAME', 'velt_get_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1000;

-- Folders (REFERENCE.md 2.6-2.10)
CREATE FUNCTION velt_add_folders(
	org text,
	folders jsonb,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_add_folders'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

CREATE FUNCTION velt_update_folders(
	org text,
	folders jsonb,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_update_folders'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

CREATE FUNCTION velt_update_folders_access(
	org text,
	folder_ids text[],
	access_type text,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_update_folders_access'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

-- Any other endpoint: POSTs {"data": data} and returns Velt's "result".
CREATE FUNCTION velt_request(
	path text,
	data jsonb,
	options jsonb DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'velt_request'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION velt_request(text, jsonb, jsonb) IS
'POSTs {"data": data} to {velt.base_url}/{velt.api_version}/{path} (or to path when it starts with v1/ or v2/) and returns Velt''s result';

-- Endpoints that act on one thing and answer without a per-ID map are thin
-- SQL over velt_request: the checks here, the call and its errors there.
-- SECURITY DEFINER so that a role granted one of them needs no grant on
-- velt_request or schema velt; each reaches only its own endpoint.
CREATE FUNCTION velt.require(value anyelement, name text) RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog AS $$
DECLARE
	type text := pg_typeof(value)::text;
	position int;
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', name USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF (type = 'jsonb' AND value::text IN ('[]', '{}'))
	   OR (type = 'text[]' AND value::text = '{}')
	   OR (type = 'text' AND value::text = '') THEN
		RAISE EXCEPTION '% must not be empty', name USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF type = 'text[]' THEN
		position := array_position(value::text::text[], NULL);
		IF position IS NOT NULL THEN
			RAISE EXCEPTION '%[%] is NULL', name, position USING ERRCODE = 'null_value_not_allowed';
		END IF;
	END IF;
	RETURN value;
END $$;

CREATE FUNCTION velt_delete_folder(org text, folder_id text, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT @extschema@.velt_request('organizations/folders/delete',
		jsonb_build_object('organizationId', velt.require(org, 'org'),
						   'folderId', velt.require(folder_id, 'folder_id')), options)
$$;
COMMENT ON FUNCTION velt_delete_folder(text, text, jsonb) IS
'Deletes a folder with its subfolders and documents (v2; POST organizations/folders/delete); returns Velt''s result';

-- Velt moves at most 30 documents per request: longer lists are split.
CREATE FUNCTION velt_move_documents(org text, document_ids text[], folder text, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
	answer jsonb;
	chunk int;
BEGIN
	PERFORM velt.require(org, 'org'), velt.require(document_ids, 'document_ids'), velt.require(folder, 'folder');
	FOR chunk IN 0 .. (cardinality(document_ids) - 1) / 30 LOOP
		answer := @extschema@.velt_request('organizations/documents/move',
			jsonb_build_object('organizationId', org, 'folderId', folder,
							   'documentIds', to_jsonb(document_ids[chunk * 30 + 1 : chunk * 30 + 30])),
			options);
	END LOOP;
	RETURN answer;
END $$;
COMMENT ON FUNCTION velt_move_documents(text, text[], text, jsonb) IS
'Moves documents to a folder, 30 per request (POST organizations/documents/move); returns Velt''s last result';

CREATE FUNCTION velt_add_permissions(user_id text, resources jsonb, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT @extschema@.velt_request('auth/permissions/add',
		jsonb_build_object('user', jsonb_build_object('userId', velt.require(user_id, 'user_id')),
						   'permissions', jsonb_build_object('resources', velt.require(resources, 'resources'))),
		options)
$$;
COMMENT ON FUNCTION velt_add_permissions(text, jsonb, jsonb) IS
'Grants a user access to organizations, folders or documents (v2; POST auth/permissions/add)';

CREATE FUNCTION velt_remove_permissions(user_id text, resources jsonb, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT @extschema@.velt_request('auth/permissions/remove',
		jsonb_build_object('userId', velt.require(user_id, 'user_id'),
						   'permissions', jsonb_build_object('resources', velt.require(resources, 'resources'))),
		options)
$$;
COMMENT ON FUNCTION velt_remove_permissions(text, jsonb, jsonb) IS
'Removes a user''s access to resources (v2; POST auth/permissions/remove)';

CREATE FUNCTION velt_generate_token(user_id text, user_properties jsonb, resources jsonb DEFAULT NULL,
									options jsonb DEFAULT NULL)
RETURNS text LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT @extschema@.velt_request('v2/auth/generate_token',
		jsonb_strip_nulls(jsonb_build_object('userId', velt.require(user_id, 'user_id'),
			'userProperties', velt.require(user_properties, 'user_properties'),
			'permissions', CASE WHEN resources IS NULL THEN NULL
								ELSE jsonb_build_object('resources', resources) END)),
		options) -> 'data' ->> 'token'
$$;
COMMENT ON FUNCTION velt_generate_token(text, jsonb, jsonb, jsonb) IS
'Generates an end-user JWT for the Velt SDK (POST v2/auth/generate_token); returns the token';

CREATE FUNCTION velt_delete_user_data(user_ids text[], org_ids text[] DEFAULT NULL, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT @extschema@.velt_request('users/data/delete',
		jsonb_strip_nulls(jsonb_build_object('userIds', to_jsonb(velt.require(user_ids, 'user_ids')),
											 'organizationIds', to_jsonb(org_ids))),
		options)
$$;
COMMENT ON FUNCTION velt_delete_user_data(text[], text[], jsonb) IS
'GDPR: starts deleting all data of users (POST users/data/delete); returns the answer with data.jobId';

CREATE FUNCTION velt_get_delete_user_data_status(job_id text, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT @extschema@.velt_request('users/data/delete/status',
		jsonb_build_object('jobId', velt.require(job_id, 'job_id')), options) -> 'data'
$$;
COMMENT ON FUNCTION velt_get_delete_user_data_status(text, jsonb) IS
'GDPR: progress of a deletion started by velt_delete_user_data (POST users/data/delete/status)';

-- Reads whose answers are maps or pages of mixed data, flattened in SQL.
CREATE FUNCTION velt_get_permissions(org text, user_ids text[], folder_ids text[] DEFAULT NULL,
									 document_ids text[] DEFAULT NULL, options jsonb DEFAULT NULL)
RETURNS TABLE(user_id text, resource_type text, resource_id text, access_role text,
			  access_type text, permission jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	WITH answer AS (
		SELECT @extschema@.velt_request('auth/permissions/get',
			jsonb_strip_nulls(jsonb_build_object(
				'organizationId', velt.require(org, 'org'),
				'userIds', to_jsonb(velt.require(user_ids, 'user_ids')),
				'folderIds', to_jsonb(folder_ids), 'documentIds', to_jsonb(document_ids))),
			options) -> 'data' AS data)
	SELECT u.key, kind.singular, r.key, r.value ->> 'accessRole', r.value ->> 'accessType', r.value
	FROM answer,
		 jsonb_each(COALESCE(answer.data, '{}')) AS u,
		 (VALUES (1, 'organization', 'organization'), (2, 'folders', 'folder'),
				 (3, 'documents', 'document')) AS kind(ord, key, singular),
		 jsonb_each(CASE WHEN jsonb_typeof(u.value -> kind.key) = 'object'
						 THEN u.value -> kind.key ELSE '{}' END) AS r
	ORDER BY u.key, kind.ord, r.key
$$;
COMMENT ON FUNCTION velt_get_permissions(text, text[], text[], text[], jsonb) IS
'A row per user and resource they can reach (v2; POST auth/permissions/get)';

CREATE FUNCTION velt_get_folders(org text, folder_id text DEFAULT NULL, max_depth integer DEFAULT NULL,
								 options jsonb DEFAULT NULL)
RETURNS TABLE(id text, folder_name text, parent_folder_id text, folder jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT f ->> 'folderId', f ->> 'folderName', f ->> 'parentFolderId', f
	FROM jsonb_array_elements(
		COALESCE(@extschema@.velt_request('organizations/folders/get',
			jsonb_strip_nulls(jsonb_build_object('organizationId', velt.require(org, 'org'),
												 'folderId', folder_id, 'maxDepth', max_depth)),
			options) -> 'data', '[]')) AS f
$$;
COMMENT ON FUNCTION velt_get_folders(text, text, integer, jsonb) IS
'Folders of an organization, or one folder with its subfolders (POST organizations/folders/get)';

-- One row per page of the user's data, following nextPageToken.
CREATE FUNCTION velt_get_user_data(org text, user_id text, options jsonb DEFAULT NULL)
RETURNS SETOF jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
	answer jsonb;
	token text;
	pages int := 0;
BEGIN
	PERFORM velt.require(org, 'org'), velt.require(user_id, 'user_id');
	LOOP
		answer := @extschema@.velt_request('users/data/get',
			jsonb_strip_nulls(jsonb_build_object('organizationId', org, 'userId', user_id,
												 'pageToken', token)), options);
		RETURN NEXT answer -> 'data';
		pages := pages + 1;
		EXIT WHEN answer ->> 'nextPageToken' IS NULL OR answer ->> 'nextPageToken' = ''
			OR answer ->> 'nextPageToken' = token OR pages >= 100000;
		token := answer ->> 'nextPageToken';
	END LOOP;
END $$;
COMMENT ON FUNCTION velt_get_user_data(text, text, jsonb) IS
'GDPR: all of a user''s data, one row per page (POST users/data/get)';

-- Calling Velt spends the API key's quota and changes Velt's data: only
-- roles the owner grants to may do it.
REVOKE ALL ON FUNCTION velt_add_users(text, jsonb, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_users(text, text[], text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_user_groups(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_users_to_group(text, text, text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_users_from_group(text, text, text[], boolean, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_organizations(jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_update_organizations(jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_organizations(text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_update_organizations_disabled(text[], boolean, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_get_organizations(text[], integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_request(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_documents(text, jsonb, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_update_documents(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_documents(text, text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_update_documents_access(text, text[], text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_update_documents_disabled(text, text[], boolean, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_get_documents(text, text[], text, integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_update_users(text, jsonb, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_get_users(text, text[], text, text, integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_folders(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_update_folders(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_update_folders_access(text, text[], text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_folder(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_move_documents(text, text[], text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_permissions(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_remove_permissions(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_generate_token(text, jsonb, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_user_data(text[], text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_get_delete_user_data_status(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt.require(anyelement, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_get_permissions(text, text[], text[], text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_get_folders(text, text, integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_get_user_data(text, text, jsonb) FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Durable delivery at commit: the outbox.
--
-- velt_enqueue_* write one operation per call into velt.outbox inside the
-- caller's transaction (WAL-logged, so a crash loses nothing committed).
-- velt_process_outbox and the background worker deliver committed
-- operations, coalescing those with the same endpoint and target into
-- requests of up to velt.batch_size items, in commit order per ID.
-- ---------------------------------------------------------------------


-- Commit order: every enqueuing transaction gets one row here, stamped with
-- a sequence number by a deferred trigger as it commits.  Operations are
-- delivered in (seq, id) order, so two transactions touching the same ID
-- are delivered in the order they committed, not the order they began.
CREATE SEQUENCE velt.commit_seq;
CREATE TABLE velt.commit_order (
	xact xid8 PRIMARY KEY,
	seq bigint
);

-- SECURITY DEFINER: it runs at the commit of whoever enqueued, and only
-- the extension's owner may write velt.commit_order.
CREATE FUNCTION velt.stamp_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
	UPDATE velt.commit_order SET seq = nextval('velt.commit_seq') WHERE xact = NEW.xact;
	RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER stamp_commit AFTER INSERT ON velt.commit_order
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION velt.stamp_commit();

CREATE TABLE velt.outbox (
	id bigserial PRIMARY KEY,
	xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
	endpoint text NOT NULL,				-- the endpoint's path, e.g. users/add
	target text NOT NULL,				-- the organization
	fixed jsonb NOT NULL,				-- data members besides the items
	items jsonb,						-- the items, or NULL: see ids, item_values
	ids text[] NOT NULL,				-- the ID of each item; empty for delete_all
										-- and when item_values holds the items
	item_values text[],					-- users from a trigger: one row per user of
										-- userId, name, email, photoUrl, accessRole
	state text NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'dead', 'rejected')),
	attempts integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_error text,
	enqueued_at timestamptz NOT NULL DEFAULT now(),
	enqueued_by name NOT NULL DEFAULT session_user	-- the enqueue functions run as their owner
);
-- large payloads are written as they are: compressing them would cost the
-- enqueuing transaction more than the disk they save while queued
ALTER TABLE velt.outbox ALTER COLUMN ids SET STORAGE EXTERNAL,
	ALTER COLUMN item_values SET STORAGE EXTERNAL, ALTER COLUMN items SET STORAGE EXTERNAL;
CREATE INDEX outbox_due ON velt.outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_xact ON velt.outbox (xact);

CREATE TABLE velt.results (
	operation_id bigint NOT NULL,
	endpoint text NOT NULL,
	id text NOT NULL,
	success boolean,
	velt_id text,
	message text,
	result jsonb,
	attempts integer NOT NULL,
	last_error text,
	enqueued_at timestamptz NOT NULL,
	finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (operation_id, id)
);
CREATE INDEX results_finished ON velt.results (finished_at);

-- the queue and its history survive pg_dump and restore
SELECT pg_catalog.pg_extension_config_dump('velt.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('velt.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('velt.results', '');
SELECT pg_catalog.pg_extension_config_dump('velt.commit_order', '');
SELECT pg_catalog.pg_extension_config_dump('velt.commit_seq', '');

REVOKE ALL ON ALL TABLES IN SCHEMA velt FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA velt FROM PUBLIC;
REVOKE ALL ON FUNCTION velt.stamp_commit() FROM PUBLIC;

CREATE FUNCTION velt_enqueue_add_users(
	org text,
	users jsonb,
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_add_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_enqueue_delete_users(
	org text,
	user_ids text[],
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_delete_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_enqueue_add_user_groups(
	org text,
	groups jsonb,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_add_user_groups'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_enqueue_add_users_to_group(
	org text,
	group_id text,
	user_ids text[],
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_add_users_to_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_enqueue_delete_users_from_group(
	org text,
	group_id text,
	user_ids text[] DEFAULT NULL,
	delete_all boolean DEFAULT false,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_delete_users_from_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_process_outbox(
	max_items integer DEFAULT 10000,
	max_seconds double precision DEFAULT 30)
RETURNS TABLE(requests integer, delivered bigint, failed bigint, retried bigint, seconds double precision)
AS 'MODULE_PATHNAME', 'velt_process_outbox'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

COMMENT ON FUNCTION velt_process_outbox(integer, double precision) IS
'Delivers due outbox operations, bounded in items and time; safe to run concurrently and from pg_cron';

CREATE FUNCTION velt_retry_failed(
	endpoint text DEFAULT NULL,
	include_rejected boolean DEFAULT false)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	WITH redriven AS (
		UPDATE velt.outbox o
		SET state = 'pending', attempts = 0, next_attempt_at = clock_timestamp()
		WHERE (o.state = 'dead' OR (include_rejected AND o.state = 'rejected'))
		  AND (velt_retry_failed.endpoint IS NULL OR o.endpoint = velt_retry_failed.endpoint)
		RETURNING o.id
	)
	SELECT count(*) FROM redriven
$$;

COMMENT ON FUNCTION velt_retry_failed(text, boolean) IS
'Puts dead-lettered operations (and with include_rejected, rejected ones) back in the queue; returns how many';

CREATE VIEW velt_outbox_status AS
	SELECT endpoint, state,
		   count(*) AS operations,
		   sum(COALESCE(array_length(item_values, 1), cardinality(ids))) AS items,
		   min(enqueued_at) AS oldest_enqueued_at,
		   CASE WHEN state = 'pending' THEN clock_timestamp() - min(enqueued_at) END AS oldest_pending_age,
		   min(next_attempt_at) FILTER (WHERE state = 'pending') AS next_attempt_at
	FROM velt.outbox
	GROUP BY endpoint, state;

CREATE VIEW velt_results AS
	SELECT operation_id, endpoint, id, success, velt_id, message, result,
		   attempts, last_error, enqueued_at, finished_at
	FROM velt.results;

REVOKE ALL ON velt_outbox_status, velt_results FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_add_users(text, jsonb, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_delete_users(text, text[], text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_add_user_groups(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_add_users_to_group(text, text, text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_delete_users_from_group(text, text, text[], boolean, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_process_outbox(integer, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_retry_failed(text, boolean) FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Ready-made trigger functions that feed the outbox.
-- Arguments name the columns as key=column pairs, for example
--   EXECUTE FUNCTION velt_users_trigger('organization=org_id', 'user_id=id',
--                                       'name=full_name', 'email=email')
-- They work FOR EACH ROW and FOR EACH STATEMENT with transition tables.
-- ---------------------------------------------------------------------

-- Reads the key=column arguments of a velt trigger and checks them against
-- the table: unknown keys, missing required keys, columns that do not exist
-- or have a type that cannot name an ID or text are refused.
CREATE FUNCTION velt.trigger_columns(
	trigger_function text, relid oid, args text[],
	required text[], optional text[])
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
	arg text;
	key text;
	col text;
	typ regtype;
	mapping jsonb := '{}';
	allowed_types regtype[] := ARRAY['text', 'character varying', 'character', 'name',
									 'uuid', 'smallint', 'integer', 'bigint']::regtype[];
BEGIN
	FOREACH arg IN ARRAY COALESCE(args, '{}') LOOP
		key := split_part(arg, '=', 1);
		col := substr(arg, length(key) + 2);
		IF position('=' IN arg) = 0 OR col = '' THEN
			RAISE EXCEPTION '%: argument "%" is not key=column', trigger_function, arg
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('Keys: %s.', array_to_string(required || optional, ', '));
		END IF;
		IF NOT key = ANY (required || optional) THEN
			RAISE EXCEPTION '%: unknown key "%"', trigger_function, key
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('Keys: %s.', array_to_string(required || optional, ', '));
		END IF;
		-- a domain counts as its base type
		SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END::regtype INTO typ
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = relid AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION '%: column "%" (for %) does not exist in table %',
				trigger_function, col, key, relid::regclass
				USING ERRCODE = 'undefined_column';
		END IF;
		-- built-in types, or citext of the citext extension: their casts and
		-- output functions are safe to run with the trigger owner's rights
		IF NOT typ = ANY (allowed_types) AND NOT EXISTS (
			SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
			WHERE d.classid = 'pg_type'::regclass AND d.objid = typ
			  AND d.refclassid = 'pg_extension'::regclass AND e.extname = 'citext') THEN
			RAISE EXCEPTION '%: column "%" (for %) of table % has type %, which cannot be sent to Velt',
				trigger_function, col, key, relid::regclass, typ
				USING ERRCODE = 'datatype_mismatch',
					  HINT = 'Use a text, integer or uuid column.';
		END IF;
		mapping := mapping || jsonb_build_object(key, col);
	END LOOP;
	FOREACH key IN ARRAY required LOOP
		IF NOT mapping ? key THEN
			RAISE EXCEPTION '%: no column given for %', trigger_function, key
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('Pass ''%s=<column>'' in EXECUTE FUNCTION %s(...).', key, trigger_function);
		END IF;
	END LOOP;
	RETURN mapping;
END $$;

-- The transition tables of the firing trigger, by name.
CREATE FUNCTION velt.transition_tables(relid oid, trigger_name name,
									   OUT new_table text, OUT old_table text)
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
	SELECT tgnewtable::text, tgoldtable::text FROM pg_trigger
	WHERE tgrelid = relid AND tgname = trigger_name
$$;

-- The membership rows of a transition table: organization, group, user.
-- Built in one format() call, so nothing in a name is read as a format code.
CREATE FUNCTION velt.members_sql(mapping jsonb, relation text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $$
	SELECT format('SELECT %I::text AS org, %I::text AS grp, %I::text AS uid FROM %I',
				  mapping->>'organization', mapping->>'group', mapping->>'user_id', relation)
$$;

CREATE FUNCTION velt_users_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'velt_users_trigger'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog;

COMMENT ON FUNCTION velt_users_trigger() IS
'Trigger: keeps Velt users in sync through the outbox; arguments map columns (organization=, user_id=, name=, email=, document=, folder=, photo_url=, role=)';

-- SECURITY DEFINER, so it touches only the mapped columns, whose types
-- velt.trigger_columns has checked (built-in or citext): no user-defined
-- cast or output function ever runs with the owner's rights.
CREATE FUNCTION velt_group_members_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog SET work_mem = '64MB' AS $$
DECLARE
	m jsonb := velt.trigger_columns('velt_group_members_trigger', TG_RELID, TG_ARGV,
		ARRAY['organization', 'group', 'user_id'], ARRAY[]::text[]);
	row_query text;
	tt record;
	r record;
	old_key text[];
	new_key text[];
BEGIN
	IF TG_WHEN <> 'AFTER' THEN
		RAISE EXCEPTION 'velt_group_members_trigger must be an AFTER trigger'
			USING ERRCODE = 'triggered_action_exception';
	END IF;
	-- organization, group and user of one row, as text
	row_query := format('SELECT ARRAY[($1).%I::text, ($1).%I::text, ($1).%I::text]',
		m->>'organization', m->>'group', m->>'user_id');
	IF TG_LEVEL = 'ROW' THEN
		IF TG_OP IN ('UPDATE', 'DELETE') THEN
			EXECUTE row_query INTO old_key USING OLD;
		END IF;
		IF TG_OP IN ('INSERT', 'UPDATE') THEN
			EXECUTE row_query INTO new_key USING NEW;
		END IF;
		IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN
			PERFORM @extschema@.velt_enqueue_delete_users_from_group(old_key[1], old_key[2], ARRAY[old_key[3]]);
		END IF;
		IF new_key IS NOT NULL THEN
			PERFORM @extschema@.velt_enqueue_add_users_to_group(new_key[1], new_key[2], ARRAY[new_key[3]]);
		END IF;
		RETURN NULL;
	END IF;

	tt := velt.transition_tables(TG_RELID, TG_NAME);
	IF (TG_OP IN ('INSERT', 'UPDATE') AND tt.new_table IS NULL) OR
	   (TG_OP IN ('UPDATE', 'DELETE') AND tt.old_table IS NULL) THEN
		RAISE EXCEPTION 'velt_group_members_trigger FOR EACH STATEMENT needs its transition tables'
			USING ERRCODE = 'invalid_object_definition',
				  HINT = 'Declare REFERENCING NEW TABLE AS ... (INSERT, UPDATE) and OLD TABLE AS ... (UPDATE, DELETE).';
	END IF;

	IF TG_OP = 'UPDATE' THEN
		-- memberships that ended
		FOR r IN EXECUTE
			'SELECT org, grp, array_agg(DISTINCT uid ORDER BY uid) AS ids FROM ('
			'  SELECT * FROM (' || velt.members_sql(m, tt.old_table) || ') o'
			'  EXCEPT SELECT * FROM (' || velt.members_sql(m, tt.new_table) || ') n'
			') gone GROUP BY org, grp'
		LOOP
			PERFORM @extschema@.velt_enqueue_delete_users_from_group(r.org, r.grp, r.ids);
		END LOOP;
	ELSIF TG_OP = 'DELETE' THEN
		FOR r IN EXECUTE
			'SELECT org, grp, array_agg(DISTINCT uid ORDER BY uid) AS ids '
			'FROM (' || velt.members_sql(m, tt.old_table) || ') o GROUP BY org, grp'
		LOOP
			PERFORM @extschema@.velt_enqueue_delete_users_from_group(r.org, r.grp, r.ids);
		END LOOP;
		RETURN NULL;
	END IF;

	FOR r IN EXECUTE
		'SELECT org, grp, array_agg(DISTINCT uid ORDER BY uid) AS ids '
		'FROM (' || velt.members_sql(m, tt.new_table) || ') n GROUP BY org, grp'
	LOOP
		PERFORM @extschema@.velt_enqueue_add_users_to_group(r.org, r.grp, r.ids);
	END LOOP;
	RETURN NULL;
END $$;

COMMENT ON FUNCTION velt_group_members_trigger() IS
'Trigger: keeps Velt user-group membership in sync through the outbox; arguments map columns (organization=, group=, user_id=)';

REVOKE ALL ON FUNCTION velt.trigger_columns(text, oid, text[], text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt.transition_tables(oid, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt.members_sql(jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_users_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_group_members_trigger() FROM PUBLIC;
