-- velt_stats: every request counted once, per endpoint and caller kind,
-- against what the stand-in received and the faults it injected; the
-- histogram's percentiles; velt_stats_reset.  The counts are exact: this
-- file is the only traffic in the cluster while it runs.
SELECT standin_reset();
DELETE FROM velt.outbox;
SET velt.max_retries = 3;
CREATE FUNCTION stats_drain() RETURNS TABLE(requests int, delivered bigint, failed bigint, retried bigint)
LANGUAGE sql AS $$
	SELECT requests, delivered, failed, retried FROM velt_process_outbox(10000, 30)
$$;
SELECT velt_stats_reset() IS NOT NULL AS reset;
SELECT count(*) AS rows_after_reset FROM velt_stats;
SELECT clock_timestamp() AS started \gset

-- synchronous calls of users/add: answered, then each fault once
SELECT count(*) AS rows FROM velt_add_users('st', test_users('s1', 's2', 's3'));
SELECT standin_fault('{"status": 503}');
SELECT count(*) AS rows FROM velt_add_users('st', test_users('s4'));	-- retried
-- (an answer cut short: a dropped connection before any answer may be
-- resent by libcurl itself on a reused connection, unseen by velt)
SELECT standin_fault('{"truncate": true}');
SELECT count(*) AS rows FROM velt_add_users('st', test_users('s5'));	-- retried
SELECT standin_fault('{"status": 429}');
SELECT count(*) AS rows FROM velt_add_users('st', test_users('s6'));	-- retried
SELECT standin_fault('{"status": 400}');
SELECT state FROM try($$SELECT * FROM velt_add_users('st', test_users('s7'))$$);
SELECT standin_fault('{"status": 500}');
SELECT state FROM try($$SELECT * FROM velt_add_users('st', test_users('s8'))$$);
SELECT standin_fault('{"body": "<html>proxy</html>", "content_type": "text/html"}');
SELECT state FROM try($$SELECT * FROM velt_add_users('st', test_users('s9'))$$);

-- no answer at all: a port where connecting hangs, not retried
SET velt.max_retries = 0;
SELECT set_config('velt.base_url', current_setting('regress.blackhole_url'), false) IS NOT NULL AS set;
SET velt.connect_timeout_ms = 200;
SELECT state FROM try($$SELECT * FROM velt_delete_users('st', ARRAY['s9'])$$);
RESET velt.connect_timeout_ms;
RESET velt.base_url;
SET velt.max_retries = 3;

-- per-ID refusals: ghost is no user of the organization
SELECT count(*) AS rows FROM velt_add_user_groups('st', '[{"groupId": "g1"}]');
SELECT id, success FROM velt_add_users_to_group('st', 'g1', ARRAY['s1', 'ghost']) ORDER BY id;

-- a read, velt_request to a catalog path and to another one
SELECT count(*) AS rows FROM velt_get_users('st');
SELECT velt_request('users/get', '{"organizationId": "st"}') IS NOT NULL AS answered;
SELECT state FROM try($$SELECT * FROM velt_get_folders('st')$$);

-- the outbox: two operations in one request; a 503, then delivered; and
-- velt_enqueue_request with a catalog path
SELECT velt_enqueue_add_users('st', test_users('d1', 'd2')) > 0 AS enqueued;
SELECT velt_enqueue_add_users('st', test_users('d3')) > 0 AS enqueued;
SELECT * FROM stats_drain();
SELECT velt_enqueue_delete_users('st', ARRAY['s2', 's3']) > 0 AS enqueued;
SELECT standin_fault('{"status": 503, "path_contains": "users/delete"}');
SELECT * FROM stats_drain();
UPDATE velt.outbox SET next_attempt_at = clock_timestamp() WHERE state = 'pending';
SELECT * FROM stats_drain();
SELECT velt_enqueue_request('users/get', '{"organizationId": "st"}') > 0 AS enqueued;
SELECT * FROM stats_drain();

-- every counter, per endpoint and caller kind
SELECT endpoint, caller, calls, requests, items, successes, failures,
	   transport_errors AS transport, client_errors AS client, rate_limited, server_errors AS server,
	   malformed, retries
FROM velt_stats ORDER BY endpoint, caller;

