-- One curl handle per backend: 1,000 calls share a handful of TCP
-- connections; and nothing leaks across many failed calls.
SELECT standin_reset();

SELECT count(*) FILTER (WHERE success) AS added
FROM generate_series(1, 1000) AS g,
	 LATERAL velt_add_users('keepco', test_users('k' || g)) AS r;
SELECT (standin_stats()->>'requests')::int AS requests,
	   (standin_stats()->>'connections')::int <= 2 AS few_connections;

-- 2,000 failed calls (invalid answers, Velt errors) do not grow the backend:
-- json-c and libcurl memory is released on every ERROR
SET velt.max_retries = 0;
CREATE FUNCTION rss_kb() RETURNS bigint LANGUAGE sql AS $$
	SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status')
					 FROM 'VmRSS:\s+(\d+) kB')::bigint
$$;
CREATE FUNCTION fail_many(n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	failures int := 0;
BEGIN
	FOR i IN 1..n LOOP
		BEGIN
			PERFORM * FROM velt_add_users('leakco', test_users('l1', 'l2', 'l3'));
		EXCEPTION WHEN OTHERS THEN
			failures := failures + 1;
		END;
	END LOOP;
	RETURN failures;
END $$;
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"l1\": {\"success\": \"maybe\"}}}}", "count": 300}');
SELECT standin_fault('{"status": 400, "count": 300}');
SELECT fail_many(600) AS warmup_failures;
CREATE TEMP TABLE rss AS SELECT rss_kb() AS before;
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"l1\": {\"success\": \"maybe\"}}}}", "count": 1000}');
SELECT standin_fault('{"status": 400, "count": 1000}');
SELECT fail_many(2000) AS failures;
SELECT rss_kb() - before < 1024 AS no_growth FROM rss;
