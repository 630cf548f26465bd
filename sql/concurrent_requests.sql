-- A write call of several requests keeps up to velt.max_concurrency of
-- them in flight (default 16); rows still come back in input order, each
-- request retries on its own, and a cancel stops every request in flight.
SELECT standin_reset();
SHOW velt.max_concurrency;
SET velt.batch_size = 1;

-- 8 requests, each answered 300 ms late: 4 in flight at once take 4
-- connections, no more
SET velt.max_concurrency = 4;
SELECT standin_fault('{"delay_ms": 300, "count": 8}');
SELECT string_agg(id, ',' ORDER BY ordinality) AS ids_in_order, bool_and(success) AS all_added
FROM velt_add_users('cc', test_users('c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8')) WITH ORDINALITY;
SELECT (standin_stats()->>'requests')::int AS requests, (standin_stats()->>'connections')::int AS connections;

-- the first request answers last: the rows still follow the input
SELECT standin_reset();
RESET velt.max_concurrency;
SELECT standin_fault('{"delay_ms": 500, "body_contains": "\"d1\""}');
SELECT string_agg(id, ',' ORDER BY ordinality) AS ids_in_order
FROM velt_add_users('cc', test_users('d1', 'd2', 'd3', 'd4')) WITH ORDINALITY;

-- one request of several fails with 503 once and is retried alone
SELECT standin_reset();
SELECT standin_fault('{"status": 503, "body_contains": "\"e3\""}');
SELECT string_agg(id || '=' || success, ',' ORDER BY ordinality) AS rows
FROM velt_add_users('cc', test_users('e1', 'e2', 'e3', 'e4')) WITH ORDINALITY;
SELECT body->'data'->'users'->0->>'userId' AS user_id, count(*) AS requests,
	   string_agg(status::text, '/' ORDER BY seq) AS statuses
FROM standin_requests() GROUP BY 1 ORDER BY 1;

-- statement_timeout stops all 4 requests in flight (Velt would take 10 s),
-- and the backend carries on
SELECT standin_reset();
SELECT standin_fault('{"delay_ms": 10000, "count": 4}');
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS started;
SET statement_timeout = '300ms';
SELECT * FROM velt_add_users('cc', test_users('f1', 'f2', 'f3', 'f4'));
RESET statement_timeout;
SELECT clock_timestamp() - started < interval '3 s' AS stopped_early FROM t0;
SELECT (standin_stats()->>'requests')::int AS were_in_flight;
SELECT count(*) AS rows FROM velt_add_users('cc', test_users('g1', 'g2'));
RESET velt.batch_size;
