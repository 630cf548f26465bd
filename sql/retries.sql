-- Retries: 429 (honouring Retry-After), 502/503/504 and transport errors
-- are retried with backoff; other answers never are.
SELECT standin_reset();
SET velt.max_retries = 3;

-- one 503, then success: two requests, one row
SELECT standin_fault('{"status": 503}');
SELECT id, success FROM velt_add_users('acme', test_users('r1'));
SELECT seq, status FROM standin_requests() ORDER BY seq;

-- 502 and 504 twice each, then success
SELECT standin_reset();
SELECT standin_fault('{"status": 502}');
SELECT standin_fault('{"status": 504}');
SELECT id, success FROM velt_add_users('acme', test_users('r2'));
SELECT seq, status FROM standin_requests() ORDER BY seq;

-- a dropped connection is retried too
SELECT standin_reset();
SELECT standin_fault('{"drop": true}');
SELECT id, success FROM velt_add_users('acme', test_users('r3'));
SELECT seq, status FROM standin_requests() ORDER BY seq;

-- 429 with Retry-After: 1 waits at least a second before the retry
SELECT standin_reset();
SELECT standin_fault('{"status": 429, "retry_after": "1"}');
SELECT id, success FROM velt_add_users('acme', test_users('r4'));
SELECT count(*) AS requests,
	   max(at) - min(at) >= 0.95 AS waited_retry_after
FROM standin_requests();

-- a Retry-After longer than velt.retry_max_delay_ms ends the retries at once
SELECT standin_reset();
SELECT standin_fault('{"status": 429, "retry_after": "3600"}');
SELECT * FROM try($$SELECT * FROM velt_add_users('acme', test_users('r5'))$$);
SELECT count(*) AS requests FROM standin_requests();

-- retries run out: the last answer is the error, after 1 + max_retries attempts
SELECT standin_reset();
SET velt.max_retries = 2;
SELECT standin_fault('{"status": 503, "count": 3}');
SELECT * FROM try($$SELECT * FROM velt_add_users('acme', test_users('r6'))$$);
SELECT count(*) AS requests FROM standin_requests();

-- other 4xx and 500 are never retried
SELECT standin_reset();
SELECT standin_fault('{"status": 400}');
SELECT state FROM try($$SELECT * FROM velt_add_users('acme', test_users('r7'))$$);
SELECT standin_fault('{"status": 409}');
SELECT state FROM try($$SELECT * FROM velt_add_users('acme', test_users('r7'))$$);
SELECT standin_fault('{"status": 500}');
SELECT state FROM try($$SELECT * FROM velt_add_users('acme', test_users('r7'))$$);
SELECT count(*) AS requests FROM standin_requests();

-- max_retries = 0 sends exactly once
SELECT standin_reset();
SET velt.max_retries = 0;
SELECT standin_fault('{"status": 503}');
SELECT state FROM try($$SELECT * FROM velt_add_users('acme', test_users('r8'))$$);
SELECT count(*) AS requests FROM standin_requests();

-- a failure in a later request says which request failed and which were
-- applied.  One request at a time, those after it are never sent ...
SELECT standin_reset();
SET velt.batch_size = 1;
SET velt.max_concurrency = 1;
SELECT standin_fault('{"status": 400, "body_contains": "\"p2\""}');
SELECT * FROM try($$SELECT * FROM velt_add_users('acme', test_users('p1', 'p2', 'p3'))$$);
SELECT seq, status, body->'data'->'users'->0->>'userId' AS user_id FROM standin_requests();
-- ... with requests in flight together (the default), those already sent
-- finish, and the HINT names every request that succeeded
RESET velt.max_concurrency;
SELECT standin_reset();
SELECT standin_fault('{"status": 400, "body_contains": "\"p2\""}');
SELECT * FROM try($$SELECT * FROM velt_add_users('acme', test_users('p1', 'p2', 'p3'))$$);
SELECT status, body->'data'->'users'->0->>'userId' AS user_id FROM standin_requests() ORDER BY user_id;
-- the first and the last fail: the ERROR names the first, the HINT the one
-- that succeeded
SELECT standin_reset();
SELECT standin_fault('{"status": 400, "body_contains": "\"p1\""}');
SELECT standin_fault('{"status": 400, "body_contains": "\"p3\""}');
SELECT state, substring(detail from 'request \d+ of \d+') AS failed, hint
FROM try($$SELECT * FROM velt_add_users('acme', test_users('p1', 'p2', 'p3'))$$);
