-- The launcher and its workers: one delivery worker per database of
-- velt.databases, started and stopped on a reload; DROP DATABASE while a
-- worker runs; CREATE EXTENSION velt after the list names the database;
-- "*"; the pause switch; velt_workers; the log lines.  Every setting
-- changed here is reset, and the end waits until only velt_worker's worker
-- (velt.database in the test cluster) runs again.
SELECT standin_reset();
-- a line of its own in the server log: the log checks at the end count
-- only what comes after it
CREATE TABLE workers_log_marker AS SELECT 'velt-workers-test-' || md5(random()::text) AS marker;
DO $$ BEGIN RAISE LOG '%', (SELECT marker FROM workers_log_marker); END $$;
CREATE FUNCTION delivered(org text, user_id text) RETURNS text
LANGUAGE sql AS $$
	SELECT format('SELECT COALESCE(standin_state()->%L->''users'' ? %L, false)', org, user_id)
$$;

CREATE DATABASE velt_wk_a;
CREATE DATABASE velt_wk_b;
CREATE DATABASE velt_wk_c;
\c velt_wk_a
CREATE EXTENSION velt;
\c velt_wk_b
CREATE EXTENSION velt;
\c contrib_regression
-- three databases listed, velt installed in two: two workers, and the
-- worker of velt_worker (no longer listed) stops
-- a list velt cannot read is refused when set
ALTER SYSTEM SET velt.databases = 'velt_wk_a, *';
ALTER SYSTEM SET velt.databases = 'velt_wk_a, "velt_wk_b';
ALTER SYSTEM SET velt.databases = 'velt_wk_a, velt_wk_b, velt_wk_c';
SELECT pg_reload_conf();
SELECT wait_until($$SELECT array_agg(application_name ORDER BY application_name)
	= '{"velt outbox worker velt_wk_a","velt outbox worker velt_wk_b"}'
	FROM pg_stat_activity WHERE backend_type = 'velt outbox worker'$$) AS two_workers;
SELECT wait_until($$SELECT count(*) = 3 FROM velt_workers
	WHERE state IN ('idle', 'waiting for extension')$$) AS settled;
SELECT database, state, pid IS NOT NULL AS running FROM velt_workers ORDER BY database;
SELECT count(*) AS launchers FROM pg_stat_activity WHERE backend_type = 'velt launcher';

