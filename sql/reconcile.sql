-- Drift repair: velt_reconcile_users (10,000 rows), velt_reconcile_documents and
-- velt_reconcile_group_members find every difference injected in each direction,
-- repair => true queues exactly the operations that remove them, and after a
-- drain a second reconcile finds none; max_items; bad input that reads,
-- sends and queues nothing; privileges.
SELECT standin_reset();
DELETE FROM velt.outbox;
-- earlier files' outcomes are left out below
SELECT coalesce(max(operation_id), 0) AS ops_before FROM velt_results \gset

-- 1. Users: 10,000 rows of organization reco, and 2 rows of another one
CREATE TABLE recon_people (id text PRIMARY KEY, org text NOT NULL, full_name text, mail text);
INSERT INTO recon_people
SELECT 'u' || lpad(g::text, 5, '0'), 'reco', 'User ' || g, 'u' || g || '@example.test'
FROM generate_series(1, 10000) AS g;
INSERT INTO recon_people VALUES ('o1', 'otherco', 'Other One', 'o1@example.test'),
								('o2', 'otherco', NULL, NULL);
-- Velt gets the table's users, except the drift:
--   u00007, u05000, u10000 never sent              -> missing_in_velt
--   u00100 renamed and u04242's email changed in Velt -> different
--   x1, x2 added from Velt's console             -> extra_in_velt
SELECT count(*) AS sent, count(*) FILTER (WHERE success) AS added
FROM velt_add_users('reco', (SELECT jsonb_agg(jsonb_build_object('userId', id, 'name', full_name, 'email', mail))
							 FROM recon_people
							 WHERE org = 'reco' AND id NOT IN ('u00007', 'u05000', 'u10000')));
SELECT id, success FROM velt_update_users('reco', '[
	{"userId": "u00100", "name": "Renamed In Console", "email": "u100@example.test"},
	{"userId": "u04242", "name": "User 4242", "email": "changed@example.test"}]');
SELECT id, success FROM velt_add_users('reco', test_users('x1', 'x2'));
-- a NULL column is not compared: u00200 has no name in the table, another in Velt
UPDATE recon_people SET full_name = NULL WHERE id = 'u00200';

SELECT max(seq) AS seq_before FROM standin_requests() \gset
SELECT kind, id, in_table, in_velt
FROM velt_reconcile_users('recon_people', 'reco',
	ARRAY['organization=org', 'user_id=id', 'name=full_name', 'email=mail']);
-- it read Velt's users in pages (1,000 a page) and wrote nothing, here or there
SELECT path, count(*) AS requests FROM standin_requests() WHERE seq > :seq_before GROUP BY path;
SELECT count(*) AS queued FROM velt.outbox;

-- max_items: the first differences by ID, and only those repaired
SELECT kind, id FROM velt_reconcile_users('recon_people', 'reco',
	ARRAY['organization=org', 'user_id=id', 'name=full_name', 'email=mail'], max_items => 2);

-- repair: one add of the missing and different users (the table's objects),
-- one delete of the extra ones, nothing sent before the drain
SELECT max(seq) AS seq_before FROM standin_requests() \gset
SELECT kind, id FROM velt_reconcile_users('recon_people', 'reco',
	ARRAY['organization=org', 'user_id=id', 'name=full_name', 'email=mail'], repair => true);
SELECT endpoint, target, ids FROM velt.outbox ORDER BY id;
SELECT jsonb_array_elements(items) AS users_to_add FROM velt.outbox WHERE endpoint = 'users/add';
SELECT count(*) AS writes_before_drain FROM standin_requests()
WHERE seq > :seq_before AND path <> '/v2/users/get';
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT id, success FROM velt_results WHERE endpoint LIKE 'users/%' AND operation_id > :ops_before ORDER BY endpoint, id;
-- a second reconcile finds nothing
SELECT count(*) AS drift_left
FROM velt_reconcile_users('recon_people', 'reco',
	ARRAY['organization=org', 'user_id=id', 'name=full_name', 'email=mail']);
SELECT count(*) AS velt_users, count(*) FILTER (WHERE id LIKE 'x%') AS extra,
	   min(name) FILTER (WHERE id = 'u00100') AS u00100, min(email) FILTER (WHERE id = 'u04242') AS u04242
FROM velt_get_users('reco');
-- the other organization's rows were not touched: Velt has no otherco
SELECT standin_state() ? 'otherco' AS otherco_in_velt;
SELECT kind, id, in_table FROM velt_reconcile_users('recon_people', 'otherco',
	ARRAY['organization=org', 'user_id=id', 'name=full_name', 'email=mail']);

-- repair with max_items repairs only what it returns; the next run the rest
DELETE FROM recon_people WHERE id IN ('u00001', 'u00002', 'u00003');
SELECT kind, id FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id'],
	repair => true, max_items => 2);
SELECT endpoint, ids FROM velt.outbox ORDER BY id;
SELECT delivered FROM velt_process_outbox();
SELECT kind, id FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id'],
	repair => true, max_items => 2);
