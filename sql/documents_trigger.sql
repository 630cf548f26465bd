-- velt_documents_trigger keeps an application's documents table in step
-- with Velt's documents through the outbox, FOR EACH ROW and FOR EACH
-- STATEMENT: documents/add on INSERT (in the row's folder), on UPDATE only
-- what changed (documents/update for the name, access/update,
-- access/disablestate/update), documents/delete on DELETE; moving a
-- document to another organization; the mistakes it refuses.
SELECT standin_reset();
DELETE FROM velt.outbox;
SET velt.max_retries = 0;

CREATE FUNCTION docs_drain() RETURNS TABLE(requests int, delivered bigint, failed bigint, retried bigint)
LANGUAGE sql AS $$ SELECT requests, delivered, failed, retried FROM velt_process_outbox() $$;
-- Velt's documents of an organization
CREATE FUNCTION velt_docs(org text)
RETURNS TABLE(id text, name text, folder text, access text, disabled boolean) LANGUAGE sql AS $$
	SELECT d.key, d.value->'metadata'->>'documentName', d.value->>'folderId',
		   d.value->>'accessType', (d.value->>'disabled')::boolean
	FROM jsonb_each(COALESCE(standin_state()->org->'documents', '{}')) AS d ORDER BY 1
$$;
-- the queued operations, without the organization that target shows
CREATE FUNCTION queued() RETURNS TABLE(endpoint text, target text, fixed jsonb, ids text[], items jsonb)
LANGUAGE sql AS $$ SELECT endpoint, target, fixed - 'organizationId', ids, items FROM velt.outbox ORDER BY id $$;

-- FOR EACH ROW
CREATE TABLE docs (
	id integer PRIMARY KEY,
	org text NOT NULL,
	title text,
	folder_id text,
	access_type text,
	is_disabled boolean
);
CREATE TRIGGER docs_velt AFTER INSERT OR UPDATE OR DELETE ON docs FOR EACH ROW
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'document_id=id', 'name=title',
		'folder=folder_id', 'access=access_type', 'disabled=is_disabled');

BEGIN;
INSERT INTO docs VALUES (99, 'dco', 'Rolled back', NULL, NULL, NULL);
ROLLBACK;
INSERT INTO docs VALUES (1, 'dco', 'Plan', NULL, NULL, NULL),
	(2, 'dco', 'Budget', 'fin', 'restricted', NULL),
	(3, 'dco', NULL, '', '', true);
SELECT * FROM queued();
SELECT * FROM docs_drain();
SELECT * FROM velt_docs('dco');

-- an UPDATE sends only what changed, and nothing for a NULL or a folder
UPDATE docs SET title = 'Plan v2' WHERE id = 1;
UPDATE docs SET access_type = 'organizationPrivate', is_disabled = false WHERE id = 2;
UPDATE docs SET title = title, is_disabled = true WHERE id = 3;
UPDATE docs SET folder_id = 'elsewhere', title = NULL WHERE id = 1;
SELECT * FROM queued();
SELECT * FROM docs_drain();
SELECT * FROM velt_docs('dco');

-- another organization: added there (with its state), deleted from the old
-- one once the statement has fired; DELETE deletes
UPDATE docs SET org = 'dco2' WHERE id = 3;
DELETE FROM docs WHERE id = 2;
SELECT * FROM queued();
SELECT * FROM docs_drain();
SELECT * FROM velt_docs('dco');
SELECT * FROM velt_docs('dco2');

-- FOR EACH STATEMENT with transition tables: one operation per organization
-- and folder (adds) or per organization and value (access, disabled)
SELECT standin_reset();
CREATE TABLE sdocs (
	doc_key text PRIMARY KEY,
	org text NOT NULL,
	title text,
	folder_id text,
	access_type text,
	is_disabled boolean
);
CREATE TRIGGER sdocs_insert AFTER INSERT ON sdocs REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION velt_documents_trigger('organization=org',
		'document_id=doc_key', 'name=title', 'folder=folder_id', 'access=access_type',
		'disabled=is_disabled');
CREATE TRIGGER sdocs_update AFTER UPDATE ON sdocs
	REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION velt_documents_trigger('organization=org',
		'document_id=doc_key', 'name=title', 'folder=folder_id', 'access=access_type',
		'disabled=is_disabled');
CREATE TRIGGER sdocs_delete AFTER DELETE ON sdocs REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION velt_documents_trigger('organization=org',
		'document_id=doc_key', 'name=title', 'folder=folder_id', 'access=access_type',
		'disabled=is_disabled');
