-- An in-flight request stops promptly on statement_timeout, on
-- pg_cancel_backend (what Ctrl-C sends), and at velt.timeout_ms.
SELECT standin_reset();
SET velt.max_retries = 0;

-- statement_timeout: Velt would take 10 s
SELECT standin_fault('{"delay_ms": 10000}');
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS started;
SET statement_timeout = '300ms';
SELECT * FROM velt_add_users('acme', test_users('c1'));
RESET statement_timeout;
SELECT clock_timestamp() - started < interval '3 s' AS stopped_early FROM t0;

-- the backend is fine afterwards, and the handle is reused
SELECT id, success FROM velt_add_users('acme', test_users('c2'));

-- velt.timeout_ms bounds one exchange: class 08 with the elapsed time
SELECT standin_fault('{"delay_ms": 10000}');
SET velt.timeout_ms = 200;
SELECT state, message, detail, hint
FROM try($$SELECT * FROM velt_add_users('acme', test_users('c3'))$$);
RESET velt.timeout_ms;

-- velt.connect_timeout_ms bounds connecting: a port where connect() hangs
SELECT set_config('velt.base_url', current_setting('regress.blackhole_url'), false) IS NOT NULL AS set;
SET velt.connect_timeout_ms = 200;
SELECT state, message, detail, hint
FROM try($$SELECT * FROM velt_add_users('acme', test_users('c4'))$$);
RESET velt.connect_timeout_ms;
RESET velt.base_url;

-- pg_cancel_backend from another session (dblink runs the call in the background)
SELECT standin_reset();
SELECT standin_fault('{"delay_ms": 10000}');
SELECT dblink_connect('bg', format('dbname=%s port=%s', current_database(), current_setting('port')));
SELECT dblink_send_query('bg', $$SELECT * FROM velt_add_users('acme', '[{"userId": "slow", "name": "S", "email": "s@example.test"}]')$$);
-- wait (at most 10 s) until the request has reached the stand-in
DO $$
BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN (standin_stats()->>'requests')::int > 0;
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT (standin_stats()->>'requests')::int AS in_flight;
CREATE TEMP TABLE t1 AS SELECT clock_timestamp() AS cancelled_at;
SELECT pg_cancel_backend(pid) FROM pg_stat_activity
WHERE query LIKE '%"userId": "slow"%' AND pid <> pg_backend_pid();
SELECT * FROM dblink_get_result('bg') AS r(id text, success boolean, velt_id text, message text, result jsonb);
SELECT clock_timestamp() - cancelled_at < interval '2 s' AS stopped_promptly FROM t1;
SELECT dblink_disconnect('bg');
