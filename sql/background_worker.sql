-- The background worker (velt in shared_preload_libraries, velt.database =
-- velt_worker here) delivers at COMMIT without anyone draining, survives a
-- Velt outage, settings reloads and DROP DATABASE of another database.
SELECT standin_reset();
CREATE DATABASE velt_worker;

\c velt_worker
CREATE EXTENSION velt;
SELECT velt_enqueue_add_users('wk', '[{"userId": "wk1", "name": "W K", "email": "wk1@example.test"}]') > 0 AS enqueued;
\c contrib_regression
SELECT wait_for_user('wk', 'wk1') AS delivered_by_worker;
SELECT count(*) AS worker_processes FROM pg_stat_activity WHERE backend_type = 'velt outbox worker';

-- with a long idle sleep, delivery still starts at COMMIT (the latch), and
-- a rolled-back transaction sends nothing
ALTER SYSTEM SET velt.worker_idle_ms = '10min';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\c velt_worker
BEGIN;
SELECT velt_enqueue_add_users('wk', '[{"userId": "rolled", "name": "R", "email": "r@example.test"}]') > 0 AS enqueued;
ROLLBACK;
BEGIN;
SELECT velt_enqueue_add_users('wk', '[{"userId": "wk2", "name": "W K", "email": "wk2@example.test"}]') > 0 AS enqueued;
SELECT pg_sleep(0.5);
COMMIT;
\c contrib_regression
SELECT wait_for_user('wk', 'wk2', seconds => 5) AS woken_at_commit;
SELECT standin_state()->'wk'->'users' ? 'rolled' AS rolled_back_sent;

-- a Velt outage: the worker backs off and delivers once Velt answers again
SELECT standin_fault('{"status": 503, "count": 2}');
\c velt_worker
SELECT velt_enqueue_add_users('wk', '[{"userId": "wk3", "name": "W K", "email": "wk3@example.test"}]') > 0 AS enqueued;
\c contrib_regression
SELECT wait_for_user('wk', 'wk3') AS delivered_after_outage;
SELECT count(*) FILTER (WHERE status = 503) AS failed_attempts FROM standin_requests();

-- DROP DATABASE of another database leaves the worker alone
CREATE DATABASE velt_other;
DROP DATABASE velt_other;
\c velt_worker
SELECT velt_enqueue_delete_users('wk', ARRAY['wk1']) > 0 AS enqueued;
\c contrib_regression
SELECT wait_for_user('wk', 'wk1', present => false) AS deleted_after_drop_database;

-- the outcomes are recorded in the worker's database
\c velt_worker
SELECT id, success, message FROM velt_results ORDER BY finished_at, id;
SELECT count(*) AS pending FROM velt.outbox;
\c contrib_regression
-- the worker reports its table statistics while it runs, so autovacuum
-- sees the rows its DELETEs left dead in velt.outbox (waits at most 30 s;
-- each look is a new session of velt_worker, with fresh statistics)
SELECT wait_until(format($$SELECT n > 0 FROM dblink(%L,
	'SELECT n_tup_del FROM pg_stat_all_tables WHERE relid = ''velt.outbox''::regclass') AS t(n bigint)$$,
	format('dbname=velt_worker port=%s', current_setting('port')))) AS worker_deletes_counted;
ALTER SYSTEM RESET velt.worker_idle_ms;
SELECT pg_reload_conf();
