-- Updating an installed velt 1.0 to 1.1 and then to 1.2 in place keeps
-- queued operations and gives the same objects, definitions and
-- descriptions as a fresh install.
SELECT format('dbname=%s port=%s', current_database(), current_setting('port')) AS here \gset
SELECT dblink_exec(:'here', 'DROP DATABASE IF EXISTS velt_upgrade');
SELECT dblink_exec(:'here', 'CREATE DATABASE velt_upgrade');
SELECT dblink_connect('up', format('dbname=velt_upgrade port=%s', current_setting('port')));
SELECT dblink_exec('up', 'CREATE EXTENSION velt VERSION ''1.0''');
SELECT * FROM dblink('up', $$SELECT velt_enqueue_add_users('upco', '[{"userId": "up1"}]')$$) AS t(queued bigint);
-- 1.0's SQL functions checked only for NULL and empty values
SELECT * FROM dblink('up', $$SELECT velt.require(E'f\n'::text, 'folder_id')$$) AS t(passed_in_1_0 text);
SELECT dblink_exec('up', 'ALTER EXTENSION velt UPDATE TO ''1.1''');
SELECT * FROM dblink('up', $$SELECT extversion FROM pg_extension WHERE extname = 'velt'$$) AS t(version text);
SELECT * FROM dblink('up', 'SELECT count(*) FROM velt.outbox') AS t(still_queued bigint);
SELECT * FROM dblink('up', $$SELECT obj_description('velt.outbox'::regclass, 'pg_class')$$) AS t(described_in_1_1 text);
-- this library delivers into a 1.1 schema too (between installing it and
-- ALTER EXTENSION UPDATE): up1 (no email) is refused, up2 delivered
SELECT * FROM dblink('up', $$SELECT velt_enqueue_add_users('upco2', '[{"userId": "up2", "name": "U", "email": "up2@example.test"}]')$$) AS t(queued bigint);
SELECT * FROM dblink('up', 'SELECT delivered, failed FROM velt_process_outbox()') AS t(delivered bigint, failed bigint);
SELECT * FROM dblink('up', 'SELECT id, success FROM velt_results ORDER BY id') AS t(id text, success boolean);
SELECT dblink_exec('up', 'ALTER EXTENSION velt UPDATE');
SELECT * FROM dblink('up', $$SELECT extversion FROM pg_extension WHERE extname = 'velt'$$) AS t(version text);
SELECT * FROM dblink('up', 'SELECT count(*) FROM velt.outbox') AS t(still_queued bigint);
-- 1.2 renamed the internal objects that read like public ones; the
-- outcomes stay, and the SQL functions call the checks by their new names
SELECT * FROM dblink('up', $$SELECT to_regclass('velt.outcomes') IS NOT NULL AND to_regclass('velt.results') IS NULL
	AND to_regprocedure('velt.check_required(anyelement, text)') IS NOT NULL
	AND to_regprocedure('velt.require(anyelement, text)') IS NULL$$) AS t(renamed boolean);
SELECT * FROM dblink('up', 'SELECT id, success FROM velt_results ORDER BY id') AS t(id text, success boolean);
SELECT state, message FROM try($q$SELECT * FROM dblink('up', $$SELECT velt_delete_folder('o', E'f\n')$$) AS t(answer jsonb)$q$);

-- every member object, and every function's definition, as in this
-- database's fresh install
CREATE FUNCTION velt_objects_digest() RETURNS text LANGUAGE sql AS $$
	SELECT md5(string_agg(pg_describe_object(classid, objid, 0), ',' ORDER BY 1))
	FROM pg_depend WHERE refclassid = 'pg_extension'::regclass
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'velt') AND deptype = 'e'
$$;
CREATE FUNCTION velt_definitions_digest() RETURNS text LANGUAGE sql AS $$
	SELECT md5(string_agg(pg_get_functiondef(d.objid), ',' ORDER BY d.objid::regprocedure::text))
	FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'velt') AND d.deptype = 'e'
	  AND (SELECT prokind FROM pg_proc WHERE oid = d.objid) <> 'a'