INSERT INTO sdocs
	SELECT 'd' || g, CASE WHEN g % 2 = 0 THEN 'sa' ELSE 'sb' END, 'Doc ' || g,
		   CASE WHEN g % 5 = 0 THEN 'f5' END, CASE WHEN g % 3 = 0 THEN 'restricted' END,
		   CASE WHEN g % 4 = 0 THEN true END
	FROM generate_series(1, 40) AS g;
SELECT endpoint, target, fixed - 'organizationId' AS fixed, cardinality(ids) AS ids,
	   jsonb_array_length(items) AS items
FROM velt.outbox ORDER BY id;
SELECT * FROM docs_drain();
SELECT left(org, 2) AS org, count(*) AS documents, count(*) FILTER (WHERE folder = 'f5') AS in_f5,
	   count(*) FILTER (WHERE access = 'restricted') AS restricted, count(*) FILTER (WHERE disabled) AS disabled
FROM (SELECT 'sa' AS org, * FROM velt_docs('sa') UNION ALL SELECT 'sb', * FROM velt_docs('sb')) v
GROUP BY 1 ORDER BY 1;
UPDATE sdocs SET title = title || '!' WHERE doc_key IN ('d1', 'd2');
UPDATE sdocs SET is_disabled = NOT COALESCE(is_disabled, false) WHERE doc_key IN ('d3', 'd4');
UPDATE sdocs SET org = 'sa' WHERE doc_key = 'd5';
DELETE FROM sdocs WHERE doc_key IN ('d6', 'd7');
SELECT * FROM queued();
SELECT * FROM docs_drain();
-- Velt equals the table
SELECT s.org, s.doc_key, s.title, v.name, s.is_disabled, v.disabled
FROM sdocs s FULL JOIN (SELECT 'sa' AS org, * FROM velt_docs('sa')
						UNION ALL SELECT 'sb', * FROM velt_docs('sb')) v ON v.org = s.org AND v.id = s.doc_key
WHERE s.doc_key IS NULL OR v.id IS NULL OR s.title IS DISTINCT FROM v.name
   OR COALESCE(s.is_disabled, false) IS DISTINCT FROM v.disabled;
SELECT count(*) AS velt_documents FROM (SELECT * FROM velt_docs('sa') UNION ALL SELECT * FROM velt_docs('sb')) v;

-- mistakes
CREATE TABLE bad_docs (id integer, org text, flag text, on_off boolean);
CREATE TRIGGER bad_docs1 AFTER INSERT ON bad_docs FOR EACH ROW
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'document_id=id', 'disabled=flag');
SELECT * FROM try($$INSERT INTO bad_docs VALUES (1, 'o', 'yes', true)$$);
DROP TRIGGER bad_docs1 ON bad_docs;
CREATE TRIGGER bad_docs2 AFTER INSERT ON bad_docs FOR EACH ROW
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'document_id=id', 'name=on_off');
SELECT * FROM try($$INSERT INTO bad_docs VALUES (1, 'o', 'yes', true)$$);
DROP TRIGGER bad_docs2 ON bad_docs;
CREATE TRIGGER bad_docs3 AFTER INSERT ON bad_docs FOR EACH ROW
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'documentid=id');
SELECT * FROM try($$INSERT INTO bad_docs VALUES (1, 'o', 'yes', true)$$);
DROP TRIGGER bad_docs3 ON bad_docs;
CREATE TRIGGER bad_docs4 AFTER INSERT ON bad_docs FOR EACH ROW
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'document_id=id', 'disabled=on_off');
SELECT * FROM try($$INSERT INTO bad_docs VALUES (NULL, 'o', 'yes', true)$$);
SELECT * FROM try($$INSERT INTO bad_docs VALUES (1, '', 'yes', true)$$);
SELECT * FROM try($$INSERT INTO bad_docs VALUES (2, 'o', 'yes', true), (3, NULL, 'yes', true)$$);
SELECT * FROM try($$INSERT INTO bad_docs VALUES (E'4'::int, E'o\t', 'yes', true)$$);
DROP TRIGGER bad_docs4 ON bad_docs;
CREATE TRIGGER bad_docs5 AFTER INSERT ON bad_docs FOR EACH STATEMENT
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'document_id=id');
SELECT * FROM try($$INSERT INTO bad_docs VALUES (1, 'o', 'yes', true)$$);
DROP TRIGGER bad_docs5 ON bad_docs;
CREATE TRIGGER bad_docs6 BEFORE INSERT ON bad_docs FOR EACH ROW
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'document_id=id');
SELECT * FROM try($$INSERT INTO bad_docs VALUES (1, 'o', 'yes', true)$$);
SELECT count(*) AS outbox_rows FROM velt.outbox;
