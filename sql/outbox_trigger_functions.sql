-- Ready-made triggers feeding the outbox, FOR EACH ROW and FOR EACH
-- STATEMENT with transition tables.
SELECT standin_reset();
DELETE FROM velt.outbox;
SET velt.max_retries = 0;

CREATE FUNCTION drain_all() RETURNS TABLE(requests int, delivered bigint, failed bigint, retried bigint)
LANGUAGE sql AS $$ SELECT requests, delivered, failed, retried FROM velt_process_outbox() $$;
-- the IDs of a queued operation (trigger-made ones keep them in item_values)
CREATE FUNCTION item_ids(o velt.outbox) RETURNS text[] LANGUAGE sql AS $$
	SELECT CASE WHEN o.item_values IS NULL THEN o.ids
				ELSE ARRAY(SELECT o.item_values[i][1] FROM generate_subscripts(o.item_values, 1) AS i) END
$$;
CREATE FUNCTION org_users(org text) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT jsonb_object_keys(COALESCE(standin_state()->org->'users', '{}')) ORDER BY 1
$$;

-- FOR EACH ROW
CREATE TABLE people (
	id integer PRIMARY KEY,
	org text NOT NULL,
	full_name text,
	mail text,
	avatar text,
	access text
);
CREATE TRIGGER people_velt AFTER INSERT OR UPDATE OR DELETE ON people
	FOR EACH ROW EXECUTE FUNCTION velt_users_trigger(
		'organization=org', 'user_id=id', 'name=full_name', 'email=mail',
		'photo_url=avatar', 'role=access');

BEGIN;
INSERT INTO people VALUES (99, 'rowco', 'Rolled Back', 'rb@example.test', NULL, NULL);
ROLLBACK;
INSERT INTO people VALUES
	(1, 'rowco', 'Ann Row', 'ann@example.test', 'https://img.example.test/ann.png', 'viewer'),
	(2, 'rowco', 'Bob Row', 'bob@example.test', NULL, NULL),
	(3, 'otherco', 'Cy Row', 'cy@example.test', NULL, NULL);
SELECT endpoint, target, item_ids(o) AS ids FROM velt.outbox o ORDER BY id;
SELECT * FROM drain_all();
SELECT standin_state()->'rowco'->'users'->'1' AS ann;
SELECT org_users('rowco') AS rowco_users;

-- an UPDATE re-adds; moving a user to another organization removes it from the old one
UPDATE people SET full_name = 'Bob Renamed' WHERE id = 2;
UPDATE people SET org = 'otherco' WHERE id = 1;
DELETE FROM people WHERE id = 3;
SELECT endpoint, target, item_ids(o) AS ids FROM velt.outbox o ORDER BY id;
SELECT * FROM drain_all();
SELECT standin_state()->'rowco'->'users'->'2'->>'name' AS bob_name;
SELECT org_users('rowco') AS rowco_users;
SELECT org_users('otherco') AS otherco_users;

-- FOR EACH STATEMENT with transition tables: one operation per statement and organization
SELECT standin_reset();
CREATE TABLE members (
	user_id text PRIMARY KEY,
	org text NOT NULL,
	doc text,
	name text,
	email text
);
CREATE TRIGGER members_insert AFTER INSERT ON members REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION velt_users_trigger(
		'organization=org', 'user_id=user_id', 'name=name', 'email=email', 'document=doc');
CREATE TRIGGER members_update AFTER UPDATE ON members
	REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION velt_users_trigger(
		'organization=org', 'user_id=user_id', 'name=name', 'email=email', 'document=doc');
CREATE TRIGGER members_delete AFTER DELETE ON members REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION velt_users_trigger(
		'organization=org', 'user_id=user_id', 'name=name', 'email=email', 'document=doc');

INSERT INTO members
	SELECT 's' || g, CASE WHEN g % 3 = 0 THEN 'stmt-b' ELSE 'stmt-a' END, NULL,
		   'Member ' || g, 's' || g || '@example.test'
	FROM generate_series(1, 1200) AS g;
