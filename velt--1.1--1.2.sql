/* velt--1.1--1.2.sql: a description on every object; internal names that read like public ones renamed */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION velt UPDATE TO '1.2'" to load this file. \quit

-- 1.0 and 1.1 described 25 of the 57 objects.  \df+, \dt+ and \dv+, and
-- any tool that reads pg_description, now say what each one is.
--
-- Two internal objects had names that read like the public ones beside
-- them: the table velt.results (users read the view velt_results) and
-- the argument check velt.require (users call velt_request).  They are
-- renamed, with their siblings: velt.results is velt.outcomes, and
-- velt.require, velt.optional and velt.require_json are
-- velt.check_required, velt.check_optional and velt.check_json.  The
-- public API does not change.  Renaming keeps each object's grants; the
-- SQL functions that call the checks by name are redefined with the new
-- names (their bodies are otherwise those of 1.1, and every search_path
-- ends in pg_temp as 1.1 set it).

-- ---------------------------------------------------------------------
-- Renames
-- ---------------------------------------------------------------------
ALTER TABLE velt.results RENAME TO outcomes;
ALTER INDEX velt.results_pkey RENAME TO outcomes_pkey;
ALTER INDEX velt.results_finished RENAME TO outcomes_finished;

ALTER FUNCTION velt.require(anyelement, text) RENAME TO check_required;
ALTER FUNCTION velt.optional(anyelement, text) RENAME TO check_optional;
ALTER FUNCTION velt.require_json(jsonb, text, text) RENAME TO check_json;

CREATE OR REPLACE FUNCTION velt.check_optional(value anyelement, name text) RETURNS anyelement
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN value IS NULL THEN value ELSE velt.check_required(value, name) END
$$;