-- requests per endpoint equal what the stand-in received, and the one
-- sent to the blackhole (no rows: no difference)
WITH received AS (
	SELECT CASE WHEN e = 'organizations/folders/get' THEN 'request' ELSE e END AS endpoint,
		   count(*) AS requests
	FROM (SELECT regexp_replace(path, '^/v[12]/', '') AS e FROM standin_requests()
		  UNION ALL SELECT 'users/delete') AS r
	GROUP BY 1
), counted AS (
	SELECT endpoint, sum(requests) AS requests FROM velt_stats GROUP BY endpoint
)
SELECT * FROM received FULL JOIN counted USING (endpoint)
WHERE received.requests IS DISTINCT FROM counted.requests;

-- error classes equal the answers the stand-in gave (transport: the cut
-- answer and the blackhole; retries: after the 503, the cut answer, the 429)
SELECT (SELECT sum(transport_errors) FROM velt_stats) AS transport,
	   (SELECT sum(client_errors) FROM velt_stats) AS client,
	   (SELECT count(*) FROM standin_requests() WHERE status BETWEEN 400 AND 499 AND status <> 429) AS answered_4xx,
	   (SELECT sum(rate_limited) FROM velt_stats) AS rate_limited,
	   (SELECT count(*) FROM standin_requests() WHERE status = 429) AS answered_429,
	   (SELECT sum(server_errors) FROM velt_stats) AS server,
	   (SELECT count(*) FROM standin_requests() WHERE status >= 500) AS answered_5xx,
	   (SELECT sum(retries) FROM velt_stats) AS retries;

-- the drain's per-ID outcomes equal velt_results' rows
SELECT s.endpoint, s.successes, r.succeeded
FROM velt_stats s
LEFT JOIN (SELECT endpoint, count(*) FILTER (WHERE success) AS succeeded
		   FROM velt_results WHERE finished_at >= :'started' GROUP BY endpoint) AS r ON r.endpoint = s.endpoint
WHERE s.caller = 'drain' ORDER BY 1;

-- bytes and times: every row that sent something has them, in order
SELECT endpoint, caller, bytes_sent > 0 AS sent, bytes_received > 0 AS received,
	   total_time_ms > 0 AS timed, max_time_ms <= total_time_ms AS max_in_total,
	   p50_ms > 0 AND p50_ms <= p95_ms AND p95_ms <= p99_ms AND p99_ms <= max_time_ms AS ordered
FROM velt_stats WHERE requests > 0 ORDER BY endpoint, caller;

-- the histogram: one request of 400 ms among fast ones shows in p99 within
-- a bucket (+-9 %), and not in p50
SELECT standin_fault('{"delay_ms": 400, "path_contains": "organizations/get"}');
SELECT count(*) AS rows FROM velt_get_organizations(ARRAY['st']);
SELECT count(*) AS rows FROM velt_get_organizations(ARRAY['st']);
SELECT count(*) AS rows FROM velt_get_organizations(ARRAY['st']);
SELECT requests, max_time_ms >= 400 AS slow_max, p99_ms BETWEEN 400 / 1.1 AND max_time_ms AS p99_slow,
	   p50_ms < 200 AS p50_fast
FROM velt_stats WHERE endpoint = 'organizations/get';

-- reset: every row gone, stats_reset moved on
CREATE ROLE velt_stats_nobody;
SELECT max(stats_reset) AS before_reset FROM velt_stats \gset
SELECT velt_stats_reset() > :'before_reset' AS reset_later;
SELECT count(*) AS rows_after_reset FROM velt_stats;
SELECT count(*) AS rows FROM velt_add_users('st', test_users('s1'));
SELECT endpoint, caller, calls, requests, stats_reset > :'before_reset' AS since_reset FROM velt_stats;
-- velt.track_stats off (a superuser's setting): calls and drains count nothing
SET velt.track_stats = off;
SELECT count(*) AS rows FROM velt_add_users('st', test_users('s2'));
SELECT velt_enqueue_add_users('st', test_users('s3')) > 0 AS enqueued;
SELECT requests, delivered FROM velt_process_outbox();
RESET velt.track_stats;
SELECT endpoint, caller, calls, requests FROM velt_stats;
SET ROLE velt_stats_nobody;
SET velt.track_stats = off;
RESET ROLE;
SELECT velt_stats_reset() IS NOT NULL AS reset;
RESET velt.max_retries;
DROP ROLE velt_stats_nobody;