SELECT endpoint, target, cardinality(item_ids(o)) AS items FROM velt.outbox o ORDER BY id;
SELECT endpoint, state, operations, items FROM velt_outbox_status;
SET velt.batch_size = 500;
SELECT * FROM drain_all();
RESET velt.batch_size;
SELECT count(*) AS requests, sum(jsonb_array_length(body->'data'->'users')) AS users_sent
FROM standin_requests();
SELECT (SELECT count(*) FROM org_users('stmt-a')) AS stmt_a, (SELECT count(*) FROM org_users('stmt-b')) AS stmt_b;

-- a statement-level UPDATE that moves users to a document scope removes them
-- from the organization scope and adds them at the document
SELECT standin_reset();
UPDATE members SET doc = 'doc-7' WHERE user_id IN ('s1', 's2');
SELECT endpoint, target, fixed, item_ids(o) AS ids FROM velt.outbox o ORDER BY id;
SELECT * FROM drain_all();
SELECT standin_state()->'stmt-a'->'users' ? 's1' AS s1_in_org,
	   standin_state()->'stmt-a'->'documents'->'doc-7'->'users' ? 's1' AS s1_in_doc;

DELETE FROM members WHERE org = 'stmt-b';
SELECT endpoint, target, cardinality(item_ids(o)) AS items FROM velt.outbox o ORDER BY id;
SELECT * FROM drain_all();
SELECT count(*) AS stmt_b_left FROM org_users('stmt-b');

-- one statement naming a user twice: the last row wins
SELECT standin_reset();
CREATE TABLE signups (user_id text, org text, name text, email text);
CREATE TRIGGER signups_velt AFTER INSERT ON signups REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION velt_users_trigger(
		'organization=org', 'user_id=user_id', 'name=name', 'email=email');
INSERT INTO signups VALUES ('dup', 'dupco', 'First', 'd@example.test'),
						   ('other', 'dupco', 'Other', 'o@example.test'),
						   ('dup', 'dupco', 'Second', 'd@example.test');
SELECT endpoint, item_ids(o) AS ids, item_values FROM velt.outbox o;
SELECT * FROM drain_all();
SELECT standin_state()->'dupco'->'users'->'dup'->>'name' AS dup_name;

-- group membership, row and statement level
SELECT standin_reset();
SELECT * FROM drain_all();
SELECT id, success FROM velt_add_users('gco', test_users('u1', 'u2', 'u3'));
SELECT id, success FROM velt_add_user_groups('gco', '[{"groupId": "red"}, {"groupId": "blue"}]');
CREATE TABLE memberships (org text, grp text, member text);
CREATE TRIGGER memberships_row AFTER INSERT OR UPDATE OR DELETE ON memberships
	FOR EACH ROW EXECUTE FUNCTION velt_group_members_trigger(
		'organization=org', 'group=grp', 'user_id=member');
INSERT INTO memberships VALUES ('gco', 'red', 'u1'), ('gco', 'red', 'u2');
UPDATE memberships SET grp = 'blue' WHERE member = 'u2';
SELECT * FROM drain_all();
SELECT standin_state()->'gco'->'groups' AS groups;
DROP TRIGGER memberships_row ON memberships;
CREATE TRIGGER memberships_stmt AFTER DELETE ON memberships REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION velt_group_members_trigger(
		'organization=org', 'group=grp', 'user_id=member');
DELETE FROM memberships;
SELECT endpoint, fixed, ids FROM velt.outbox ORDER BY id;
SELECT * FROM drain_all();
SELECT standin_state()->'gco'->'groups' AS groups;