$$;
-- every description: of each member, and of each column of a member table or view
CREATE FUNCTION velt_descriptions_digest() RETURNS text LANGUAGE sql AS $$
	SELECT md5(string_agg(pg_describe_object(ds.classoid, ds.objoid, ds.objsubid) || '=' || ds.description,
						  ',' ORDER BY 1))
	FROM pg_description ds JOIN pg_depend d ON d.classid = ds.classoid AND d.objid = ds.objoid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'velt')
$$;
SELECT dblink_exec('up', pg_get_functiondef('velt_objects_digest'::regproc));
SELECT dblink_exec('up', pg_get_functiondef('velt_definitions_digest'::regproc));
SELECT dblink_exec('up', pg_get_functiondef('velt_descriptions_digest'::regproc));
SELECT (SELECT d FROM dblink('up', 'SELECT velt_objects_digest()') AS t(d text)) = velt_objects_digest() AS same_objects,
	   (SELECT d FROM dblink('up', 'SELECT velt_definitions_digest()') AS t(d text)) = velt_definitions_digest() AS same_definitions,
	   (SELECT d FROM dblink('up', 'SELECT velt_descriptions_digest()') AS t(d text)) = velt_descriptions_digest() AS same_descriptions;
SELECT dblink_disconnect('up');
SELECT dblink_exec(:'here', 'DROP DATABASE velt_upgrade');
DROP FUNCTION velt_objects_digest(), velt_definitions_digest(), velt_descriptions_digest();

-- 1.2: every member of the extension says what it is (a table's or view's
-- row type is described by the relation itself)
SELECT pg_describe_object(d.classid, d.objid, 0) AS undescribed
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'velt')
  AND d.classid <> 'pg_type'::regclass
  AND obj_description(d.objid, d.classid::regclass::text) IS NULL
ORDER BY 1;
SELECT count(*) AS members, count(obj_description(d.objid, d.classid::regclass::text)) AS described
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'velt')
  AND d.classid <> 'pg_type'::regclass;

-- 1.1: the SQL functions apply the C functions' rules to IDs and arrays,
-- and check the shape of their JSON arguments; nothing is sent
SELECT standin_reset();
SELECT * FROM try($$SELECT velt_delete_folder('o', E'f\n')$$);
SELECT * FROM try($$SELECT velt_delete_folder(E'o\t', 'f')$$);
SELECT * FROM try($$SELECT velt_move_documents('o', '{{a,b},{c,d}}', 'f')$$);
SELECT * FROM try($$SELECT velt_move_documents('o', ARRAY['a', ''], 'f')$$);
SELECT * FROM try($$SELECT velt_move_documents('o', ARRAY['a', E'b\x7f'], 'f')$$);
SELECT * FROM try($$SELECT velt_add_permissions('u', '{"type": "folder"}')$$);
SELECT * FROM try($$SELECT velt_remove_permissions('u', '"x"')$$);
SELECT * FROM try($$SELECT velt_generate_token('u', '"x"')$$);
SELECT * FROM try($$SELECT velt_generate_token('u', '{"name": "U"}', '{"a": 1}')$$);
SELECT * FROM try($$SELECT velt_generate_token(E'u\r', '{"name": "U"}')$$);
SELECT * FROM try($$SELECT velt_delete_user_data(ARRAY['u'], ARRAY[NULL])$$);
SELECT * FROM try($$SELECT velt_delete_user_data(ARRAY['u'], '{}')$$);
SELECT * FROM try($$SELECT * FROM velt_get_permissions('o', ARRAY['u'], folder_ids => '{}')$$);
SELECT * FROM try($$SELECT * FROM velt_get_permissions('o', ARRAY['u'], document_ids => ARRAY[E'd\n'])$$);
SELECT * FROM try($$SELECT * FROM velt_get_folders('o', folder_id => '')$$);
SELECT * FROM try($$SELECT velt_get_delete_user_data_status(E'job\t1')$$);
SELECT * FROM try($$SELECT * FROM velt_get_user_data('o', E'u\n')$$);
SELECT standin_stats()->'requests' AS requests_sent;