-- velt installed later: its worker starts at COMMIT, without a restart
\c velt_wk_c
CREATE EXTENSION velt;
\c contrib_regression
-- (within 8 s: the launcher's own rescan comes only every 30 s)
SELECT wait_until($$SELECT count(*) = 3 FROM velt_workers WHERE state = 'idle'$$, 8) AS third_worker;

-- the three deliver at once, each its own database's outbox
SELECT velt_stats_reset() IS NOT NULL AS stats_reset;
\c velt_wk_a
SELECT velt_enqueue_add_users('wka', '[{"userId": "a1", "name": "A", "email": "a1@example.test"}]') > 0 AS enqueued;
\c velt_wk_b
SELECT velt_enqueue_add_users('wkb', '[{"userId": "b1", "name": "B", "email": "b1@example.test"}, {"userId": "b2", "name": "B", "email": "b2@example.test"}]') > 0 AS enqueued;
\c velt_wk_c
SELECT velt_enqueue_add_users('wkc', '[{"userId": "c1", "name": "C", "email": "c1@example.test"}]') > 0 AS enqueued;
\c contrib_regression
SELECT wait_until(delivered('wka', 'a1')) AND wait_until(delivered('wkb', 'b2'))
	AND wait_until(delivered('wkc', 'c1')) AS three_delivered;
SELECT wait_until($$SELECT sum(items_delivered) = 4 FROM velt_workers$$) AS counted;
-- velt_stats counts the workers' requests as drains: 3 operations, 4 users
SELECT endpoint, caller, calls, requests, items, successes, failures FROM velt_stats;
SELECT database, state, rounds > 0 AS rounds, items_delivered, dead_letters, last_error,
	   started_at <= last_round_at AS started_first, next_wakeup_at > last_round_at AS wakes_later
FROM velt_workers ORDER BY database;

-- a role that may not drop the database does not stop its worker: its
-- DROP DATABASE (and RENAME) fail as without velt, the same process delivers
SELECT pid AS b_pid FROM velt_workers WHERE database = 'velt_wk_b' \gset
CREATE ROLE velt_wk_stranger CREATEDB;
SET ROLE velt_wk_stranger;
DROP DATABASE velt_wk_b;
ALTER DATABASE velt_wk_b RENAME TO velt_wk_b2;
RESET ROLE;
DROP ROLE velt_wk_stranger;
SELECT pg_sleep(1);
SELECT pid = :b_pid AS same_worker, state FROM velt_workers WHERE database = 'velt_wk_b';

-- DROP DATABASE while its worker runs: the worker leaves, the drop
-- succeeds, the others go on
DROP DATABASE velt_wk_b;
SELECT wait_until($$SELECT NOT EXISTS (SELECT 1 FROM velt_workers WHERE database = 'velt_wk_b')$$) AS slot_gone;
SELECT count(*) AS b_worker FROM pg_stat_activity WHERE pid = :b_pid;
\c velt_wk_a
SELECT velt_enqueue_add_users('wka', '[{"userId": "a2", "name": "A", "email": "a2@example.test"}]') > 0 AS enqueued;
\c contrib_regression
SELECT wait_until(delivered('wka', 'a2')) AS delivered_after_drop;

-- an outage and a dead letter: with velt.max_attempts = 1, one 503
-- dead-letters the operation; the next delivery ends the outage
ALTER SYSTEM SET velt.max_attempts = 1;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT standin_fault('{"status": 503, "count": 1}');
\c velt_wk_a
SELECT velt_enqueue_add_users('wka', '[{"userId": "dead", "name": "D", "email": "d@example.test"}]') > 0 AS enqueued;
\c contrib_regression
SELECT wait_until($$SELECT dead_letters = 1 FROM velt_workers WHERE database = 'velt_wk_a'$$) AS dead_lettered;
SELECT state, last_error LIKE 'POST /v2/users/add: HTTP 503%' AS last_error_is_503,
	   last_error_at IS NOT NULL AS error_time
FROM velt_workers WHERE database = 'velt_wk_a';
-- another database's last error shows only to pg_read_all_stats
CREATE ROLE velt_wk_watcher;
GRANT SELECT ON velt_workers TO velt_wk_watcher;
GRANT EXECUTE ON FUNCTION velt.workers() TO velt_wk_watcher;
SET ROLE velt_wk_watcher;
SELECT state, last_error IS NULL AS error_hidden FROM velt_workers WHERE database = 'velt_wk_a';
RESET ROLE;
GRANT pg_read_all_stats TO velt_wk_watcher;
SET ROLE velt_wk_watcher;
SELECT last_error LIKE 'POST /v2/users/add: HTTP 503%' AS error_shown
FROM velt_workers WHERE database = 'velt_wk_a';
RESET ROLE;
REVOKE ALL ON velt_workers FROM velt_wk_watcher;
REVOKE ALL ON FUNCTION velt.workers() FROM velt_wk_watcher;
DROP ROLE velt_wk_watcher;
ALTER SYSTEM RESET velt.max_attempts;
SELECT pg_reload_conf();
\c velt_wk_a
SELECT velt_enqueue_add_users('wka', '[{"userId": "a3", "name": "A", "email": "a3@example.test"}]') > 0 AS enqueued;
\c contrib_regression
SELECT wait_until(delivered('wka', 'a3')) AS delivered_after_outage;
SELECT wait_until($$SELECT state = 'idle' FROM velt_workers WHERE database = 'velt_wk_a'$$) AS outage_over;

-- the pause switch: workers and velt_process_outbox send nothing,
-- enqueueing goes on; turning it off delivers
ALTER SYSTEM SET velt.pause_delivery = on;
SELECT pg_reload_conf();
SELECT wait_until($$SELECT bool_and(state = 'paused') FROM velt_workers$$) AS paused;
\c velt_wk_a
SELECT velt_enqueue_add_users('wka', '[{"userId": "a4", "name": "A", "email": "a4@example.test"}]') > 0 AS enqueued;
SELECT requests, delivered FROM velt_process_outbox();
\c contrib_regression
SELECT pg_sleep(1);
SELECT standin_state()->'wka'->'users' ? 'a4' AS sent_while_paused;
ALTER SYSTEM RESET velt.pause_delivery;
SELECT pg_reload_conf();
SELECT wait_until(delivered('wka', 'a4')) AS delivered_after_resume;

-- "*": every database that allows connections, templates aside; a new
-- database's worker starts at CREATE EXTENSION
ALTER SYSTEM SET velt.databases = '*';
SELECT pg_reload_conf();
CREATE DATABASE velt_wk_d;
\c velt_wk_d
CREATE EXTENSION velt;
SELECT velt_enqueue_add_users('wkd', '[{"userId": "d1", "name": "D", "email": "d1@example.test"}]') > 0 AS enqueued;
\c contrib_regression
SELECT wait_until(delivered('wkd', 'd1')) AS delivered_with_star;
SELECT wait_until($$SELECT count(*) = 3 FROM velt_workers
	WHERE database IN ('velt_wk_a', 'velt_wk_c', 'velt_worker') AND state = 'idle'$$) AS listed_by_star;
SELECT count(*) AS template_workers FROM velt_workers WHERE database IN ('template0', 'template1');

-- back to velt.database = velt_worker alone
ALTER SYSTEM RESET velt.databases;
SELECT pg_reload_conf();
SELECT wait_until($$SELECT array_agg(application_name) = '{"velt outbox worker velt_worker"}'
	FROM pg_stat_activity WHERE backend_type = 'velt outbox worker'$$) AS restored;
SELECT wait_until($$SELECT array_agg(database) = '{velt_worker}' FROM velt_workers$$) AS one_slot;
DROP DATABASE velt_wk_a;
DROP DATABASE velt_wk_c;
DROP DATABASE velt_wk_d;

-- the log: one line per change of state
CREATE TEMP TABLE log_hits(pattern text, n int);
DO $$
DECLARE
	p text;
	m text := (SELECT marker FROM workers_log_marker);
BEGIN
	FOREACH p IN ARRAY ARRAY[
		'velt outbox worker started for database "velt_wk_a"',
		'velt outbox worker stopped for database "velt_wk_b"',
		'velt is not installed in database "velt_wk_c"',
		'Velt is unavailable to the outbox worker of database "velt_wk_a"',
		'Velt answers the outbox worker of database "velt_wk_a" again',
		'1 outbox operation(s) dead-lettered in database "velt_wk_a"',
		'delivery paused in database "velt_wk_a"',
		'delivery resumed in database "velt_wk_a"'] LOOP
		-- the log file with this run's marker, from the marker on
		EXECUTE format('COPY log_hits(n) FROM PROGRAM %L',
			'f=$(grep -l -F -e ' || quote_literal(m)
			|| ' /var/log/postgresql/postgresql-*.log | head -n 1); '
			|| 'sed -n "/' || m || '/,\$p" "$f" | grep -c -F -e '
			|| quote_literal(p) || ' || true');
		UPDATE log_hits SET pattern = p WHERE pattern IS NULL;
	END LOOP;
END $$;
SELECT pattern, n > 0 AS logged FROM log_hits;
DROP TABLE workers_log_marker;
DROP FUNCTION delivered(text, text);
