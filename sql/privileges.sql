-- Privileges of every object of the extension, found in the catalogs (so an
-- object added later is checked too): a role without grants can use none of
-- them; the GRANT recipes of docs/security.md, run as written, give each role
-- what it says and nothing more; no role can read or change the secrets and
-- superuser-only settings; and code that runs with the owner's rights cannot
-- be steered by objects a caller creates in pg_temp.
SELECT standin_reset();
DELETE FROM velt.outbox;
SET velt.max_retries = 0;

CREATE ROLE velt_priv_nobody NOLOGIN;	-- no grants at all
CREATE ROLE velt_priv_api NOLOGIN;		-- "Synchronous functions": app
CREATE ROLE velt_priv_app NOLOGIN;		-- "The outbox": app
CREATE ROLE velt_priv_owner NOLOGIN;	-- "The outbox": app_owner
CREATE ROLE velt_priv_writer NOLOGIN;	-- writes to app_owner's tables, no velt grants
CREATE ROLE velt_priv_ops NOLOGIN;		-- "The outbox": ops
CREATE ROLE velt_priv_folders NOLOGIN;	-- only velt_get_folders, which needs no velt_request
-- app_owner owns tables, so it needs a schema to create them in
CREATE SCHEMA velt_priv_s AUTHORIZATION velt_priv_owner;

-- the secrets, to look for them in everything a role can see
SELECT current_setting('velt.api_key') AS api_key,
	   current_setting('velt.auth_token') AS auth_token \gset

-- Every check, for the current role: one row per extension object and action,
-- whether the role holds the privilege, whether it was granted to the role
-- itself, and a statement that tries the action.
CREATE FUNCTION velt_priv_checks()
RETURNS TABLE(kind text, object text, action text, privileged boolean, granted boolean, stmt text)
LANGUAGE sql AS $$
WITH me AS (
	SELECT oid AS id FROM pg_roles WHERE rolname = current_user
), members AS (
	SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'velt'
), funcs AS (
	SELECT p.oid, p.proacl, p.prokind,
		   CASE WHEN p.prorettype = 'trigger'::regtype THEN 'trigger function'
				WHEN p.prokind = 'p' THEN 'procedure'
				WHEN p.prokind = 'a' THEN 'aggregate'
				ELSE 'function' END AS kind,
		   p.oid::regprocedure::text AS object,
		   pg_has_role(p.proowner, 'USAGE') AS owns,
		   format('%I.%I', n.nspname, p.proname) AS qname,
		   format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS signature,
		   -- a call with a NULL of each argument's type
		   format('%I.%I(%s)', n.nspname, p.proname,
				  (SELECT string_agg(CASE WHEN t.typtype <> 'p' THEN 'NULL::' || format_type(t.oid, NULL)
										  WHEN t.typname LIKE '%array' THEN 'NULL::text[]'
										  ELSE 'NULL::text' END, ', ' ORDER BY a.n)
				   FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(typ, n)
				   JOIN pg_type t ON t.oid = a.typ)) AS call
	FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
	JOIN pg_namespace n ON n.oid = p.pronamespace
), rels AS (
	SELECT c.oid, c.relkind, c.relacl, c.oid::regclass::text AS object,
		   format('%I.%I', n.nspname, c.relname) AS qname,
		   pg_has_role(c.relowner, 'USAGE') AS owns,
		   CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
				WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
				WHEN 'f' THEN 'foreign table' ELSE 'unchecked relkind ' || c.relkind::text END AS kind,
		   CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
				WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS keyword,
		   (SELECT quote_ident(attname) FROM pg_attribute
			WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1) AS col,
		   COALESCE(pg_relation_is_updatable(c.oid, true), 0) AS updatable
	FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
	JOIN pg_namespace n ON n.oid = c.relnamespace
)
-- functions: call, use in a trigger, alter, drop
SELECT f.kind, f.object, 'EXECUTE', has_function_privilege(f.oid, 'EXECUTE'),
	   EXISTS (SELECT 1 FROM aclexplode(f.proacl) x, me WHERE x.grantee = me.id AND x.privilege_type = 'EXECUTE'),
	   CASE f.prokind WHEN 'p' THEN 'CALL ' ELSE 'SELECT ' END || f.call
