/* velt--1.0--1.1.sql: stricter input checks in the SQL functions; pg_temp last in every search_path */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION velt UPDATE TO '1.1'" to load this file. \quit

-- The C functions refuse IDs with control characters, SQL arrays with more
-- than one dimension and empty array elements; in 1.0 the functions written
-- in SQL checked only for NULL and empty values, so they sent such input to
-- Velt.  velt.require now applies the C functions' rules, and the new
-- velt.optional applies them to arguments that may be NULL.

-- Raises if text has a control character (U+0001 to U+001F, U+007F): the
-- C functions' own check and message.
CREATE FUNCTION velt.reject_control_characters(value text, name text) RETURNS void
AS 'MODULE_PATHNAME', 'velt_sql_reject_control_characters'
LANGUAGE C IMMUTABLE STRICT;

CREATE OR REPLACE FUNCTION velt.require(value anyelement, name text) RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	type text := pg_typeof(value)::text;
	ids text[];
	i int;
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', name USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF (type = 'jsonb' AND value::text IN ('[]', '{}'))
	   OR (type = 'text[]' AND value::text = '{}')
	   OR (type = 'text' AND value::text = '') THEN
		RAISE EXCEPTION '% must not be empty', name USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF type = 'text' THEN
		PERFORM velt.reject_control_characters(value::text, name);
	ELSIF type = 'text[]' THEN
		ids := value::text::text[];
		IF array_ndims(ids) > 1 THEN
			RAISE EXCEPTION '% must be a one-dimensional array', name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR i IN array_lower(ids, 1) .. array_upper(ids, 1) LOOP
			IF ids[i] IS NULL THEN
				RAISE EXCEPTION '%[%] is NULL', name, i USING ERRCODE = 'null_value_not_allowed';
			ELSIF ids[i] = '' THEN
				RAISE EXCEPTION '%[%] is empty', name, i USING ERRCODE = 'invalid_parameter_value';
			END IF;
			PERFORM velt.reject_control_characters(ids[i], format('%s[%s]', name, i));
		END LOOP;
	END IF;
	RETURN value;
END $$;

-- As velt.require, but NULL (leaving the argument out) is allowed.
CREATE FUNCTION velt.optional(value anyelement, name text) RETURNS anyelement
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN value IS NULL THEN value ELSE velt.require(value, name) END
$$;

-- velt.require for jsonb that must be a JSON array or object (kind).
CREATE FUNCTION velt.require_json(value jsonb, name text, kind text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM velt.require(value, name);
	IF jsonb_typeof(value) IS DISTINCT FROM kind THEN
		RAISE EXCEPTION '% must be a JSON %', name, kind USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN value;
END $$;

REVOKE ALL ON FUNCTION velt.reject_control_characters(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt.optional(anyelement, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt.require_json(jsonb, text, text) FROM PUBLIC;

-- The functions whose optional or JSON arguments were not checked.
CREATE OR REPLACE FUNCTION velt_add_permissions(user_id text, resources jsonb, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('auth/permissions/add',
		jsonb_build_object('user', jsonb_build_object('userId', velt.require(user_id, 'user_id')),
						   'permissions', jsonb_build_object('resources',
															 velt.require_json(resources, 'resources', 'array'))),
		options)
$$;

CREATE OR REPLACE FUNCTION velt_remove_permissions(user_id text, resources jsonb, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('auth/permissions/remove',
		jsonb_build_object('userId', velt.require(user_id, 'user_id'),
						   'permissions', jsonb_build_object('resources',
															 velt.require_json(resources, 'resources', 'array'))),
		options)
$$;

CREATE OR REPLACE FUNCTION velt_generate_token(user_id text, user_properties jsonb, resources jsonb DEFAULT NULL,
											   options jsonb DEFAULT NULL)
RETURNS text LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('v2/auth/generate_token',
		jsonb_strip_nulls(jsonb_build_object('userId', velt.require(user_id, 'user_id'),
			'userProperties', velt.require_json(user_properties, 'user_properties', 'object'),
			'permissions', CASE WHEN resources IS NULL THEN NULL
								ELSE jsonb_build_object('resources',
														velt.require_json(resources, 'resources', 'array')) END)),
		options) -> 'data' ->> 'token'
$$;

CREATE OR REPLACE FUNCTION velt_delete_user_data(user_ids text[], org_ids text[] DEFAULT NULL, options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT @extschema@.velt_request('users/data/delete',
		jsonb_strip_nulls(jsonb_build_object('userIds', to_jsonb(velt.require(user_ids, 'user_ids')),
											 'organizationIds', to_jsonb(velt.optional(org_ids, 'org_ids')))),
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
				'organizationId', velt.require(org, 'org'),
				'userIds', to_jsonb(velt.require(user_ids, 'user_ids')),
				'folderIds', to_jsonb(velt.optional(folder_ids, 'folder_ids')),
				'documentIds', to_jsonb(velt.optional(document_ids, 'document_ids')))),
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
			jsonb_strip_nulls(jsonb_build_object('organizationId', velt.require(org, 'org'),
												 'folderId', velt.optional(folder_id, 'folder_id'),
												 'maxDepth', max_depth)),
			options) -> 'data', '[]')) AS f
$$;

-- Every function that sets its search_path (all that run with the owner's
-- rights, and the helpers they call) now names pg_temp, last.  In 1.0 it was
-- "pg_catalog" alone, and a search_path that does not name pg_temp searches
-- it first for tables and types: a caller's temporary table named like a
-- catalog (pg_trigger, pg_attribute) or a temporary type named text, with a
-- cast of the caller's own, could make code running as the owner run the
-- caller's function.
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN
		SELECT p.oid::regprocedure
		FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
		WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
		  AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
		  AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'velt')
		  AND d.deptype = 'e'
		  AND 'search_path=pg_catalog' = ANY (p.proconfig)
	LOOP
		EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
	END LOOP;
END $$;
