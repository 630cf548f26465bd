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

-- ---------------------------------------------------------------------
-- Drift repair (1.2): velt_reconcile_users, velt_reconcile_documents and
-- velt_reconcile_group_members compare a table (mapped with key=column
-- arguments, as the trigger functions are) with what Velt holds for one
-- organization, return one row per difference and, with repair, queue
-- through the enqueue twins exactly the operations that make Velt equal
-- to the table.  See docs/reconcile.md.  This section is self-contained:
-- it needs only the objects above it, and nothing below refers to it.
--
-- The public functions are SECURITY DEFINER, so they read the caller's
-- table with the owner's rights: velt.reconcile_check_source (C) first
-- makes sure that the role running the statement could read the mapped
-- columns itself, and refuses views (their functions would run as the
-- owner) and tables whose row-level security applies to that role.
-- ---------------------------------------------------------------------

CREATE FUNCTION velt.reconcile_check_source(caller text, source regclass, columns text[])
RETURNS void
AS 'MODULE_PATHNAME', 'velt_reconcile_check_source'
LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION velt.reconcile_check_source(text, regclass, text[]) FROM PUBLIC;
COMMENT ON FUNCTION velt.reconcile_check_source(text, regclass, text[]) IS
'Refuses a reconcile whose caller could not read the mapped columns of the table in full (internal)';

-- The checked key=column mapping of a reconcile, as {"key": "column"};
-- raises before anything is read or sent.
CREATE FUNCTION velt.reconcile_columns(caller text, source regclass, org text, mapping text[],
									   repair boolean, max_items integer,
									   required text[], optional text[])
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	key text;
	columns jsonb;
BEGIN
	PERFORM velt.check_required(source, 'source'), velt.check_required(org, 'org'),
		velt.check_required(mapping, 'mapping'), velt.check_required(repair, 'repair');
	IF max_items < 1 THEN
		RAISE EXCEPTION 'max_items must be at least 1' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Pass NULL to compare everything.';
	END IF;
	FOREACH key IN ARRAY required LOOP
		IF NOT EXISTS (SELECT 1 FROM unnest(mapping) AS m WHERE split_part(m, '=', 1) = key) THEN
			RAISE EXCEPTION '%: no column given for %', caller, key
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('Pass ''%s=<column>'' in mapping.', key);
		END IF;
	END LOOP;
	columns := velt.trigger_columns(caller, source, mapping, required, optional);
	PERFORM velt.reconcile_check_source(caller, source,
		ARRAY(SELECT c.value FROM jsonb_each_text(columns) AS c));
	RETURN columns;
END $$;
REVOKE ALL ON FUNCTION velt.reconcile_columns(text, regclass, text, text[], boolean, integer, text[], text[]) FROM PUBLIC;
COMMENT ON FUNCTION velt.reconcile_columns(text, regclass, text, text[], boolean, integer, text[], text[]) IS
'Checks the arguments of a reconcile and returns its key=column mapping (internal)';