FROM funcs f
UNION ALL
SELECT f.kind, f.object, 'CREATE TRIGGER', has_function_privilege(f.oid, 'EXECUTE'),
	   EXISTS (SELECT 1 FROM aclexplode(f.proacl) x, me WHERE x.grantee = me.id AND x.privilege_type = 'EXECUTE'),
	   'CREATE TRIGGER velt_priv_probe AFTER INSERT ON velt_priv_t FOR EACH ROW EXECUTE FUNCTION ' || f.qname || '()'
FROM funcs f WHERE f.kind = 'trigger function'
UNION ALL
SELECT f.kind, f.object, a.action, f.owns, false,
	   a.action || CASE f.prokind WHEN 'a' THEN ' AGGREGATE ' ELSE ' ROUTINE ' END || f.signature ||
	   CASE a.action WHEN 'ALTER' THEN ' OWNER TO CURRENT_USER' ELSE '' END
FROM funcs f, (VALUES ('ALTER'), ('DROP')) AS a(action)
UNION ALL
-- tables and views: every table privilege, tried where a statement can show it
SELECT r.kind, r.object, p.priv,
	   has_table_privilege(r.oid, p.priv)
		   OR (p.priv IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') AND has_any_column_privilege(r.oid, p.priv)),
	   EXISTS (SELECT 1 FROM aclexplode(r.relacl) x, me WHERE x.grantee = me.id AND x.privilege_type = p.priv),
	   CASE WHEN r.relkind = 'v' AND p.priv IN ('INSERT', 'UPDATE', 'DELETE')
				 AND r.updatable & p.bit = 0 THEN NULL	-- not updatable: refused before privileges
			WHEN p.priv = 'SELECT' THEN format('SELECT FROM %s LIMIT 0', r.qname)
			WHEN p.priv = 'INSERT' THEN format('INSERT INTO %s DEFAULT VALUES', r.qname)
			WHEN p.priv = 'UPDATE' THEN format('UPDATE %s SET %s = %s WHERE false', r.qname, r.col, r.col)
			WHEN p.priv = 'DELETE' THEN format('DELETE FROM %s WHERE false', r.qname)
			WHEN p.priv = 'TRUNCATE' AND r.relkind IN ('r', 'p') THEN format('TRUNCATE %s', r.qname)
	   END
FROM rels r, (VALUES ('SELECT', 0), ('INSERT', 8), ('UPDATE', 4), ('DELETE', 16),
					 ('TRUNCATE', 0), ('REFERENCES', 0), ('TRIGGER', 0)) AS p(priv, bit)
WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f')
UNION ALL
-- sequences, by OID so that the sequence's own privileges are what is tried
SELECT r.kind, r.object, p.priv, has_sequence_privilege(r.oid, p.priv),
	   EXISTS (SELECT 1 FROM aclexplode(r.relacl) x, me WHERE x.grantee = me.id AND x.privilege_type = p.priv),
	   CASE p.priv
		   WHEN 'USAGE' THEN format('SELECT nextval(%s::oid::regclass)', r.oid)
		   WHEN 'SELECT' THEN format('SELECT currval(%s::oid::regclass)', r.oid)
		   -- below the minimum: refused by the bounds check if allowed, so nothing changes
		   WHEN 'UPDATE' THEN format('SELECT setval(%s::oid::regclass, %s)', r.oid,
									 (SELECT seqmin - 1 FROM pg_sequence WHERE seqrelid = r.oid))
	   END
FROM rels r, (VALUES ('USAGE'), ('SELECT'), ('UPDATE')) AS p(priv)
WHERE r.relkind = 'S'
UNION ALL
SELECT r.kind, r.object, a.action, r.owns, false,
	   format('%s %s %s', a.action, r.keyword, r.qname) ||
	   CASE a.action WHEN 'ALTER' THEN ' OWNER TO CURRENT_USER' ELSE '' END
FROM rels r, (VALUES ('ALTER'), ('DROP')) AS a(action)
WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
UNION ALL
SELECT r.kind, r.object, '-', NULL, false, NULL
FROM rels r WHERE r.relkind NOT IN ('r', 'p', 'v', 'm', 'f', 'S')
UNION ALL
-- the schema
SELECT 'schema', n.nspname, p.priv, has_schema_privilege(n.oid, p.priv),
	   EXISTS (SELECT 1 FROM aclexplode(n.nspacl) x, me WHERE x.grantee = me.id AND x.privilege_type = p.priv),
	   CASE p.priv WHEN 'USAGE' THEN format('SELECT %I.velt_priv_no_such_function()', n.nspname)
				   ELSE format('CREATE TABLE %I.velt_priv_probe ()', n.nspname) END
FROM members m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid,
	 (VALUES ('USAGE'), ('CREATE')) AS p(priv)
UNION ALL
SELECT 'schema', n.nspname, a.action, pg_has_role(n.nspowner, 'USAGE'), false,
	   format('%s SCHEMA %I', a.action, n.nspname) ||
	   CASE a.action WHEN 'ALTER' THEN ' OWNER TO CURRENT_USER' ELSE '' END
FROM members m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid,
	 (VALUES ('ALTER'), ('DROP')) AS a(action)
UNION ALL
-- the extension itself
SELECT 'extension', e.extname, a.action, pg_has_role(e.extowner, 'USAGE'), false,
	   CASE a.action WHEN 'ALTER' THEN 'ALTER EXTENSION velt UPDATE' ELSE 'DROP EXTENSION velt' END
FROM pg_extension e, (VALUES ('ALTER'), ('DROP')) AS a(action)
WHERE e.extname = 'velt'
UNION ALL
-- any other kind of member is not covered by these checks: it must be added
-- (PostgreSQL 17 and later also list a member table's or view's row type
-- and its array type as members: the relation's own checks cover them)
SELECT 'unchecked ' || m.classid::regclass::text, pg_describe_object(m.classid, m.objid, 0), '-', NULL, false, NULL
FROM members m
WHERE m.classid NOT IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_namespace'::regclass)
  AND NOT (m.classid = 'pg_type'::regclass AND EXISTS (
	SELECT 1 FROM pg_type t JOIN members r ON r.classid = 'pg_class'::regclass AND r.objid = t.typrelid
	WHERE m.objid IN (t.oid, t.typarray)))
$$;

-- Runs every check as the current role.  Each attempt runs in a
-- subtransaction that is always rolled back, so an action that is wrongly
-- allowed changes nothing: 'allowed' means it succeeded, 'refused' that it
-- failed with 42501, anything else is its SQLSTATE and message.  Calls of
-- functions the role was granted are not attempted (they are called below).
CREATE FUNCTION velt_priv_probe(secrets text[])
RETURNS TABLE(kind text, object text, action text, privileged boolean, granted boolean,
			  outcome text, leaked boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	c record;
	st text; msg text; det text; hnt text;
BEGIN
	FOR c IN SELECT * FROM velt_priv_checks() LOOP
		kind := c.kind; object := c.object; action := c.action;
		privileged := c.privileged; granted := c.granted; leaked := false;
		IF c.stmt IS NULL OR (c.granted AND c.action = 'EXECUTE') THEN
			outcome := 'not attempted';
		ELSE
			BEGIN
				EXECUTE c.stmt;
				RAISE EXCEPTION 'undo' USING ERRCODE = 'VP000';
			EXCEPTION WHEN OTHERS THEN
				GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
					det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
			END;
			outcome := CASE st WHEN 'VP000' THEN 'allowed' WHEN '42501' THEN 'refused'
							   ELSE st || ' ' || msg END;
			leaked := EXISTS (SELECT 1 FROM unnest(secrets) AS s(secret)
							  WHERE strpos(concat_ws(' ', msg, det, hnt), s.secret) > 0);
		END IF;
		RETURN NEXT;
	END LOOP;
END $$;

-- What a role can learn of the secrets or change of the superuser-only
-- settings: the SQLSTATEs of the attempts to read and to set, how many rows
-- show a secret, and whether any error told one.
CREATE FUNCTION velt_priv_secrets(secrets text[])
RETURNS TABLE(read text, set text, in_settings bigint, in_catalogs bigint, leaked boolean)
LANGUAGE plpgsql AS $$
DECLARE
	stmt text;
	st text; msg text; det text; hnt text;
	reads text[] := '{}';
	sets text[] := '{}';
	said text := '';
BEGIN
	FOREACH stmt IN ARRAY ARRAY[
		'SHOW velt.api_key', 'SHOW velt.auth_token',
		'SELECT current_setting(''velt.api_key'')', 'SELECT current_setting(''velt.auth_token'', true)',
		'SELECT * FROM pg_file_settings', 'SELECT pg_read_file(''postgresql.auto.conf'')'] LOOP
		BEGIN
			EXECUTE stmt;
			st := 'allowed: ' || stmt;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
				det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
			said := concat_ws(' ', said, msg, det, hnt);
		END;
		reads := reads || st;
	END LOOP;
	FOREACH stmt IN ARRAY ARRAY[
		'SET velt.api_key = ''mine''', 'SET velt.auth_token = ''mine''',
		'SET velt.base_url = ''http://127.0.0.1:9''', 'SET velt.ca_file = ''/tmp/ca.pem''',
		'SET velt.result_retention = 0',
		'SELECT set_config(''velt.base_url'', ''http://127.0.0.1:9'', true)',
		'ALTER ROLE CURRENT_USER SET velt.base_url = ''http://127.0.0.1:9''',
		'ALTER ROLE CURRENT_USER SET velt.api_key = ''mine''',
		'CREATE FUNCTION pg_temp.velt_priv_redirect() RETURNS int LANGUAGE sql '
			'SET velt.base_url = ''http://127.0.0.1:9'' AS ''SELECT 1'''] LOOP
		BEGIN
			EXECUTE stmt;
			RAISE EXCEPTION 'undo' USING ERRCODE = 'VP000';
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
				det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
			IF st = 'VP000' THEN
				st := 'allowed: ' || stmt;
			END IF;
			said := concat_ws(' ', said, msg, det, hnt);
		END;
		sets := sets || st;
	END LOOP;
	read := (SELECT string_agg(DISTINCT r, ', ') FROM unnest(reads) AS r);
	set := (SELECT string_agg(DISTINCT s, ', ') FROM unnest(sets) AS s);
	in_settings := (SELECT count(*) FROM pg_settings p
					WHERE p.name IN ('velt.api_key', 'velt.auth_token')
					   OR EXISTS (SELECT 1 FROM unnest(secrets) AS x(secret)
								  WHERE strpos(concat_ws(' ', p.setting, p.reset_val, p.boot_val), x.secret) > 0));
	in_catalogs := (SELECT count(*) FROM pg_db_role_setting d
					WHERE EXISTS (SELECT 1 FROM unnest(secrets) AS x(secret)
								  WHERE strpos(array_to_string(d.setconfig, ' '), x.secret) > 0))
				 + (SELECT count(*) FROM pg_proc p
					WHERE EXISTS (SELECT 1 FROM unnest(secrets) AS x(secret)
								  WHERE strpos(array_to_string(p.proconfig, ' '), x.secret) > 0));
	leaked := EXISTS (SELECT 1 FROM unnest(secrets) AS x(secret) WHERE strpos(said, x.secret) > 0);
	RETURN NEXT;
END $$;

-- where the probes' CREATE TRIGGER attempts go
CREATE TEMP TABLE velt_priv_t (a int);
GRANT TRIGGER ON velt_priv_t TO PUBLIC;
CREATE TEMP TABLE probe (role name, kind text, object text, action text, privileged boolean,
						 granted boolean, outcome text, leaked boolean);
CREATE TEMP TABLE secrets (role name, read text, set text, in_settings bigint, in_catalogs bigint,
						   leaked boolean);
GRANT INSERT ON probe, secrets TO PUBLIC;

-- 1. The recipes of docs/security.md, run as written: the GRANT lines of its
-- sections "Synchronous functions" and "The outbox", with the roles renamed.
-- psql reads the file (the server need not be able to read the checkout).
\getenv abs_srcdir PG_ABS_SRCDIR
\set security_md `cat :'abs_srcdir'/docs/security.md`
CREATE TEMP TABLE security_doc AS SELECT :'security_md'::text AS doc;
\unset security_md
CREATE TEMP TABLE recipe AS
WITH sections(section, body) AS (
	SELECT 'Synchronous functions', substring(doc from '\n### Synchronous functions\n(.*?)\n##') FROM security_doc
	UNION ALL
	SELECT 'The outbox', substring(doc from '\n### The outbox\n(.*?)\n##') FROM security_doc
), grants AS (
	SELECT s.section, g.m[1] AS grant_clause, g.m[2] AS readme_role, g.n
	FROM sections s, regexp_matches(s.body, '^(GRANT [^\n]*) TO ([a-z_]+);$', 'gn') WITH ORDINALITY AS g(m, n)
)
SELECT g.section, g.readme_role, r.role, format('%s TO %I', g.grant_clause, r.role) AS stmt, g.n
FROM grants g
LEFT JOIN (VALUES ('Synchronous functions', 'app', 'velt_priv_api'),
				  ('The outbox', 'app', 'velt_priv_app'),
				  ('The outbox', 'app_owner', 'velt_priv_owner'),
				  ('The outbox', 'ops', 'velt_priv_ops')) AS r(section, readme_role, role)
	ON r.section = g.section AND r.readme_role = g.readme_role;
SELECT section, readme_role, role, count(*) AS grant_statements
FROM recipe GROUP BY 1, 2, 3 ORDER BY 1, 2;
DO $$
DECLARE
	g record;
BEGIN
	FOR g IN SELECT * FROM recipe ORDER BY section, n LOOP
		EXECUTE g.stmt;
	END LOOP;
END $$;
-- docs/security.md: a role granted one of the SQL functions over velt_request needs no grant on it
GRANT EXECUTE ON FUNCTION velt_get_folders(text, text, integer, jsonb) TO velt_priv_folders;

-- 2. Every check as every role.
SET ROLE velt_priv_nobody;
INSERT INTO probe SELECT current_user, * FROM velt_priv_probe(ARRAY[:'api_key', :'auth_token']);
INSERT INTO secrets SELECT current_user, * FROM velt_priv_secrets(ARRAY[:'api_key', :'auth_token']);
SET ROLE velt_priv_api;
INSERT INTO probe SELECT current_user, * FROM velt_priv_probe(ARRAY[:'api_key', :'auth_token']);
INSERT INTO secrets SELECT current_user, * FROM velt_priv_secrets(ARRAY[:'api_key', :'auth_token']);
SET ROLE velt_priv_app;
INSERT INTO probe SELECT current_user, * FROM velt_priv_probe(ARRAY[:'api_key', :'auth_token']);
INSERT INTO secrets SELECT current_user, * FROM velt_priv_secrets(ARRAY[:'api_key', :'auth_token']);
SET ROLE velt_priv_owner;
INSERT INTO probe SELECT current_user, * FROM velt_priv_probe(ARRAY[:'api_key', :'auth_token']);
INSERT INTO secrets SELECT current_user, * FROM velt_priv_secrets(ARRAY[:'api_key', :'auth_token']);
SET ROLE velt_priv_writer;
INSERT INTO probe SELECT current_user, * FROM velt_priv_probe(ARRAY[:'api_key', :'auth_token']);
INSERT INTO secrets SELECT current_user, * FROM velt_priv_secrets(ARRAY[:'api_key', :'auth_token']);
SET ROLE velt_priv_ops;
INSERT INTO probe SELECT current_user, * FROM velt_priv_probe(ARRAY[:'api_key', :'auth_token']);
INSERT INTO secrets SELECT current_user, * FROM velt_priv_secrets(ARRAY[:'api_key', :'auth_token']);
SET ROLE velt_priv_folders;
INSERT INTO probe SELECT current_user, * FROM velt_priv_probe(ARRAY[:'api_key', :'auth_token']);
INSERT INTO secrets SELECT current_user, * FROM velt_priv_secrets(ARRAY[:'api_key', :'auth_token']);
RESET ROLE;

-- what was checked: every member of the extension, by kind
SELECT kind, count(DISTINCT object) AS objects, string_agg(DISTINCT action, ', ' ORDER BY action) AS actions
FROM probe WHERE role = 'velt_priv_nobody' GROUP BY kind ORDER BY kind;

-- per role: checks, privileges held, attempts and how many were refused with
-- 42501, what was granted to the role itself
SELECT role, count(*) AS checks,
	   count(*) FILTER (WHERE privileged) AS privileged,
	   count(*) FILTER (WHERE outcome <> 'not attempted') AS attempted,
	   count(*) FILTER (WHERE outcome = 'refused') AS refused_42501,
	   count(*) FILTER (WHERE granted) AS granted
FROM probe GROUP BY role ORDER BY role;

-- violations: an object not covered, a privilege or action the role was not
-- granted, a grant that does not work, a secret in an error (must be empty)
SELECT role, kind, object, action, privileged, outcome
FROM probe
WHERE kind LIKE 'unchecked%' OR leaked
   OR (NOT granted AND (privileged OR outcome NOT IN ('refused', 'not attempted')))
   OR (granted AND (NOT privileged OR outcome NOT IN ('allowed', 'not attempted')))
ORDER BY role, object, action;

-- what the recipes granted, and what the roles did with it (velt_priv_api's
-- recipe, of the synchronous functions, is counted)
SELECT role, object, action, outcome FROM probe
WHERE granted AND role <> 'velt_priv_api' ORDER BY role, object, action;
SELECT count(DISTINCT object) AS api_functions,
	   bool_and(action IN ('EXECUTE', 'CREATE TRIGGER')) AS only_execute
FROM probe WHERE granted AND role = 'velt_priv_api';

-- the secrets: refused to read and to set, never shown, never in an error
SELECT * FROM secrets ORDER BY role;

-- 3. The grants do what docs/security.md says.
-- the application queues changes...
SET ROLE velt_priv_app;
SELECT velt_enqueue_add_users('vp_org', test_users('vp_a1', 'vp_a2')) > 0 AS add_users,
	   velt_enqueue_add_user_groups('vp_org', '[{"groupId": "vp_team"}]') > 0 AS add_user_groups,
	   velt_enqueue_add_users_to_group('vp_org', 'vp_team', ARRAY['vp_a1', 'vp_a2']) > 0 AS add_to_group,
	   velt_enqueue_delete_users_from_group('vp_org', 'vp_team', ARRAY['vp_a2']) > 0 AS delete_from_group,
	   velt_enqueue_delete_users('vp_org', ARRAY['vp_a2']) > 0 AS delete_users;
RESET ROLE;
-- ... the owner of tables creates the ready-made triggers, and a role that may
-- only write to the tables queues through them
SET ROLE velt_priv_owner;
CREATE TABLE velt_priv_s.people (id text PRIMARY KEY, org text NOT NULL, name text, email text);
CREATE TRIGGER people_velt AFTER INSERT OR UPDATE OR DELETE ON velt_priv_s.people
	FOR EACH ROW EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=id', 'name=name', 'email=email');
CREATE TABLE velt_priv_s.members (org text, grp text, uid text);
CREATE TRIGGER members_velt AFTER INSERT ON velt_priv_s.members REFERENCING NEW TABLE AS added
	FOR EACH STATEMENT EXECUTE FUNCTION velt_group_members_trigger('organization=org', 'group=grp', 'user_id=uid');
GRANT USAGE ON SCHEMA velt_priv_s TO velt_priv_writer;
GRANT INSERT ON velt_priv_s.people, velt_priv_s.members TO velt_priv_writer;
INSERT INTO velt_priv_s.people VALUES ('vp_o1', 'vp_org', 'Owner One', 'vp_o1@example.test');
SET ROLE velt_priv_writer;
INSERT INTO velt_priv_s.people VALUES ('vp_w1', 'vp_org', 'Writer One', 'vp_w1@example.test');
INSERT INTO velt_priv_s.members VALUES ('vp_org', 'vp_team', 'vp_w1'), ('vp_org', 'vp_team', 'vp_o1');
-- ... and the operator watches, drains and redrives
SET ROLE velt_priv_ops;
SELECT endpoint, state, operations, items FROM velt_outbox_status ORDER BY endpoint, state;
SELECT requests > 0 AS sent, delivered > 0 AS delivered, failed, retried FROM velt_process_outbox();
SELECT endpoint, id, success FROM velt_results WHERE id LIKE 'vp\_%' ORDER BY operation_id, id;
SELECT velt_retry_failed() AS redriven;
RESET ROLE;
SELECT jsonb_object_keys(standin_state()->'vp_org'->'users') AS vp_org_users ORDER BY 1;
SELECT standin_state()->'vp_org'->'groups'->'vp_team'->'members' AS vp_team_members;
-- the recipe "Synchronous functions": a synchronous call
SET ROLE velt_priv_api;
SELECT id, name FROM velt_get_users('vp_org') ORDER BY id;
RESET ROLE;
-- a SQL function over velt_request, without a grant on velt_request
SELECT id, success FROM velt_add_folders('vp_fco', '[{"folderId": "vp_f1", "folderName": "One"}]');
SET ROLE velt_priv_folders;
SELECT id, folder_name FROM velt_get_folders('vp_fco') ORDER BY id;
RESET ROLE;

-- 4. Functions that run with the owner's rights (SECURITY DEFINER), and the
-- helpers they call, have a search_path of trusted schemas only, with pg_temp
-- named last: when pg_temp is not named, PostgreSQL searches it FIRST for
-- tables and types, so a caller's temporary table or type would be used in
-- place of pg_catalog's.  Lists every function that breaks this (must be empty).
SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer, cfg.search_path
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'velt'
JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid AND d.deptype = 'e'
LEFT JOIN LATERAL (SELECT substr(c, length('search_path=') + 1) AS search_path,
						  string_to_array(replace(substr(c, length('search_path=') + 1), ' ', ''), ',') AS path
				   FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%') AS cfg ON true
WHERE (p.prosecdef AND cfg.search_path IS NULL)
   OR cfg.path[cardinality(cfg.path)] <> 'pg_temp'
   OR NOT cfg.path <@ ARRAY['pg_catalog', 'velt', 'pg_temp']
ORDER BY 1::text;

-- ... and callers cannot steer them through pg_temp.  Each attempt below
-- makes the owner's code run a function of the caller's, which would raise
-- velt_priv_escalated(); what must happen instead is reported by a NOTICE.
CREATE FUNCTION velt_priv_escalated() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'ESCALATED: a caller''s function ran as % (superuser: %), velt.api_key readable: %',
		current_user, (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),
		pg_catalog.current_setting('velt.api_key', true) <> '';
END $$;

-- a role granted a SQL function over velt_request (velt.check_required reads
-- pg_typeof(value)::text): a temporary type named "text"
\c -
SET ROLE velt_priv_folders;
CREATE TYPE pg_temp.text AS ENUM ('shadow');
CREATE FUNCTION pg_temp.velt_priv_evil(pg_catalog.regtype) RETURNS pg_temp.text
LANGUAGE plpgsql AS $$ BEGIN PERFORM public.velt_priv_escalated(); RETURN 'shadow'; END $$;
CREATE CAST (pg_catalog.regtype AS pg_temp.text) WITH FUNCTION pg_temp.velt_priv_evil(pg_catalog.regtype) AS ASSIGNMENT;
DO $$
BEGIN
	PERFORM velt_get_folders(NULL);
	RAISE NOTICE 'velt_get_folders(NULL): no error';
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'velt_get_folders(NULL): % %', SQLSTATE, SQLERRM;
END $$;
RESET ROLE;
DISCARD TEMP;

-- a role that may only write to a table with a statement-level
-- velt_group_members_trigger (velt.transition_tables reads pg_trigger): a
-- temporary pg_trigger that names a temporary table as the transition table
\c -
SET ROLE velt_priv_writer;
CREATE TYPE pg_temp.velt_priv_evil AS (a int);
CREATE FUNCTION pg_temp.velt_priv_evil_text(pg_temp.velt_priv_evil) RETURNS pg_catalog.text
LANGUAGE plpgsql AS $$ BEGIN PERFORM public.velt_priv_escalated(); RETURN ''; END $$;
CREATE CAST (pg_temp.velt_priv_evil AS pg_catalog.text) WITH FUNCTION pg_temp.velt_priv_evil_text(pg_temp.velt_priv_evil);
CREATE TEMP TABLE velt_priv_bait (org pg_temp.velt_priv_evil, grp pg_temp.velt_priv_evil, uid pg_temp.velt_priv_evil);
INSERT INTO velt_priv_bait VALUES (ROW(1), ROW(1), ROW(1));
CREATE TEMP TABLE pg_trigger (tgrelid oid, tgname name, tgnewtable name, tgoldtable name);
INSERT INTO pg_temp.pg_trigger VALUES ('velt_priv_s.members'::regclass, 'members_velt', 'velt_priv_bait', NULL);
DO $$
BEGIN
	INSERT INTO velt_priv_s.members VALUES ('vp_org', 'vp_team', 'vp_w2');
	RAISE NOTICE 'INSERT INTO velt_priv_s.members: no error';
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'INSERT INTO velt_priv_s.members: % %', SQLSTATE, SQLERRM;
END $$;
RESET ROLE;
DISCARD TEMP;

-- the owner of tables with velt_group_members_trigger (velt.trigger_columns
-- checks column types in pg_attribute and pg_type): temporary pg_attribute
-- and pg_type that pass a column of a type with the owner's own cast to text
\c -
SET ROLE velt_priv_owner;
CREATE TYPE velt_priv_s.evil AS (a int);
CREATE FUNCTION velt_priv_s.evil_text(velt_priv_s.evil) RETURNS pg_catalog.text
LANGUAGE plpgsql AS $$ BEGIN PERFORM public.velt_priv_escalated(); RETURN ''; END $$;
CREATE CAST (velt_priv_s.evil AS pg_catalog.text) WITH FUNCTION velt_priv_s.evil_text(velt_priv_s.evil);
CREATE TABLE velt_priv_s.evil_members (org velt_priv_s.evil, grp text, uid text);
CREATE TRIGGER evil_velt AFTER INSERT ON velt_priv_s.evil_members
	FOR EACH ROW EXECUTE FUNCTION velt_group_members_trigger('organization=org', 'group=grp', 'user_id=uid');
CREATE TEMP TABLE pg_attribute (attrelid oid, attname name, atttypid oid, attnum int2, attisdropped bool);
CREATE TEMP TABLE pg_type (oid oid, typtype "char", typbasetype oid);
INSERT INTO pg_temp.pg_attribute VALUES
	('velt_priv_s.evil_members'::regclass, 'org', 'pg_catalog.text'::pg_catalog.regtype, 1, false),
	('velt_priv_s.evil_members'::regclass, 'grp', 'pg_catalog.text'::pg_catalog.regtype, 2, false),
	('velt_priv_s.evil_members'::regclass, 'uid', 'pg_catalog.text'::pg_catalog.regtype, 3, false);
INSERT INTO pg_temp.pg_type VALUES ('pg_catalog.text'::pg_catalog.regtype, 'b', 0);
DO $$
BEGIN
	INSERT INTO velt_priv_s.evil_members VALUES (ROW(1), 'vp_team', 'vp_o2');
	RAISE NOTICE 'INSERT INTO velt_priv_s.evil_members: no error';
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'INSERT INTO velt_priv_s.evil_members: % %', SQLSTATE, SQLERRM;
END $$;
RESET ROLE;
DISCARD TEMP;

-- the operator (velt_process_outbox reads o.fixed::text): a temporary type
-- named "text" with a cast from jsonb
\c -
SELECT velt_enqueue_add_users('vp_org', test_users('vp_d1')) > 0 AS enqueued;
SET ROLE velt_priv_ops;
CREATE TYPE pg_temp.text AS ENUM ('shadow');
CREATE FUNCTION pg_temp.velt_priv_evil(pg_catalog.jsonb) RETURNS pg_temp.text
LANGUAGE plpgsql AS $$ BEGIN PERFORM public.velt_priv_escalated(); RETURN 'shadow'; END $$;
CREATE CAST (pg_catalog.jsonb AS pg_temp.text) WITH FUNCTION pg_temp.velt_priv_evil(pg_catalog.jsonb);
DO $$
BEGIN
	PERFORM velt_process_outbox();
	RAISE NOTICE 'velt_process_outbox(): no error';
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'velt_process_outbox(): % %', SQLSTATE, SQLERRM;
END $$;
RESET ROLE;
DISCARD TEMP;

-- clean up
\c -
DELETE FROM velt.outbox;
DELETE FROM velt.outcomes WHERE id LIKE 'vp\_%';
DROP FUNCTION velt_priv_checks(), velt_priv_probe(text[]), velt_priv_secrets(text[]), velt_priv_escalated();
SET client_min_messages = warning;
DROP SCHEMA velt_priv_s CASCADE;
RESET client_min_messages;
DROP OWNED BY velt_priv_nobody, velt_priv_api, velt_priv_app, velt_priv_owner, velt_priv_writer,
	velt_priv_ops, velt_priv_folders;
DROP ROLE velt_priv_nobody, velt_priv_api, velt_priv_app, velt_priv_owner, velt_priv_writer,
	velt_priv_ops, velt_priv_folders;
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname LIKE 'velt\_priv\_%';