SELECT delivered FROM velt_process_outbox();
SELECT count(*) AS drift_left FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id']);
DELETE FROM velt.outcomes;

-- 2. Documents: the table names them; Velt has one renamed, one extra, one missing
CREATE TABLE recon_docs (org text, doc_id integer, title text);
INSERT INTO recon_docs SELECT 'docreco', g, 'Doc ' || g FROM generate_series(1, 40) AS g;
SELECT count(*) FILTER (WHERE success) AS added
FROM velt_add_documents('docreco', (SELECT jsonb_agg(jsonb_build_object('documentId', doc_id::text,
																	   'documentName', title))
									FROM recon_docs WHERE doc_id <> 17));
SELECT id, success FROM velt_update_documents('docreco', '[{"documentId": "3", "documentName": "Renamed"}]');
SELECT id, success FROM velt_add_documents('docreco', '[{"documentId": "console-doc", "documentName": "From the console"}]');
SELECT kind, id, in_table, in_velt - 'disabled' - 'accessType' AS in_velt
FROM velt_reconcile_documents('recon_docs', 'docreco', ARRAY['organization=org', 'document_id=doc_id', 'name=title']);
SELECT kind, id FROM velt_reconcile_documents('recon_docs', 'docreco',
	ARRAY['organization=org', 'document_id=doc_id', 'name=title'], repair => true);
SELECT endpoint, ids, items FROM velt.outbox ORDER BY id;
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT count(*) AS drift_left
FROM velt_reconcile_documents('recon_docs', 'docreco', ARRAY['organization=org', 'document_id=doc_id', 'name=title']);
SELECT count(*) AS velt_documents, min(document_name) FILTER (WHERE id = '3') AS doc_3,
	   count(*) FILTER (WHERE id = 'console-doc') AS console_doc
FROM velt_get_documents('docreco');

-- 3. Group members: two groups of the table; in Velt a member missing, one
-- extra, and a third group the table does not name (not read)
CREATE TABLE recon_members (org text, team text, uid text);
INSERT INTO recon_members SELECT 'reco', 'team-' || (g % 2), 'u' || lpad(g::text, 5, '0')
FROM generate_series(101, 160) AS g;
SELECT count(*) AS groups FROM velt_add_user_groups('reco', '[{"groupId": "team-0"}, {"groupId": "team-1"}, {"groupId": "elsewhere"}]');
SELECT count(*) FILTER (WHERE success) AS team_0 FROM velt_add_users_to_group('reco', 'team-0',
	ARRAY(SELECT uid FROM recon_members WHERE team = 'team-0' ORDER BY uid));
SELECT count(*) FILTER (WHERE success) AS team_1 FROM velt_add_users_to_group('reco', 'team-1',
	ARRAY(SELECT uid FROM recon_members WHERE team = 'team-1' AND uid <> 'u00131' ORDER BY uid) || ARRAY['u00500']);
SELECT count(*) FILTER (WHERE success) AS elsewhere FROM velt_add_users_to_group('reco', 'elsewhere', ARRAY['u00900']);
-- 20 members a page, so each group takes two pages
SELECT standin('POST', 'config', '{"max_page_size": 20}') IS NOT NULL AS capped;
SELECT max(seq) AS seq_before FROM standin_requests() \gset
SELECT kind, group_id, id, in_table, in_velt ->> 'userId' AS in_velt_user
FROM velt_reconcile_group_members('recon_members', 'reco', ARRAY['organization=org', 'group=team', 'user_id=uid']);
SELECT body->'data'->'organizationUserGroupIds' AS group_filter, count(*) AS pages
FROM standin_requests() WHERE seq > :seq_before GROUP BY 1 ORDER BY 1;
SELECT kind, group_id, id FROM velt_reconcile_group_members('recon_members', 'reco',
	ARRAY['organization=org', 'group=team', 'user_id=uid'], repair => true);
SELECT endpoint, fixed, ids FROM velt.outbox ORDER BY id;
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT count(*) AS drift_left
FROM velt_reconcile_group_members('recon_members', 'reco', ARRAY['organization=org', 'group=team', 'user_id=uid']);
SELECT standin('POST', 'config', '{"max_page_size": null}') IS NOT NULL AS uncapped;
SELECT standin_state()->'reco'->'groups'->'elsewhere'->'members' AS elsewhere_untouched;

