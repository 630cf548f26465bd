-- A real pg_cron job runs velt_process_outbox (the recipe in docs/outbox.md).
-- pg_cron lives in cron.database_name (postgres here) and runs the job in
-- this database as a background worker; its schedule is once a minute.
\c postgres
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT cron.schedule_in_database('velt-outbox', '* * * * *',
	'SELECT * FROM velt_process_outbox(max_items => 10000, max_seconds => 50)',
	'contrib_regression') > 0 AS scheduled;
\c contrib_regression
SELECT standin_reset();
SELECT velt_stats_reset() IS NOT NULL AS stats_reset;
SELECT velt_enqueue_add_users('cronco', test_users('cr1', 'cr2')) > 0 AS enqueued;
SELECT velt_enqueue_add_users_to_group('cronco', 'g', ARRAY['cr1']) > 0 AS enqueued;
-- the job runs at the start of the next minute: wait at most 90 s
SELECT wait_for_user('cronco', 'cr2', seconds => 90) AS delivered_by_pg_cron;
-- the job's transaction commits just after Velt answered: wait (at most 30 s)
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN NOT EXISTS (SELECT 1 FROM velt.outbox);
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT count(*) AS pending FROM velt.outbox;
-- the job's requests count in velt_stats as a drain's
SELECT endpoint, caller, calls, requests, items, successes FROM velt_stats ORDER BY endpoint;
SELECT endpoint, id, success, message FROM velt_results WHERE endpoint LIKE '%usergroups%' AND id = 'cr1';
\c postgres
SELECT status FROM cron.job_run_details WHERE command LIKE '%velt_process_outbox%'
ORDER BY start_time LIMIT 1;
SELECT cron.unschedule('velt-outbox');
