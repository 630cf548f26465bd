-- A FOR EACH ROW velt_users_trigger reads its key=column arguments at its
-- first row and keeps the column map for the statement's later rows: an
-- error about the 2nd or 3rd row must still name the right column (the
-- map's column names once lived in memory freed after the first row).
-- Runs after setup (the extension, try()).
DELETE FROM velt.outbox;

CREATE TABLE staff (
	staff_number text,
	company_name text,
	department_document text,
	display_name text,
	mail_address text
);
CREATE TRIGGER staff_velt AFTER INSERT OR UPDATE OR DELETE ON staff
	FOR EACH ROW EXECUTE FUNCTION velt_users_trigger(
		'organization=company_name', 'user_id=staff_number',
		'document=department_document', 'name=display_name', 'email=mail_address');

-- the 2nd row has no user ID (the 3rd, with none either, is never reached)
SELECT * FROM try($$INSERT INTO staff VALUES
	('a1', 'rowco', NULL, 'A One', 'a1@example.test'),
	(NULL, 'rowco', NULL, 'No Id', 'x@example.test'),
	(NULL, 'rowco', NULL, 'No Id Either', 'y@example.test')$$);
-- the 3rd row's user ID holds a tab
SELECT * FROM try($$INSERT INTO staff VALUES
	('b1', 'rowco', NULL, 'B One', 'b1@example.test'),
	('b2', 'rowco', NULL, 'B Two', 'b2@example.test'),
	(E'b\t3', 'rowco', NULL, 'B Three', 'b3@example.test')$$);
-- the 2nd row has an empty organization
SELECT * FROM try($$INSERT INTO staff VALUES
	('c1', 'rowco', NULL, 'C One', 'c1@example.test'),
	('c2', '', NULL, 'C Two', 'c2@example.test'),
	('c3', 'rowco', NULL, 'C Three', 'c3@example.test')$$);
-- the 3rd row's organization holds a line break
SELECT * FROM try($$INSERT INTO staff VALUES
	('d1', 'rowco', NULL, 'D One', 'd1@example.test'),
	('d2', 'rowco', NULL, 'D Two', 'd2@example.test'),
	('d3', E'row\nco', NULL, 'D Three', 'd3@example.test')$$);
-- the 2nd row's document holds an escape character
SELECT * FROM try($$INSERT INTO staff VALUES
	('e1', 'rowco', 'doc-1', 'E One', 'e1@example.test'),
	('e2', 'rowco', E'doc\x1b2', 'E Two', 'e2@example.test')$$);
-- the 2nd row's user ID is empty
SELECT * FROM try($$INSERT INTO staff VALUES
	('f1', 'rowco', NULL, 'F One', 'f1@example.test'),
	('', 'rowco', NULL, 'Empty', 'f2@example.test')$$);
-- a failed statement queues nothing
SELECT count(*) AS queued FROM velt.outbox;

-- statements that succeed, in the same session, between and after the
-- failures: each reads the map afresh, and every row lands in its scope
INSERT INTO staff VALUES
	('g1', 'rowco', NULL, 'G One', 'g1@example.test'),
	('g2', 'rowco', 'doc-1', 'G Two', 'g2@example.test'),
	('g3', 'otherco', NULL, 'G Three', NULL);
SELECT * FROM try($$UPDATE staff SET staff_number = CASE staff_number WHEN 'g3' THEN E'g\x7f3' ELSE staff_number END$$);
UPDATE staff SET display_name = display_name || ' (updated)';
DELETE FROM staff WHERE staff_number IN ('g1', 'g2');
SELECT endpoint, target, fixed, ids, item_values FROM velt.outbox ORDER BY id;

-- in one transaction, several statements, the last failing at its 2nd row
BEGIN;
INSERT INTO staff VALUES ('h1', 'rowco', NULL, 'H One', 'h1@example.test');
INSERT INTO staff VALUES ('h2', 'rowco', NULL, 'H Two', 'h2@example.test');
SELECT * FROM try($$INSERT INTO staff VALUES
	('h3', 'rowco', NULL, 'H Three', 'h3@example.test'),
	(NULL, 'rowco', NULL, 'No Id', 'x@example.test')$$);
COMMIT;
SELECT target, item_values FROM velt.outbox WHERE item_values[1][1] LIKE 'h%' ORDER BY id;

DROP TABLE staff;
DELETE FROM velt.outbox;

-- a key with a control character that left a row is refused, as the
-- enqueue functions refuse one: it is never split into another ID (the
-- documents trigger hands its keys to velt.trigger_removals)
CREATE TABLE ctl_people (id text PRIMARY KEY, org text NOT NULL);
CREATE TRIGGER ctl_velt AFTER INSERT OR UPDATE OR DELETE ON ctl_people FOR EACH ROW
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'document_id=id');
ALTER TABLE ctl_people DISABLE TRIGGER ctl_velt;
INSERT INTO ctl_people VALUES (E'x\x1f42', 'ctlco');
ALTER TABLE ctl_people ENABLE TRIGGER ctl_velt;
SELECT * FROM try($$DELETE FROM ctl_people$$);
SELECT count(*) AS queued FROM velt.outbox WHERE target = 'ctlco';
DROP TABLE ctl_people;

-- a key that leaves a row of a table with a foreign partition is not
-- looked up there: the read would go through the trigger owner's user
-- mapping (42809, nothing queued)
CREATE EXTENSION file_fdw;
CREATE SERVER trig_files FOREIGN DATA WRAPPER file_fdw;
CREATE TABLE fp_people (id text, org text NOT NULL) PARTITION BY LIST (org);
CREATE TABLE fp_people_local PARTITION OF fp_people FOR VALUES IN ('fpco');
CREATE FOREIGN TABLE fp_people_far PARTITION OF fp_people FOR VALUES IN ('far')
	SERVER trig_files OPTIONS (filename '/dev/null');
CREATE TRIGGER fp_velt AFTER INSERT OR UPDATE OR DELETE ON fp_people FOR EACH ROW
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'document_id=id');
ALTER TABLE fp_people DISABLE TRIGGER fp_velt;
INSERT INTO fp_people VALUES ('fp1', 'fpco');
ALTER TABLE fp_people ENABLE TRIGGER fp_velt;
SELECT * FROM try($$DELETE FROM fp_people WHERE org = 'fpco'$$);
SELECT count(*) AS queued FROM velt.outbox WHERE target = 'fpco';
DROP TABLE fp_people;
DROP EXTENSION file_fdw CASCADE;
