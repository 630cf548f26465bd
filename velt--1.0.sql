-- velt 1.0: the Velt REST API as SQL functions.
\echo Use "CREATE EXTENSION velt" to load this file. \quit

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

-- Calling Velt spends the API key's quota and changes Velt's data: only
-- roles the owner grants to may do it.
REVOKE ALL ON FUNCTION velt_add_users(text, jsonb, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_users(text, text[], text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_user_groups(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_users_to_group(text, text, text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_users_from_group(text, text, text[], boolean, jsonb) FROM PUBLIC;
