-- The fault matrix through the outbox for the enqueue twins beyond users
-- and user groups (the users ones are in fault_matrix): for every twin and
-- a fault of each kind (a 5xx, a dropped connection, a 429 with
-- Retry-After, an answer that is not Velt's envelope, a 4xx Velt refuses
-- for good), the first drain leaves the operation pending (or rejected),
-- and once the fault is gone (and a rejected one redriven) it is delivered
-- with one outcome per ID: nothing is lost.
SELECT standin_reset();
SET velt.max_attempts = 5;
SET velt.outbox_retry_max_delay_ms = 60000;

CREATE TEMP TABLE twins(twin text, ids int, call text);
INSERT INTO twins VALUES
	('add_organizations', 2, $$velt_enqueue_add_organizations('[{"organizationId": "tf1", "organizationName": "One"}, {"organizationId": "tf2", "organizationName": "Two"}]')$$),
	('update_organizations', 1, $$velt_enqueue_update_organizations('[{"organizationId": "tf1", "organizationName": "T"}]')$$),
	('delete_organizations', 1, $$velt_enqueue_delete_organizations(ARRAY['tf9'])$$),
	('update_organizations_disabled', 1, $$velt_enqueue_update_organizations_disabled(ARRAY['tf1'], false)$$),
	('add_documents', 2, $$velt_enqueue_add_documents('tf1', '[{"documentId": "td1"}, {"documentId": "td2"}]')$$),
	('update_documents', 1, $$velt_enqueue_update_documents('tf1', '[{"documentId": "td1", "documentName": "D"}]')$$),
	('delete_documents', 1, $$velt_enqueue_delete_documents('tf1', ARRAY['td9'])$$),
	('update_documents_access', 1, $$velt_enqueue_update_documents_access('tf1', ARRAY['td1'], 'public')$$),
	('update_documents_disabled', 1, $$velt_enqueue_update_documents_disabled('tf1', ARRAY['td1'], true)$$),
	('update_users', 1, $$velt_enqueue_update_users('tf1', '[{"userId": "tu1", "name": "U", "email": "tu1@example.test"}]')$$),
	('add_folders', 1, $$velt_enqueue_add_folders('tf1', '[{"folderId": "tg1", "folderName": "G"}]')$$),
	('update_folders', 1, $$velt_enqueue_update_folders('tf1', '[{"folderId": "tg1", "folderName": "G2"}]')$$),
	('update_folders_access', 1, $$velt_enqueue_update_folders_access('tf1', ARRAY['tg1'], 'restricted')$$),
	('request', 1, $$velt_enqueue_request('users/get', '{"organizationId": "tf1"}')$$);

CREATE TEMP TABLE faults(fault_name text, fault jsonb, final boolean);
INSERT INTO faults VALUES
	('503', '{"status": 503}', false),
	('drop', '{"drop": true, "count": 100}', false),
	('429 + Retry-After', '{"status": 429, "retry_after": "1"}', false),
	('not an envelope', '{"status": 200, "body": "<html>maintenance</html>", "content_type": "text/html"}', false),
	('400', '{"status": 400}', true);

-- the class of an outbox last_error, without libcurl's own words
CREATE FUNCTION twin_error_class(e text) RETURNS text LANGUAGE sql AS $$
	SELECT CASE
		WHEN e IS NULL THEN NULL
		WHEN e ~ '^POST \S+: no answer: ' THEN regexp_replace(regexp_replace(e, '^POST \S+: ', ''), ' \(libcurl: .*\)$', '')
		WHEN e ~ '^POST \S+: HTTP \d+: not a Velt envelope' THEN substring(e from 'HTTP \d+: not a Velt envelope')
		WHEN e ~ '^POST \S+: HTTP \d+ [A-Z_]+: ' THEN substring(e from 'HTTP \d+ [A-Z_]+')
		ELSE e END
$$;

-- every case: the fault on, enqueue (committed), drain; the fault off,
-- redrive what was refused, make it due, drain; what became of it
CREATE TABLE twin_cases(twin text, fault_name text, ids int, first_drain text, finally text);
CREATE PROCEDURE run_cases() LANGUAGE plpgsql AS $$
DECLARE
	t record;
	f record;
	op bigint;
	first text;
	outcomes int;
BEGIN
	FOR t IN SELECT * FROM twins ORDER BY twin LOOP
		FOR f IN SELECT * FROM faults ORDER BY fault_name LOOP
			PERFORM standin_reset();
			PERFORM standin_fault(f.fault);
			EXECUTE 'SELECT ' || t.call INTO op;
			COMMIT;
			PERFORM velt_process_outbox(1000, 30);
			SELECT string_agg(DISTINCT o.state || COALESCE(': ' || twin_error_class(o.last_error), ''), ', ')
			INTO first FROM velt.outbox o WHERE o.id >= op;
			PERFORM standin_reset();
			PERFORM velt_retry_failed(include_rejected => true);
			UPDATE velt.outbox SET next_attempt_at = clock_timestamp() WHERE state = 'pending';
			COMMIT;
			PERFORM velt_process_outbox(1000, 30);
			SELECT count(*) INTO outcomes FROM velt_results r WHERE r.operation_id >= op;
			INSERT INTO twin_cases VALUES (t.twin, f.fault_name, t.ids, COALESCE(first, 'delivered'),
				CASE WHEN EXISTS (SELECT 1 FROM velt.outbox) THEN 'left in the outbox'
					 WHEN outcomes = t.ids THEN 'delivered, every ID answered'
					 ELSE format('delivered, %s of %s IDs answered', outcomes, t.ids) END);
			DELETE FROM velt.outbox;
			COMMIT;
		END LOOP;
	END LOOP;
END $$;
CALL run_cases();

SELECT twin, fault_name, first_drain, finally FROM twin_cases ORDER BY twin, fault_name;

-- every case ended delivered with an outcome per ID, and every fault was hit
SELECT count(*) AS cases,
	   count(*) FILTER (WHERE finally = 'delivered, every ID answered') AS nothing_lost,
	   count(*) FILTER (WHERE first_drain <> 'delivered') AS fault_hit
FROM twin_cases;
DROP TABLE twin_cases;
DROP PROCEDURE run_cases();
DROP FUNCTION twin_error_class(text);