CREATE OR REPLACE FUNCTION velt.check_json(value jsonb, name text, kind text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM velt.check_required(value, name);
	IF jsonb_typeof(value) IS DISTINCT FROM kind THEN
		RAISE EXCEPTION '% must be a JSON %', name, kind USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN value;
END $$;

CREATE OR REPLACE FUNCTION velt_add_permissions(user_id text, resources jsonb, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('auth/permissions/add',
		jsonb_build_object('user', jsonb_build_object('userId', velt.check_required(user_id, 'user_id')),
						   'permissions', jsonb_build_object('resources',
															 velt.check_json(resources, 'resources', 'array'))),
		options)
$$;

CREATE OR REPLACE FUNCTION velt_remove_permissions(user_id text, resources jsonb, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('auth/permissions/remove',
		jsonb_build_object('userId', velt.check_required(user_id, 'user_id'),
						   'permissions', jsonb_build_object('resources',
															 velt.check_json(resources, 'resources', 'array'))),
		options)
$$;

CREATE OR REPLACE FUNCTION velt_generate_token(user_id text, user_properties jsonb, resources jsonb DEFAULT NULL,
											   options jsonb DEFAULT NULL)
RETURNS text LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('v2/auth/generate_token',
		jsonb_strip_nulls(jsonb_build_object('userId', velt.check_required(user_id, 'user_id'),
			'userProperties', velt.check_json(user_properties, 'user_properties', 'object'),
			'permissions', CASE WHEN resources IS NULL THEN NULL
								ELSE jsonb_build_object('resources',
														velt.check_json(resources, 'resources', 'array')) END)),
		options) -> 'data' ->> 'token'
$$;

CREATE OR REPLACE FUNCTION velt_delete_user_data(user_ids text[], org_ids text[] DEFAULT NULL, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('users/data/delete',
		jsonb_strip_nulls(jsonb_build_object('userIds', to_jsonb(velt.check_required(user_ids, 'user_ids')),
											 'organizationIds', to_jsonb(velt.check_optional(org_ids, 'org_ids')))),
		options)
$$;

CREATE OR REPLACE FUNCTION velt_get_permissions(org text, user_ids text[], folder_ids text[] DEFAULT NULL,
												document_ids text[] DEFAULT NULL, options jsonb DEFAULT NULL)
RETURNS TABLE(user_id text, resource_type text, resource_id text, access_role text,
			  access_type text, permission jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	WITH answer AS (
		SELECT @extschema@.velt_request('auth/permissions/get',
			jsonb_strip_nulls(jsonb_build_object(
				'organizationId', velt.check_required(org, 'org'),
				'userIds', to_jsonb(velt.check_required(user_ids, 'user_ids')),
				'folderIds', to_jsonb(velt.check_optional(folder_ids, 'folder_ids')),
				'documentIds', to_jsonb(velt.check_optional(document_ids, 'document_ids')))),
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

CREATE OR REPLACE FUNCTION velt_get_folders(org text, folder_id text DEFAULT NULL, max_depth integer DEFAULT NULL,
											options jsonb DEFAULT NULL)
RETURNS TABLE(id text, folder_name text, parent_folder_id text, folder jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT f ->> 'folderId', f ->> 'folderName', f ->> 'parentFolderId', f
	FROM jsonb_array_elements(
		COALESCE(@extschema@.velt_request('organizations/folders/get',
			jsonb_strip_nulls(jsonb_build_object('organizationId', velt.check_required(org, 'org'),
												 'folderId', velt.check_optional(folder_id, 'folder_id'),
												 'maxDepth', max_depth)),
			options) -> 'data', '[]')) AS f
$$;

CREATE OR REPLACE FUNCTION velt_delete_folder(org text, folder_id text, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('organizations/folders/delete',
		jsonb_build_object('organizationId', velt.check_required(org, 'org'),
						   'folderId', velt.check_required(folder_id, 'folder_id')), options)
$$;

CREATE OR REPLACE FUNCTION velt_get_delete_user_data_status(job_id text, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('users/data/delete/status',
		jsonb_build_object('jobId', velt.check_required(job_id, 'job_id')), options) -> 'data'
$$;

CREATE OR REPLACE FUNCTION velt_get_user_data(org text, user_id text, options jsonb DEFAULT NULL)
RETURNS SETOF jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	answer jsonb;
	token text;
	pages int := 0;
BEGIN
	PERFORM velt.check_required(org, 'org'), velt.check_required(user_id, 'user_id');
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

CREATE OR REPLACE FUNCTION velt_move_documents(org text, document_ids text[], folder text, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	answer jsonb;
	chunk int;
BEGIN
	PERFORM velt.check_required(org, 'org'), velt.check_required(document_ids, 'document_ids'), velt.check_required(folder, 'folder');
	FOR chunk IN 0 .. (cardinality(document_ids) - 1) / 30 LOOP
		answer := @extschema@.velt_request('organizations/documents/move',
			jsonb_build_object('organizationId', org, 'folderId', folder,
							   'documentIds', to_jsonb(document_ids[chunk * 30 + 1 : chunk * 30 + 30])),
			options);
	END LOOP;
	RETURN answer;
END $$;


-- ---------------------------------------------------------------------
-- Synchronous calls (C): one request per batch, one row per ID
-- ---------------------------------------------------------------------
COMMENT ON FUNCTION velt_update_users(text, jsonb, text, text, jsonb) IS
'Updates users of an organization, or of one document or folder of it (POST users/update)';
COMMENT ON FUNCTION velt_get_users(text, text[], text, text, integer, jsonb) IS
'Reads users of an organization, document or folder, all or by ID, as typed rows, following pages (POST users/get)';
COMMENT ON FUNCTION velt_add_documents(text, jsonb, text, jsonb) IS
'Adds documents to an organization, optionally into a folder (POST organizations/documents/add)';
COMMENT ON FUNCTION velt_update_documents(text, jsonb, jsonb) IS
'Updates documents of an organization (POST organizations/documents/update)';
COMMENT ON FUNCTION velt_delete_documents(text, text[], jsonb) IS
'Deletes documents of an organization (POST organizations/documents/delete)';
COMMENT ON FUNCTION velt_update_documents_access(text, text[], text, jsonb) IS
'Sets the access type of documents (POST organizations/documents/access/update)';
COMMENT ON FUNCTION velt_update_documents_disabled(text, text[], boolean, jsonb) IS
'Disables or enables documents (POST organizations/documents/access/disablestate/update)';
COMMENT ON FUNCTION velt_get_documents(text, text[], text, integer, jsonb) IS
'Reads documents of an organization or folder, all or by ID, as typed rows, following pages (POST organizations/documents/get)';
COMMENT ON FUNCTION velt_add_folders(text, jsonb, jsonb) IS
'Adds folders to an organization (POST organizations/folders/add)';
COMMENT ON FUNCTION velt_update_folders(text, jsonb, jsonb) IS
'Updates folders of an organization (POST organizations/folders/update)';
COMMENT ON FUNCTION velt_update_folders_access(text, text[], text, jsonb) IS
'Sets the access type of folders (POST organizations/folders/access/update)';

-- ---------------------------------------------------------------------
-- Enqueueing (C): writes into velt.outbox, delivered after COMMIT
-- ---------------------------------------------------------------------
COMMENT ON FUNCTION velt_enqueue_add_users(text, jsonb, text, text, jsonb) IS
'Queues velt_add_users for delivery after this transaction commits; returns the operation''s id in velt.outbox';
COMMENT ON FUNCTION velt_enqueue_delete_users(text, text[], text, text, jsonb) IS
'Queues velt_delete_users for delivery after this transaction commits; returns the operation''s id in velt.outbox';
COMMENT ON FUNCTION velt_enqueue_add_user_groups(text, jsonb, jsonb) IS
'Queues velt_add_user_groups for delivery after this transaction commits; returns the operation''s id in velt.outbox';
COMMENT ON FUNCTION velt_enqueue_add_users_to_group(text, text, text[], jsonb) IS
'Queues velt_add_users_to_group for delivery after this transaction commits; returns the operation''s id in velt.outbox';
COMMENT ON FUNCTION velt_enqueue_delete_users_from_group(text, text, text[], boolean, jsonb) IS
'Queues velt_delete_users_from_group for delivery after this transaction commits; returns the operation''s id in velt.outbox';

-- ---------------------------------------------------------------------
-- The outbox and what users read of it
-- ---------------------------------------------------------------------
COMMENT ON VIEW velt_outbox_status IS
'The outbox at a glance: operations and items per endpoint and state, the oldest pending age and the next attempt';
COMMENT ON VIEW velt_results IS
'Per-ID outcomes of delivered outbox operations, kept for velt.result_retention';
COMMENT ON COLUMN velt_results.operation_id IS 'The operation''s id in velt.outbox (what velt_enqueue_* returned)';
COMMENT ON COLUMN velt_results.id IS 'The caller''s ID of the item (a user, group member, ...)';
COMMENT ON COLUMN velt_results.success IS 'What Velt said of this ID; NULL when Velt said nothing';
COMMENT ON COLUMN velt_results.velt_id IS 'Velt''s own id for the item, when it gave one';
COMMENT ON COLUMN velt_results.result IS 'Velt''s whole answer for this ID';
COMMENT ON COLUMN velt_results.attempts IS 'Requests it took';
COMMENT ON COLUMN velt_results.last_error IS 'Why the operation failed, for a rejected or dead-lettered one';

COMMENT ON TABLE velt.outbox IS
'Operations waiting for delivery (pending), dead-lettered after retries (dead) or refused by Velt (rejected); delivered ones are deleted';
COMMENT ON COLUMN velt.outbox.xact IS 'The enqueueing transaction; its commit position in velt.commit_order orders delivery';
COMMENT ON COLUMN velt.outbox.endpoint IS 'The endpoint''s path, e.g. users/add';
COMMENT ON COLUMN velt.outbox.target IS 'The organization the operation belongs to';
COMMENT ON COLUMN velt.outbox.fixed IS 'The request''s data members besides the items (document, folder, group, options)';
COMMENT ON COLUMN velt.outbox.items IS 'The items as sent, or NULL when ids or item_values hold them';
COMMENT ON COLUMN velt.outbox.ids IS 'The ID of each item; empty for delete_all and when item_values holds the items';
COMMENT ON COLUMN velt.outbox.item_values IS 'Users from a trigger, one row per user: userId, name, email, photoUrl, accessRole';
COMMENT ON COLUMN velt.outbox.state IS 'pending, dead (retries ran out) or rejected (Velt refused it)';
COMMENT ON COLUMN velt.outbox.next_attempt_at IS 'Not delivered before this time (backoff, Retry-After)';
COMMENT ON COLUMN velt.outbox.last_error IS 'The last failure: endpoint, HTTP status or transport reason, and Velt''s message';
COMMENT ON COLUMN velt.outbox.enqueued_by IS 'The session user who enqueued it';
COMMENT ON SEQUENCE velt.outbox_id_seq IS 'Ids of velt.outbox operations';

COMMENT ON TABLE velt.outcomes IS
'Storage behind the view velt_results (per-ID outcomes of delivered operations); read the view';
COMMENT ON TABLE velt.commit_order IS
'The commit position of each transaction that enqueued, stamped at commit: delivery follows commit order, not enqueue order';
COMMENT ON SEQUENCE velt.commit_seq IS 'Commit positions for velt.commit_order';
COMMENT ON FUNCTION velt.stamp_commit() IS
'Deferred trigger on velt.commit_order: takes the transaction''s commit position as late as possible before COMMIT';

-- ---------------------------------------------------------------------
-- Internal helpers of the SQL functions and trigger functions
-- ---------------------------------------------------------------------
COMMENT ON FUNCTION velt.check_required(anyelement, text) IS
'Argument check inside velt''s SQL functions: refuses NULL, empty and malformed IDs and arrays (internal)';
COMMENT ON FUNCTION velt.check_optional(anyelement, text) IS
'As velt.check_required, but NULL (an argument left out) is allowed (internal)';
COMMENT ON FUNCTION velt.check_json(jsonb, text, text) IS
'As velt.check_required, for a jsonb argument that must be a JSON array or object (internal)';
COMMENT ON FUNCTION velt.reject_control_characters(text, text) IS
'Refuses text with a control character, with the C functions'' own message (internal)';
COMMENT ON FUNCTION velt.trigger_columns(text, oid, text[], text[], text[]) IS
'Reads a velt trigger''s key=column arguments and checks them against the table (internal)';
COMMENT ON FUNCTION velt.transition_tables(oid, name) IS
'The transition table names of a firing trigger (internal)';
COMMENT ON FUNCTION velt.members_sql(jsonb, text) IS
'The query reading organization, group and user from a transition table, for velt_group_members_trigger (internal)';

-- ---------------------------------------------------------------------
-- velt_request through the outbox (1.2): any endpoint, written at commit,
-- sent alone in the order of the organization data names, retried and
-- dead-lettered like the rest; Velt's whole result becomes its one row in
-- velt_results.
-- ---------------------------------------------------------------------
CREATE FUNCTION velt_enqueue_request(
	path text,
	data jsonb DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_request'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_request(text, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_request(text, jsonb, jsonb) IS
'Sends a request to any Velt endpoint after COMMIT, through the outbox (the arguments of velt_request); its result is kept in velt_results';

-- ---------------------------------------------------------------------
-- A durable twin for every per-ID write function (1.2): the synchronous
-- function's arguments and checks, the operation written to the outbox in
-- the caller's transaction and delivered after COMMIT.  One C function
-- serves them all: it finds the endpoint in the catalog from the twin's
-- name.  An organizations twin writes one operation per organization.
-- ---------------------------------------------------------------------

CREATE FUNCTION velt_enqueue_add_organizations(
	organizations jsonb,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_add_organizations(jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_add_organizations(jsonb, jsonb) IS
'Adds organizations after COMMIT, through the outbox: the arguments of velt_add_organizations; returns the id of the first operation (one per organization)';

CREATE FUNCTION velt_enqueue_update_organizations(
	organizations jsonb,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_update_organizations(jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_update_organizations(jsonb, jsonb) IS
'Updates the metadata of organizations after COMMIT, through the outbox: the arguments of velt_update_organizations; returns the id of the first operation (one per organization)';

CREATE FUNCTION velt_enqueue_delete_organizations(
	org_ids text[],
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_delete_organizations(text[], jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_delete_organizations(text[], jsonb) IS
'Deletes organizations with all they hold after COMMIT, through the outbox: the arguments of velt_delete_organizations; returns the id of the first operation (one per organization)';

CREATE FUNCTION velt_enqueue_update_organizations_disabled(
	org_ids text[],
	disabled boolean,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_update_organizations_disabled(text[], boolean, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_update_organizations_disabled(text[], boolean, jsonb) IS
'Disables or enables organizations after COMMIT, through the outbox: the arguments of velt_update_organizations_disabled; returns the id of the first operation (one per organization)';

CREATE FUNCTION velt_enqueue_add_documents(
	org text,
	documents jsonb,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_add_documents(text, jsonb, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_add_documents(text, jsonb, text, jsonb) IS
'Adds documents after COMMIT, through the outbox: the arguments of velt_add_documents; returns the operation id';

CREATE FUNCTION velt_enqueue_update_documents(
	org text,
	documents jsonb,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_update_documents(text, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_update_documents(text, jsonb, jsonb) IS
'Updates documents after COMMIT, through the outbox: the arguments of velt_update_documents; returns the operation id';

CREATE FUNCTION velt_enqueue_delete_documents(
	org text,
	document_ids text[],
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_delete_documents(text, text[], jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_delete_documents(text, text[], jsonb) IS
'Deletes documents after COMMIT, through the outbox: the arguments of velt_delete_documents; returns the operation id';

CREATE FUNCTION velt_enqueue_update_documents_access(
	org text,
	document_ids text[],
	access_type text,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_update_documents_access(text, text[], text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_update_documents_access(text, text[], text, jsonb) IS
'Sets the access type of documents after COMMIT, through the outbox: the arguments of velt_update_documents_access; returns the operation id';

CREATE FUNCTION velt_enqueue_update_documents_disabled(
	org text,
	document_ids text[],
	disabled boolean,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_update_documents_disabled(text, text[], boolean, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_update_documents_disabled(text, text[], boolean, jsonb) IS
'Disables or enables documents after COMMIT, through the outbox: the arguments of velt_update_documents_disabled; returns the operation id';

CREATE FUNCTION velt_enqueue_update_users(
	org text,
	users jsonb,
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_update_users(text, jsonb, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_update_users(text, jsonb, text, text, jsonb) IS
'Updates users after COMMIT, through the outbox: the arguments of velt_update_users; returns the operation id';

CREATE FUNCTION velt_enqueue_add_folders(
	org text,
	folders jsonb,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_add_folders(text, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_add_folders(text, jsonb, jsonb) IS
'Adds folders after COMMIT, through the outbox: the arguments of velt_add_folders; returns the operation id';

CREATE FUNCTION velt_enqueue_update_folders(
	org text,
	folders jsonb,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_update_folders(text, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_update_folders(text, jsonb, jsonb) IS
'Updates folders after COMMIT, through the outbox: the arguments of velt_update_folders; returns the operation id';

CREATE FUNCTION velt_enqueue_update_folders_access(
	org text,
	folder_ids text[],
	access_type text,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt_enqueue_update_folders_access(text, text[], text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt_enqueue_update_folders_access(text, text[], text, jsonb) IS
'Sets the access type of folders after COMMIT, through the outbox: the arguments of velt_update_folders_access; returns the operation id';