-- The table side of a reconcile: per row of the organization ($1), its ID
-- and the object velt would send, fields (key -> Velt's field) of the
-- mapped keys, NULL columns left out.  Rows with a NULL or empty ID are
-- left out too: the trigger functions refuse them, so Velt cannot have them.
CREATE FUNCTION velt.reconcile_table_sql(source regclass, columns jsonb, id_key text, fields jsonb)
RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT format('SELECT %1$s AS id, jsonb_strip_nulls(jsonb_build_object(%2$s)) AS obj '
				  'FROM %3$s WHERE %4$s = $1 AND %1$s <> %5$L',
		format('%I::text', columns ->> id_key),
		(SELECT string_agg(format('%L, %I::text', f.value, columns ->> f.key), ', ' ORDER BY f.key)
		 FROM jsonb_each_text(fields) AS f WHERE columns ? f.key),
		(SELECT format('%I.%I', n.nspname, c.relname)
		 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source),
		format('%I::text', columns ->> 'organization'), '')
$$;
REVOKE ALL ON FUNCTION velt.reconcile_table_sql(regclass, jsonb, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION velt.reconcile_table_sql(regclass, jsonb, text, jsonb) IS
'The query reading the rows of one organization from a reconciled table, as Velt objects (internal)';

-- The differences between the table side and the Velt side (queries with
-- the organization as $1), by ID, as a JSON array of {kind, id, in_table,
-- in_velt} ordered by ID and cut at max_items.  An ID in both differs when
-- a field the table has (not NULL) has another value in Velt.
CREATE FUNCTION velt.reconcile_diff(caller text, source regclass, table_sql text, velt_sql text,
									org text, id_field text, max_items integer)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	repeated text;
	diffs jsonb;
BEGIN
	EXECUTE format('SELECT id FROM (%s) t GROUP BY id HAVING count(*) > 1 ORDER BY id COLLATE "C" LIMIT 1',
				   table_sql) INTO repeated USING org;
	IF repeated IS NOT NULL THEN
		RAISE EXCEPTION '%: ID "%" is in more than one row of table % for organization "%"',
			caller, repeated, source, org
			USING ERRCODE = 'cardinality_violation', HINT = 'Velt holds one record per ID.';
	END IF;
	EXECUTE format($q$
		WITH t AS (%s), v AS (%s),
		d AS (
			SELECT CASE WHEN v.id IS NULL THEN 'missing_in_velt'
						WHEN t.id IS NULL THEN 'extra_in_velt'
						WHEN EXISTS (SELECT 1 FROM jsonb_each_text(t.obj - $2) AS f
									 WHERE f.value IS DISTINCT FROM v.obj ->> f.key) THEN 'different'
				   END AS kind,
				   COALESCE(t.id, v.id) AS id, t.obj AS in_table, v.obj AS in_velt
			FROM t FULL JOIN v ON v.id = t.id)
		SELECT COALESCE(jsonb_agg(to_jsonb(d) ORDER BY d.id COLLATE "C"), '[]')
		FROM (SELECT * FROM d WHERE kind IS NOT NULL ORDER BY id COLLATE "C" LIMIT $3) AS d$q$,
		table_sql, velt_sql) INTO diffs USING org, id_field, max_items;
	RETURN diffs;
END $$;
REVOKE ALL ON FUNCTION velt.reconcile_diff(text, regclass, text, text, text, text, integer) FROM PUBLIC;
COMMENT ON FUNCTION velt.reconcile_diff(text, regclass, text, text, text, text, integer) IS
'Compares the rows of a reconciled table with Velt''s records by ID; returns the differences as JSON (internal)';

-- The members of one user group, following page tokens (POST users/get
-- with organizationUserGroupIds).
CREATE FUNCTION velt.group_members(org text, group_id text)
RETURNS TABLE(id text, member jsonb)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	answer jsonb;
	token text;
	pages int := 0;
BEGIN
	LOOP
		answer := @extschema@.velt_request('users/get', jsonb_strip_nulls(jsonb_build_object(
			'organizationId', org, 'organizationUserGroupIds', jsonb_build_array(group_id),
			'pageToken', token)));
		IF jsonb_typeof(COALESCE(answer -> 'data', '[]')) <> 'array' THEN
			RAISE EXCEPTION 'Velt''s answer is not shaped as documented: "result.data" is not an array'
				USING ERRCODE = 'protocol_violation';
		END IF;
		RETURN QUERY SELECT u ->> 'userId', u FROM jsonb_array_elements(COALESCE(answer -> 'data', '[]')) AS u;
		pages := pages + 1;
		EXIT WHEN COALESCE(answer ->> 'nextPageToken', '') = '' OR pages >= 100000;
		IF answer ->> 'nextPageToken' = token THEN
			RAISE EXCEPTION 'Velt''s answer is not shaped as documented: it repeats the previous page token'
				USING ERRCODE = 'protocol_violation';
		END IF;
		token := answer ->> 'nextPageToken';
	END LOOP;
END $$;
REVOKE ALL ON FUNCTION velt.group_members(text, text) FROM PUBLIC;
COMMENT ON FUNCTION velt.group_members(text, text) IS
'Reads the members of one user group of an organization, following pages (POST users/get; internal)';

CREATE FUNCTION velt.reconcile_users_impl(source regclass, org text, mapping text[],
									 repair boolean DEFAULT false, max_items integer DEFAULT NULL)
RETURNS TABLE(kind text, id text, in_table jsonb, in_velt jsonb)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	columns jsonb := velt.reconcile_columns('velt_reconcile_users', source, org, mapping, repair,
		max_items, ARRAY['organization', 'user_id'], ARRAY['name', 'email', 'photo_url', 'role']);
	diffs jsonb;
	upserts jsonb;
	gone text[];
BEGIN
	diffs := velt.reconcile_diff('velt_reconcile_users', source,
		velt.reconcile_table_sql(source, columns, 'user_id', '{"user_id": "userId", "name": "name",
			"email": "email", "photo_url": "photoUrl", "role": "accessRole"}'),
		'SELECT id, "user" AS obj FROM @extschema@.velt_get_users($1) WHERE id IS NOT NULL',
		org, 'userId', max_items);
	IF repair THEN
		-- users/add adds or updates: the trigger sends it for an UPDATE too
		SELECT jsonb_agg(d.e -> 'in_table' ORDER BY d.n) FILTER (WHERE d.e ->> 'kind' <> 'extra_in_velt'),
			   array_agg(d.e ->> 'id' ORDER BY d.n) FILTER (WHERE d.e ->> 'kind' = 'extra_in_velt')
		INTO upserts, gone FROM jsonb_array_elements(diffs) WITH ORDINALITY AS d(e, n);
		IF upserts IS NOT NULL THEN
			PERFORM @extschema@.velt_enqueue_add_users(org, upserts);
		END IF;
		IF gone IS NOT NULL THEN
			PERFORM @extschema@.velt_enqueue_delete_users(org, gone);
		END IF;
	END IF;
	RETURN QUERY SELECT d.e ->> 'kind', d.e ->> 'id', NULLIF(d.e -> 'in_table', 'null'),
						NULLIF(d.e -> 'in_velt', 'null')
		FROM jsonb_array_elements(diffs) WITH ORDINALITY AS d(e, n) ORDER BY d.n;
END $$;
REVOKE ALL ON FUNCTION velt.reconcile_users_impl(regclass, text, text[], boolean, integer) FROM PUBLIC;
COMMENT ON FUNCTION velt.reconcile_users_impl(regclass, text, text[], boolean, integer) IS
'The body of velt_reconcile_users, run as the extension owner once the caller''s rights are checked (internal)';
CREATE FUNCTION velt_reconcile_users(source regclass, org text, mapping text[],
	repair boolean DEFAULT false, max_items integer DEFAULT NULL)
RETURNS TABLE(kind text, id text, in_table jsonb, in_velt jsonb)
AS 'MODULE_PATHNAME', 'velt_reconcile'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION velt_reconcile_users(regclass, text, text[], boolean, integer) FROM PUBLIC;
COMMENT ON FUNCTION velt_reconcile_users(regclass, text, text[], boolean, integer) IS
'Compares a table''s users (key=column mapping) with Velt''s users of an organization; one row per difference; with repair, queues the adds and deletes that make Velt equal to the table';

CREATE FUNCTION velt.reconcile_documents_impl(source regclass, org text, mapping text[],
										 repair boolean DEFAULT false, max_items integer DEFAULT NULL)
RETURNS TABLE(kind text, id text, in_table jsonb, in_velt jsonb)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	columns jsonb := velt.reconcile_columns('velt_reconcile_documents', source, org, mapping, repair,
		max_items, ARRAY['organization', 'document_id'], ARRAY['name']);
	diffs jsonb;
	added jsonb;
	changed jsonb;
	gone text[];
BEGIN
	diffs := velt.reconcile_diff('velt_reconcile_documents', source,
		velt.reconcile_table_sql(source, columns, 'document_id',
			'{"document_id": "documentId", "name": "documentName"}'),
		'SELECT id, document AS obj FROM @extschema@.velt_get_documents($1) WHERE id IS NOT NULL',
		org, 'documentId', max_items);
	IF repair THEN
		-- documents/add refuses a document that exists: a changed one is updated
		SELECT jsonb_agg(d.e -> 'in_table' ORDER BY d.n) FILTER (WHERE d.e ->> 'kind' = 'missing_in_velt'),
			   jsonb_agg(d.e -> 'in_table' ORDER BY d.n) FILTER (WHERE d.e ->> 'kind' = 'different'),
			   array_agg(d.e ->> 'id' ORDER BY d.n) FILTER (WHERE d.e ->> 'kind' = 'extra_in_velt')
		INTO added, changed, gone FROM jsonb_array_elements(diffs) WITH ORDINALITY AS d(e, n);
		IF added IS NOT NULL THEN
			PERFORM @extschema@.velt_enqueue_add_documents(org, added);
		END IF;
		IF changed IS NOT NULL THEN
			PERFORM @extschema@.velt_enqueue_update_documents(org, changed);
		END IF;
		IF gone IS NOT NULL THEN
			PERFORM @extschema@.velt_enqueue_delete_documents(org, gone);
		END IF;
	END IF;
	RETURN QUERY SELECT d.e ->> 'kind', d.e ->> 'id', NULLIF(d.e -> 'in_table', 'null'),
						NULLIF(d.e -> 'in_velt', 'null')
		FROM jsonb_array_elements(diffs) WITH ORDINALITY AS d(e, n) ORDER BY d.n;
END $$;
REVOKE ALL ON FUNCTION velt.reconcile_documents_impl(regclass, text, text[], boolean, integer) FROM PUBLIC;
COMMENT ON FUNCTION velt.reconcile_documents_impl(regclass, text, text[], boolean, integer) IS
'The body of velt_reconcile_documents, run as the extension owner once the caller''s rights are checked (internal)';
CREATE FUNCTION velt_reconcile_documents(source regclass, org text, mapping text[],
	repair boolean DEFAULT false, max_items integer DEFAULT NULL)
RETURNS TABLE(kind text, id text, in_table jsonb, in_velt jsonb)
AS 'MODULE_PATHNAME', 'velt_reconcile'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION velt_reconcile_documents(regclass, text, text[], boolean, integer) FROM PUBLIC;
COMMENT ON FUNCTION velt_reconcile_documents(regclass, text, text[], boolean, integer) IS
'Compares a table''s documents (key=column mapping) with Velt''s documents of an organization; one row per difference; with repair, queues the adds, updates and deletes that make Velt equal to the table';

CREATE FUNCTION velt.reconcile_group_members_impl(source regclass, org text, mapping text[],
											 repair boolean DEFAULT false, max_items integer DEFAULT NULL)
RETURNS TABLE(kind text, group_id text, id text, in_table jsonb, in_velt jsonb)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	columns jsonb := velt.reconcile_columns('velt_reconcile_group_members', source, org, mapping,
		repair, max_items, ARRAY['organization', 'group', 'user_id'], ARRAY[]::text[]);
	diffs jsonb;
	r record;
BEGIN
	-- the groups the table names, each read from Velt; a membership is a
	-- (group, user) pair, so there is no "different"
	EXECUTE format($q$
		WITH t AS (SELECT DISTINCT %1$s AS grp, %2$s AS id FROM %3$s
				   WHERE %4$s = $1 AND %1$s <> '' AND %2$s <> ''),
		v AS (SELECT g.grp, m.id, m.member
			  FROM (SELECT DISTINCT grp FROM t) AS g, LATERAL velt.group_members($1, g.grp) AS m),
		d AS (SELECT CASE WHEN v.id IS NULL THEN 'missing_in_velt' ELSE 'extra_in_velt' END AS kind,
					 COALESCE(t.grp, v.grp) AS group_id, COALESCE(t.id, v.id) AS id,
					 CASE WHEN t.id IS NOT NULL THEN
						 jsonb_build_object('organizationUserGroupId', t.grp, 'userId', t.id) END AS in_table,
					 v.member AS in_velt
			  FROM t FULL JOIN v ON v.grp = t.grp AND v.id = t.id
			  WHERE t.id IS NULL OR v.id IS NULL)
		SELECT COALESCE(jsonb_agg(to_jsonb(d) ORDER BY d.group_id COLLATE "C", d.id COLLATE "C"), '[]')
		FROM (SELECT * FROM d ORDER BY group_id COLLATE "C", id COLLATE "C" LIMIT $2) AS d$q$,
		format('%I::text', columns ->> 'group'), format('%I::text', columns ->> 'user_id'),
		(SELECT format('%I.%I', n.nspname, c.relname)
		 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source),
		format('%I::text', columns ->> 'organization')) INTO diffs USING org, max_items;
	IF repair THEN
		FOR r IN SELECT d.e ->> 'group_id' AS grp, d.e ->> 'kind' AS change,
						array_agg(d.e ->> 'id' ORDER BY d.n) AS ids
				 FROM jsonb_array_elements(diffs) WITH ORDINALITY AS d(e, n)
				 GROUP BY 1, 2 ORDER BY 1, 2
		LOOP
			IF r.change = 'missing_in_velt' THEN
				PERFORM @extschema@.velt_enqueue_add_users_to_group(org, r.grp, r.ids);
			ELSE
				PERFORM @extschema@.velt_enqueue_delete_users_from_group(org, r.grp, r.ids);
			END IF;
		END LOOP;
	END IF;
	RETURN QUERY SELECT d.e ->> 'kind', d.e ->> 'group_id', d.e ->> 'id',
						NULLIF(d.e -> 'in_table', 'null'), NULLIF(d.e -> 'in_velt', 'null')
		FROM jsonb_array_elements(diffs) WITH ORDINALITY AS d(e, n) ORDER BY d.n;
END $$;
REVOKE ALL ON FUNCTION velt.reconcile_group_members_impl(regclass, text, text[], boolean, integer) FROM PUBLIC;
COMMENT ON FUNCTION velt.reconcile_group_members_impl(regclass, text, text[], boolean, integer) IS
'The body of velt_reconcile_group_members, run as the extension owner once the caller''s rights are checked (internal)';
CREATE FUNCTION velt_reconcile_group_members(source regclass, org text, mapping text[],
	repair boolean DEFAULT false, max_items integer DEFAULT NULL)
RETURNS TABLE(kind text, group_id text, id text, in_table jsonb, in_velt jsonb)
AS 'MODULE_PATHNAME', 'velt_reconcile'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION velt_reconcile_group_members(regclass, text, text[], boolean, integer) FROM PUBLIC;
COMMENT ON FUNCTION velt_reconcile_group_members(regclass, text, text[], boolean, integer) IS
'Compares a table''s user-group memberships (key=column mapping) with the members Velt holds for each group the table names; one row per difference; with repair, queues the adds and removals that make Velt equal to the table';

-- Trigger functions (1.2): velt_documents_trigger, and deletes decided by
-- the table rather than by the order in which rows fired.
--
-- A row-level trigger that enqueued "delete the old key" per row lost IDs
-- that moved between rows: UPDATE t SET id = id + 1 deletes 2 after adding
-- it.  The trigger functions now hand the keys that left rows to
-- velt.trigger_removals (C, src/removals.c; velt_users_trigger calls the
-- same code directly), which reads the table back once the statement's
-- triggers have fired and deletes only the keys no row holds any more.
-- A statement-level firing does the same at once, so that a statement
-- under a deferred unique key (one row takes an ID another row gives up
-- in a later statement) ends right too.  Section self-contained: it only
-- adds and replaces trigger objects.
-- ---------------------------------------------------------------------

-- The deletes of the PL/pgSQL trigger functions: records orgs[i],
-- scopes[i] (the group; NULL for documents), ids[i] as keys that left
-- rows of relid; at_once resolves them now (a statement-level firing),
-- otherwise when the statement's AFTER triggers have all fired.
CREATE FUNCTION velt.trigger_removals(trigger_function text, relid oid, mapping jsonb,
									  orgs text[], scopes text[], ids text[], at_once boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'velt_trigger_removals'
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION velt.trigger_removals(text, oid, jsonb, text[], text[], text[], boolean) FROM PUBLIC;
COMMENT ON FUNCTION velt.trigger_removals(text, oid, jsonb, text[], text[], text[], boolean) IS
'Keys that left rows of a table, from a velt trigger function: deletes those no row holds once the statement has fired (internal)';

-- As in 1.0, with one addition: the key disabled (velt_documents_trigger)
-- takes a boolean column, and only that.
CREATE OR REPLACE FUNCTION velt.trigger_columns(
	trigger_function text, relid oid, args text[],
	required text[], optional text[])
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
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
		-- output functions are safe to run with the trigger owner's rights.
		-- Only a base type counts as citext: creating one takes a superuser,
		-- where the owner of a trusted extension could add a type of its own.
		IF (CASE WHEN key = 'disabled' THEN typ <> 'boolean'::regtype
				 ELSE NOT typ = ANY (allowed_types) AND NOT EXISTS (
					 SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
						  JOIN pg_type bt ON bt.oid = d.objid
					 WHERE d.classid = 'pg_type'::regclass AND d.objid = typ
					   AND d.refclassid = 'pg_extension'::regclass AND e.extname = 'citext'
					   AND bt.typtype = 'b') END) THEN
			RAISE EXCEPTION '%: column "%" (for %) of table % has type %, which cannot be sent to Velt',
				trigger_function, col, key, relid::regclass, typ
				USING ERRCODE = 'datatype_mismatch',
					  HINT = CASE WHEN key = 'disabled' THEN 'Use a boolean column.'
								  ELSE 'Use a text, integer or uuid column.' END;
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

-- As in 1.0, but a membership that ends is handed to
-- velt.trigger_removals: it is deleted only if no row holds it once the
-- statement has fired.  The add of a row-level firing comes first.
CREATE OR REPLACE FUNCTION velt_group_members_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET work_mem = '64MB' AS $$
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
			PERFORM @extschema@.velt_enqueue_add_users_to_group(new_key[1], new_key[2], ARRAY[new_key[3]]);
		END IF;
		IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN
			PERFORM velt.trigger_removals('velt_group_members_trigger', TG_RELID, m,
				ARRAY[old_key[1]], ARRAY[old_key[2]], ARRAY[old_key[3]], false);
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

	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		-- memberships that ended (for an UPDATE: not among the new rows)
		EXECUTE 'SELECT array_agg(org) AS orgs, array_agg(grp) AS grps, array_agg(uid) AS ids FROM ('
			'  SELECT * FROM (' || velt.members_sql(m, tt.old_table) || ') o'
			|| CASE WHEN TG_OP = 'UPDATE'
					THEN '  EXCEPT SELECT * FROM (' || velt.members_sql(m, tt.new_table) || ') n'
					ELSE '' END
			|| ') gone' INTO r;
		PERFORM velt.trigger_removals('velt_group_members_trigger', TG_RELID, m,
			r.orgs, r.grps, r.ids, true);
	END IF;
	IF TG_OP = 'DELETE' THEN
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

-- The document rows of source (a quoted transition table name, or a
-- subquery over a row passed as a parameter): organization, document ID,
-- name, folder and access type as text (an empty folder or access type is
-- none), disabled as boolean; an unmapped column is NULL.  Built with
-- format(), so nothing in a name is read as SQL.
CREATE FUNCTION velt.documents_sql(mapping jsonb, source text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT format('SELECT %s AS org, %s AS id, %s AS name, NULLIF(%s, '''') AS folder, '
				  'NULLIF(%s, '''') AS access, %s AS disabled FROM %s',
		format('%I::text', mapping->>'organization'),
		format('%I::text', mapping->>'document_id'),
		CASE WHEN mapping ? 'name' THEN format('%I::text', mapping->>'name') ELSE 'NULL::text' END,
		CASE WHEN mapping ? 'folder' THEN format('%I::text', mapping->>'folder') ELSE 'NULL::text' END,
		CASE WHEN mapping ? 'access' THEN format('%I::text', mapping->>'access') ELSE 'NULL::text' END,
		CASE WHEN mapping ? 'disabled' THEN format('%I::boolean', mapping->>'disabled')
			 ELSE 'NULL::boolean' END,
		source)
$$;
REVOKE ALL ON FUNCTION velt.documents_sql(jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION velt.documents_sql(jsonb, text) IS
'The query reading organization, document, name, folder, access type and disabled state from rows, for velt_documents_trigger (internal)';

-- The query that decides velt_documents_trigger's operations, after rows_sql
-- (the WITH clause naming the old rows velt_old_rows and the new rows
-- velt_new_rows, one per document key).  One row per operation, in the
-- order to write them (step, then organization and value):
--   1 gone: keys of old rows that no new row has, per organization, for
--     velt.trigger_removals (deleted if no row of the table holds them);
--   2 add: keys of new rows that no old row had, per organization and
--     folder: documents/add with their names;
--   3 update (an UPDATE only): the names of new keys (Velt refuses to add a
--     document it has, as when IDs are swapped or renumbered between rows)
--     and changed names of kept keys;
--   4 access, 5 disabled: per organization and value, the access types and
--     disabled states that are set and new or changed.
-- A NULL name, access type or disabled state is not sent; a folder change
-- is not sent either (documents/move has no outbox twin).
CREATE FUNCTION velt.document_changes_sql(rows_sql text, updating boolean) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT rows_sql
		|| 'SELECT 1 AS step, o.org, NULL::text AS folder, NULL::text AS access, NULL::boolean AS disabled, '
		   'array_agg(o.id ORDER BY o.id) AS ids, NULL::jsonb AS docs FROM velt_old_rows o '
		   'WHERE NOT EXISTS (SELECT FROM velt_new_rows n WHERE n.org = o.org AND n.id = o.id) GROUP BY o.org '
		|| 'UNION ALL SELECT 2, n.org, n.folder, NULL, NULL, NULL, jsonb_agg(jsonb_strip_nulls(jsonb_build_object('
		   '''documentId'', n.id, ''documentName'', n.name)) ORDER BY n.id) FROM velt_new_rows n '
		   'WHERE NOT EXISTS (SELECT FROM velt_old_rows o WHERE o.org = n.org AND o.id = n.id) '
		   'GROUP BY n.org, n.folder '
		|| CASE WHEN updating THEN
		   'UNION ALL SELECT 3, n.org, NULL, NULL, NULL, NULL, jsonb_agg(jsonb_build_object(''documentId'', n.id, '
		   '''documentName'', n.name) ORDER BY n.id) FROM velt_new_rows n '
		   'LEFT JOIN velt_old_rows o ON o.org = n.org AND o.id = n.id '
		   'WHERE n.name IS NOT NULL AND o.name IS DISTINCT FROM n.name GROUP BY n.org ' ELSE '' END
		|| 'UNION ALL SELECT 4, n.org, NULL, n.access, NULL, array_agg(n.id ORDER BY n.id), NULL '
		   'FROM velt_new_rows n LEFT JOIN velt_old_rows o ON o.org = n.org AND o.id = n.id '
		   'WHERE n.access IS NOT NULL AND (o.id IS NULL OR o.access IS DISTINCT FROM n.access) '
		   'GROUP BY n.org, n.access '
		|| 'UNION ALL SELECT 5, n.org, NULL, NULL, n.disabled, array_agg(n.id ORDER BY n.id), NULL '
		   'FROM velt_new_rows n LEFT JOIN velt_old_rows o ON o.org = n.org AND o.id = n.id '
		   'WHERE n.disabled IS NOT NULL AND (o.id IS NULL OR o.disabled IS DISTINCT FROM n.disabled) '
		   'GROUP BY n.org, n.disabled '
		|| 'ORDER BY 1, 2, 3, 4, 5'
$$;
REVOKE ALL ON FUNCTION velt.document_changes_sql(text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION velt.document_changes_sql(text, boolean) IS
'The query deciding the outbox operations of one firing of velt_documents_trigger (internal)';

-- Keeps an application's documents table in step with Velt's documents
-- through the outbox, FOR EACH ROW or FOR EACH STATEMENT: the old rows
-- (none for INSERT) and the new rows (none for DELETE) are two relations,
-- the row itself or the transition tables, and one set-based query
-- (velt.document_changes_sql) decides for both levels; this function
-- writes what it decided.
CREATE FUNCTION velt_documents_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET work_mem = '64MB' AS $$
DECLARE
	m jsonb := velt.trigger_columns('velt_documents_trigger', TG_RELID, TG_ARGV,
		ARRAY['organization', 'document_id'], ARRAY['name', 'folder', 'access', 'disabled']);
	tt record;
	old_source text := '(SELECT ($1).* WHERE false) r';
	new_source text := '(SELECT ($2).* WHERE false) r';
	rows_sql text;
	r record;
BEGIN
	IF TG_WHEN <> 'AFTER' THEN
		RAISE EXCEPTION 'velt_documents_trigger must be an AFTER trigger'
			USING ERRCODE = 'trigger_protocol_violated';
	END IF;
	IF TG_LEVEL = 'ROW' THEN
		old_source := CASE WHEN TG_OP <> 'INSERT' THEN '(SELECT ($1).*) r' ELSE old_source END;
		new_source := CASE WHEN TG_OP <> 'DELETE' THEN '(SELECT ($2).*) r' ELSE new_source END;
	ELSE
		tt := velt.transition_tables(TG_RELID, TG_NAME);
		IF (TG_OP IN ('INSERT', 'UPDATE') AND tt.new_table IS NULL) OR
		   (TG_OP IN ('UPDATE', 'DELETE') AND tt.old_table IS NULL) THEN
			RAISE EXCEPTION 'velt_documents_trigger FOR EACH STATEMENT needs its transition tables'
				USING ERRCODE = 'invalid_object_definition',
					  HINT = 'Declare REFERENCING NEW TABLE AS ... (INSERT, UPDATE) and OLD TABLE AS ... (UPDATE, DELETE).';
		END IF;
		old_source := COALESCE(quote_ident(tt.old_table), old_source);
		new_source := COALESCE(quote_ident(tt.new_table), new_source);
	END IF;
	rows_sql := format('WITH velt_old_rows AS (SELECT DISTINCT ON (org, id) * FROM (%s) o0 ORDER BY org, id), '
					   'velt_new_rows AS (SELECT DISTINCT ON (org, id) * FROM (%s) n0 ORDER BY org, id) ',
					   velt.documents_sql(m, old_source), velt.documents_sql(m, new_source));

	EXECUTE rows_sql || 'SELECT CASE WHEN COALESCE(org, '''') = '''' THEN ''organization'' ELSE ''document_id'' END AS key, '
		'CASE WHEN COALESCE(org, '''') = '''' THEN org IS NULL ELSE id IS NULL END AS is_null '
		'FROM velt_new_rows WHERE COALESCE(org, '''') = '''' OR COALESCE(id, '''') = '''' LIMIT 1'
		INTO r USING OLD, NEW;
	IF r.key IS NOT NULL THEN
		RAISE EXCEPTION 'velt_documents_trigger: column "%" (%) is % in a row of table %',
			m->>r.key, r.key, CASE WHEN r.is_null THEN 'NULL' ELSE 'empty' END, TG_TABLE_NAME
			USING ERRCODE = CASE WHEN r.is_null THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END,
				  HINT = 'Velt needs an organization and a document ID for every document.';
	END IF;

	FOR r IN EXECUTE velt.document_changes_sql(rows_sql, TG_OP = 'UPDATE') USING OLD, NEW LOOP
		CASE r.step
			WHEN 1 THEN
				PERFORM velt.trigger_removals('velt_documents_trigger', TG_RELID, m,
					array_fill(r.org, ARRAY[cardinality(r.ids)]), NULL, r.ids, TG_LEVEL = 'STATEMENT');
			WHEN 2 THEN
				PERFORM @extschema@.velt_enqueue_add_documents(r.org, r.docs, r.folder);
			WHEN 3 THEN
				PERFORM @extschema@.velt_enqueue_update_documents(r.org, r.docs);
			WHEN 4 THEN
				PERFORM @extschema@.velt_enqueue_update_documents_access(r.org, r.ids, r.access);
			ELSE
				PERFORM @extschema@.velt_enqueue_update_documents_disabled(r.org, r.ids, r.disabled);
		END CASE;
	END LOOP;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION velt_documents_trigger() FROM PUBLIC;
COMMENT ON FUNCTION velt_documents_trigger() IS
'Trigger: keeps Velt documents in sync through the outbox; arguments map columns (organization=, document_id=, name=, folder=, access=, disabled=)';

-- statistics

CREATE FUNCTION velt_stats(
	OUT endpoint text, OUT caller text, OUT calls bigint, OUT requests bigint,
	OUT items bigint, OUT successes bigint, OUT failures bigint,
	OUT transport_errors bigint, OUT client_errors bigint, OUT rate_limited bigint,
	OUT server_errors bigint, OUT malformed bigint, OUT retries bigint,
	OUT bytes_sent bigint, OUT bytes_received bigint,
	OUT total_time_ms double precision, OUT max_time_ms double precision,
	OUT p50_ms double precision, OUT p95_ms double precision, OUT p99_ms double precision,
	OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'velt_stats'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION velt_stats() FROM PUBLIC;
COMMENT ON FUNCTION velt_stats() IS
'The counters behind the view velt_stats, read from shared memory (needs velt in shared_preload_libraries)';

CREATE VIEW velt_stats AS
	SELECT * FROM velt_stats();
REVOKE ALL ON velt_stats FROM PUBLIC;
COMMENT ON VIEW velt_stats IS
'Cumulative statistics of requests to Velt since stats_reset, one row per endpoint and caller kind (call or drain); see docs/statistics.md';

CREATE FUNCTION velt_stats_reset()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'velt_stats_reset'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION velt_stats_reset() FROM PUBLIC;
COMMENT ON FUNCTION velt_stats_reset() IS
'Sets every counter of velt_stats to zero and returns the new stats_reset';

-- ---------------------------------------------------------------------
-- workers
-- One delivery worker per database of velt.databases, started by the
-- launcher (1.2).  velt_workers shows each from shared memory; like
-- velt_outbox_status it is for the operator, not for PUBLIC.
-- ---------------------------------------------------------------------
CREATE FUNCTION velt.workers(OUT database text, OUT pid integer, OUT state text,
							 OUT started_at timestamptz, OUT last_round_at timestamptz,
							 OUT rounds bigint, OUT items_delivered bigint,
							 OUT dead_letters bigint, OUT last_error text,
							 OUT last_error_at timestamptz, OUT next_wakeup_at timestamptz)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'velt_workers';
REVOKE ALL ON FUNCTION velt.workers() FROM PUBLIC;
COMMENT ON FUNCTION velt.workers() IS
'Internal: the delivery workers'' shared state, one row per database; read it through velt_workers';

CREATE VIEW velt_workers AS
	SELECT database, pid, state, started_at, last_round_at, rounds, items_delivered,
		   dead_letters, last_error, last_error_at, next_wakeup_at
	FROM velt.workers();
REVOKE ALL ON velt_workers FROM PUBLIC;
COMMENT ON VIEW velt_workers IS
'The outbox delivery workers, one per database of velt.databases: state (starting, idle, delivering, paused, outage, waiting for extension, stopped), rounds, items delivered, dead letters, last error (endpoint, status, message) and next wake-up; empty without velt preloaded';