-- 4. Bad input: refused before anything is read, sent or queued
DELETE FROM velt.outcomes;
INSERT INTO recon_people VALUES ('u20000', 'reco', 'New Row', 'u20000@example.test');
CREATE VIEW recon_people_view AS SELECT * FROM recon_people;
CREATE TABLE recon_no_keys (org text, label text);
CREATE TABLE recon_twice (org text, id text, name text);
INSERT INTO recon_twice VALUES ('reco', 'u00005', 'A'), ('reco', 'u00005', 'B');
SELECT max(seq) AS seq_before FROM standin_requests() \gset
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', NULL, ARRAY['organization=org', 'user_id=id'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', '', ARRAY['organization=org', 'user_id=id'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users(NULL, 'reco', ARRAY['organization=org', 'user_id=id'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', NULL)$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', NULL])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id'], repair => NULL)$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id'], max_items => 0)$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id', 'name=no_such'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'userid=id'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id', 'document=org'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_no_keys', 'reco', ARRAY['organization=org'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_no_keys', 'reco', ARRAY['organization=org', 'user_id=id'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_documents('recon_no_keys', 'reco', ARRAY['organization=org', 'name=label'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_documents('recon_docs', 'docreco', ARRAY['organization=org', 'document_id=doc_id'], max_items => -1)$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_group_members('recon_members', NULL, ARRAY['organization=org', 'group=team', 'user_id=uid'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_group_members('recon_members', 'reco', ARRAY['organization=org', 'user_id=uid'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people_view', 'reco', ARRAY['organization=org', 'user_id=id'])$$);
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_twice', 'reco', ARRAY['organization=org', 'user_id=id'])$$);
SELECT count(*) AS requests_sent FROM standin_requests() WHERE seq > :seq_before;
SELECT count(*) AS queued FROM velt.outbox;

-- 5. Privileges: none for PUBLIC; a role granted a reconcile function reads
-- only tables and columns it may read itself, and no rows that row-level
-- security hides from it
SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer, p.proconfig AS config,
	   has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p WHERE p.proname LIKE 'velt\_reconcile\_%' ORDER BY 1::text;
CREATE ROLE velt_recon_role NOLOGIN;
SET ROLE velt_recon_role;
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id'])$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION velt_reconcile_users(regclass, text, text[], boolean, integer) TO velt_recon_role;
SET ROLE velt_recon_role;
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id'])$$);
RESET ROLE;
GRANT SELECT (org, id) ON recon_people TO velt_recon_role;
SET ROLE velt_recon_role;
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id', 'name=full_name'])$$);
SELECT count(*) AS drift FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id']);
RESET ROLE;
ALTER TABLE recon_people ENABLE ROW LEVEL SECURITY;
CREATE POLICY recon_only_some ON recon_people TO velt_recon_role USING (id < 'u00010');
SET ROLE velt_recon_role;
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id'])$$);
RESET ROLE;
-- the table's owner (a superuser here) is not restricted by its policies
SELECT count(*) AS drift FROM velt_reconcile_users('recon_people', 'reco', ARRAY['organization=org', 'user_id=id']);
-- the check is for the role that calls it, also from inside a SECURITY
-- DEFINER function that a more privileged role runs
CREATE TABLE recon_secret (id text, org text);
INSERT INTO recon_secret VALUES ('s1', 'reco');
CREATE FUNCTION recon_peek() RETURNS bigint LANGUAGE sql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
	SELECT count(*) FROM velt_reconcile_users('recon_secret', 'reco', ARRAY['organization=org', 'user_id=id'])
$$;
ALTER FUNCTION recon_peek() OWNER TO velt_recon_role;
SELECT * FROM try('SELECT recon_peek()');
DROP FUNCTION recon_peek();
DROP TABLE recon_secret;
-- a table in a schema the role may not use, named by its OID, is refused
CREATE SCHEMA recon_hidden;
CREATE TABLE recon_hidden.people (id text, org text);
GRANT SELECT ON recon_hidden.people TO velt_recon_role;
SELECT 'recon_hidden.people'::regclass::oid AS hidden \gset
SET ROLE velt_recon_role;
SELECT * FROM try(format('SELECT * FROM velt_reconcile_users(%s::oid::regclass, %L, %L)',
						 :hidden, 'reco', ARRAY['organization=org', 'user_id=id']));
RESET ROLE;
-- so is a table with a foreign partition: velt would read it through the
-- extension owner's user mapping
CREATE EXTENSION file_fdw;
CREATE SERVER recon_files FOREIGN DATA WRAPPER file_fdw;
CREATE TABLE recon_parted (id text, org text) PARTITION BY LIST (org);
CREATE FOREIGN TABLE recon_parted_x PARTITION OF recon_parted FOR VALUES IN ('x')
	SERVER recon_files OPTIONS (filename '/dev/null');
SELECT * FROM try($$SELECT * FROM velt_reconcile_users('recon_parted', 'x', ARRAY['organization=org', 'user_id=id'])$$);
DROP TABLE recon_parted;
DROP EXTENSION file_fdw CASCADE;
DROP SCHEMA recon_hidden CASCADE;

-- clean up
DROP VIEW recon_people_view;
DROP TABLE recon_people, recon_docs, recon_members, recon_no_keys, recon_twice;
DROP OWNED BY velt_recon_role;
DROP ROLE velt_recon_role;
DELETE FROM velt.outbox;
DELETE FROM velt.outcomes;