-- mistakes in the trigger definition fail at the first firing, clearly
CREATE TABLE bad (id integer, org text, info jsonb);
CREATE TRIGGER bad1 AFTER INSERT ON bad FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=no_such_column');
SELECT * FROM try($$INSERT INTO bad VALUES (1, 'o', '{}')$$);
DROP TRIGGER bad1 ON bad;
CREATE TRIGGER bad2 AFTER INSERT ON bad FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=info');
SELECT * FROM try($$INSERT INTO bad VALUES (1, 'o', '{}')$$);
DROP TRIGGER bad2 ON bad;
CREATE TRIGGER bad3 AFTER INSERT ON bad FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'userid=id');
SELECT * FROM try($$INSERT INTO bad VALUES (1, 'o', '{}')$$);
DROP TRIGGER bad3 ON bad;
CREATE TRIGGER bad4 AFTER INSERT ON bad FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org');
SELECT * FROM try($$INSERT INTO bad VALUES (1, 'o', '{}')$$);
DROP TRIGGER bad4 ON bad;
CREATE TRIGGER bad5 AFTER INSERT ON bad FOR EACH STATEMENT
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=id');
SELECT * FROM try($$INSERT INTO bad VALUES (1, 'o', '{}')$$);
DROP TRIGGER bad5 ON bad;
CREATE TRIGGER bad6 AFTER INSERT ON bad FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=id');
SELECT * FROM try($$INSERT INTO bad VALUES (NULL, 'o', '{}')$$);
-- control characters in IDs are refused, as by the SQL functions
CREATE TABLE bad_ids (uid text, org text, doc text);
CREATE TRIGGER bad_ids_velt AFTER INSERT ON bad_ids REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=uid', 'document=doc');
SELECT * FROM try($$INSERT INTO bad_ids VALUES ('fine', 'o', NULL), (E'u\n', 'o', NULL)$$);
SELECT * FROM try($$INSERT INTO bad_ids VALUES ('u', E'o\t', NULL)$$);
SELECT * FROM try($$INSERT INTO bad_ids VALUES ('u', 'o', E'd\x7f')$$);
SELECT count(*) AS outbox_rows FROM velt.outbox;

-- citext and domains over text are accepted as columns
CREATE EXTENSION IF NOT EXISTS citext;
CREATE DOMAIN org_name AS text;
CREATE TABLE typed_people (id citext, org org_name, name text, email text);
CREATE TRIGGER typed_people_velt AFTER INSERT ON typed_people FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=id', 'name=name', 'email=email');
INSERT INTO typed_people VALUES ('CiUser', 'typedco', 'C', 'c@example.test');
SELECT endpoint, target, item_ids(o) AS ids FROM velt.outbox o;

-- max_items counts the users of trigger-made operations
SELECT standin_reset();
DELETE FROM velt.outbox;
INSERT INTO signups SELECT 'm' || g, 'maxco', 'M', 'm@example.test' FROM generate_series(1, 3) g;
INSERT INTO signups SELECT 'n' || g, 'maxco', 'N', 'n@example.test' FROM generate_series(1, 3) g;
SELECT requests, delivered FROM velt_process_outbox(max_items => 2);
SELECT count(*) AS operations_left FROM velt.outbox;
SELECT requests, delivered FROM velt_process_outbox();

-- velt_group_members_trigger refuses to run as a BEFORE trigger
CREATE TRIGGER memberships_before BEFORE INSERT ON memberships FOR EACH ROW
	EXECUTE FUNCTION velt_group_members_trigger('organization=org', 'group=grp', 'user_id=member');
SELECT * FROM try($$INSERT INTO memberships VALUES ('gco', 'red', 'u3')$$);

-- column names are quoted, never read as SQL or format codes
CREATE TABLE odd_members ("org%s" text, "grp;--" text, "Member" text);
CREATE TRIGGER odd_members_velt AFTER INSERT ON odd_members REFERENCING NEW TABLE AS "new%I"
	FOR EACH STATEMENT EXECUTE FUNCTION velt_group_members_trigger(
		'organization=org%s', 'group=grp;--', 'user_id=Member');
INSERT INTO odd_members VALUES ('gco', 'red', 'u3');
SELECT endpoint, fixed, ids FROM velt.outbox ORDER BY id DESC LIMIT 1;
DELETE FROM velt.outbox;
