-- velt.max_requests_per_second: one request rate for the whole cluster, a
-- token bucket in shared memory (velt is preloaded here), and a 429 with
-- Retry-After pausing every process.  The checks are lower bounds only: the
-- limit may make a request later, never earlier.
SELECT standin_reset();
ALTER SYSTEM SET velt.max_requests_per_second = 5;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW velt.max_requests_per_second;

-- 10 requests at 5 a second: a burst of 5 (the bucket holds one second's
-- worth), then one every 200 ms, so the call takes at least a second
SET velt.batch_size = 1;
CREATE TEMP TABLE rl_start AS SELECT clock_timestamp() AS started;
SELECT count(*) AS rows FROM velt_add_users('rl', test_users('r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10'));
SELECT clock_timestamp() - started >= interval '1 s' AS took_a_second FROM rl_start;
SELECT count(*) AS requests FROM standin_requests();
RESET velt.batch_size;

-- a 429 with Retry-After pauses the requests of every process: this
-- session is told to wait 2 s (and does not retry), and another session's
-- request goes out only after that
ALTER SYSTEM SET velt.max_requests_per_second = 100;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT standin_reset();
SELECT standin_fault('{"status": 429, "error_status": "RESOURCE_EXHAUSTED", "message": "Slow down.", "retry_after": 2, "count": 1}');
SET velt.max_retries = 0;
SELECT state, message FROM try($$SELECT * FROM velt_add_users('rl', test_users('p1'))$$);
RESET velt.max_retries;
SELECT dblink_connect('other', format('dbname=%s port=%s', current_database(), current_setting('port')));
SELECT * FROM dblink('other', $$SELECT count(*) FROM velt_add_users('rl', '[{"userId": "p2", "name": "P", "email": "p2@example.test"}]')$$) AS t(rows bigint);
SELECT dblink_disconnect('other');
SELECT seq, status, at - first_value(at) OVER (ORDER BY seq) >= 1.95 AS after_the_pause
FROM standin_requests() ORDER BY seq;

-- waiting longer than velt.timeout_ms for the rate limit fails the call
-- as a timeout, with nothing sent
SELECT standin_reset();
SELECT standin_fault('{"status": 429, "error_status": "RESOURCE_EXHAUSTED", "message": "Slow down.", "retry_after": 5, "count": 1}');
SET velt.max_retries = 0;
SELECT state FROM try($$SELECT * FROM velt_add_users('rl', test_users('p3'))$$);
SELECT items AS items_before, requests AS requests_before FROM velt_stats
WHERE endpoint = 'users/add' AND caller = 'call' \gset
SET velt.timeout_ms = 100;
SELECT * FROM try($$SELECT * FROM velt_add_users('rl', test_users('p4'))$$);
RESET velt.timeout_ms;
-- velt_stats counts neither a request nor an item for it
SELECT requests - :requests_before AS requests_counted, items - :items_before AS items_counted
FROM velt_stats WHERE endpoint = 'users/add' AND caller = 'call';
RESET velt.max_retries;
SELECT (standin_stats()->>'requests')::int AS requests_sent;

-- off again: no limit, and the pause no longer holds anyone back
ALTER SYSTEM RESET velt.max_requests_per_second;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW velt.max_requests_per_second;
SELECT count(*) AS rows FROM velt_add_users('rl', test_users('p5'));
