-- The outbox: nothing before COMMIT, nothing after ROLLBACK, coalescing,
-- commit order per ID, retries with Retry-After, dead letters and redrive.
SELECT standin_reset();
SET velt.max_retries = 0;

CREATE FUNCTION drain(max_items int DEFAULT 10000)
RETURNS TABLE(requests int, delivered bigint, failed bigint, retried bigint)
LANGUAGE sql AS $$
	SELECT requests, delivered, failed, retried FROM velt_process_outbox(max_items, 30)
$$;
-- makes every pending operation due now (instead of waiting for its backoff)
CREATE FUNCTION make_due() RETURNS void LANGUAGE sql AS $$
	UPDATE velt.outbox SET next_attempt_at = clock_timestamp() WHERE state = 'pending'
$$;

-- ROLLBACK: nothing is ever sent
BEGIN;
SELECT velt_enqueue_add_users('oxo', test_users('rb1')) > 0 AS enqueued;
SELECT count(*) AS visible_in_own_transaction FROM velt.outbox;
ROLLBACK;
SELECT * FROM drain();
SELECT count(*) AS outbox_rows FROM velt.outbox;
SELECT standin_stats()->'requests' AS requests_sent;

-- nothing is sent before COMMIT, even by a drain in another session
BEGIN;
SELECT velt_enqueue_add_users('oxo', test_users('c1')) > 0 AS enqueued;
SELECT * FROM dblink('dbname=' || current_database() || ' port=' || current_setting('port'),
	'SELECT requests FROM velt_process_outbox()') AS t(requests int);
COMMIT;
SELECT standin_stats()->'requests' AS requests_before_drain;
SELECT * FROM drain();
SELECT standin_state()->'oxo'->'users' ? 'c1' AS delivered;

-- coalescing: many transactions, one request per endpoint and target
SELECT standin_reset();
SELECT count(velt_enqueue_add_users('oxo', test_users('a' || i))) AS enqueued FROM generate_series(1, 5) AS i;
SELECT velt_enqueue_add_users('oxo', test_users('a6', 'a7')) > 0 AS enqueued;
SELECT velt_enqueue_add_users('other', test_users('o1')) > 0 AS enqueued;
SELECT velt_enqueue_add_users('oxo', test_users('d1'), document => 'doc') > 0 AS enqueued;
SELECT velt_enqueue_add_user_groups('oxo', '[{"groupId": "g1"}]') > 0 AS enqueued;
SELECT * FROM drain();
SELECT path, body->'data'->>'organizationId' AS org, body->'data'->>'documentId' AS doc,
	   jsonb_array_length(COALESCE(body->'data'->'users', body->'data'->'organizationUserGroups')) AS items
FROM standin_requests() ORDER BY 1, 2, 3;  -- (sent together: arrival order varies)

-- velt.batch_size bounds each coalesced request
SELECT standin_reset();
SET velt.batch_size = 2;
SELECT count(velt_enqueue_add_users('oxo', test_users('b' || i))) AS enqueued FROM generate_series(1, 5) AS i;
SELECT * FROM drain();
-- (the requests are in flight together: their order of arrival varies)
SELECT jsonb_array_length(body->'data'->'users') AS users FROM standin_requests() ORDER BY 1 DESC;
RESET velt.batch_size;

-- order per ID: add, remove, add again within and across transactions
SELECT standin_reset();
BEGIN;
SELECT velt_enqueue_add_users('oxo', test_users('p1', 'p2')) > 0 AS enqueued;
SELECT velt_enqueue_delete_users('oxo', ARRAY['p1']) > 0 AS enqueued;
COMMIT;
SELECT velt_enqueue_add_users('oxo', test_users('p3')) > 0 AS enqueued;
SELECT velt_enqueue_delete_users('oxo', ARRAY['p2', 'p3']) > 0 AS enqueued;
SELECT velt_enqueue_add_users('oxo', test_users('p2')) > 0 AS enqueued;
SELECT * FROM drain();
SELECT seq, path, COALESCE(body->'data'->'users', body->'data'->'userIds') AS items
FROM standin_requests() ORDER BY seq;
SELECT u AS user_id, standin_state()->'oxo'->'users' ? u AS present
FROM unnest(ARRAY['p1', 'p2', 'p3']) AS u;

-- commit order, not begin order: the earlier transaction commits last
SELECT standin_reset();
SELECT dblink_connect('bg', 'dbname=' || current_database() || ' port=' || current_setting('port'));
SELECT dblink_exec('bg', 'BEGIN');
SELECT * FROM dblink('bg', $$SELECT velt_enqueue_add_users('oxo', '[{"userId": "w1", "name": "W", "email": "w@example.test"}]') > 0$$) AS t(enqueued boolean);
SELECT velt_enqueue_delete_users('oxo', ARRAY['w1']) > 0 AS enqueued_later_committed_first;
SELECT dblink_exec('bg', 'COMMIT');
SELECT dblink_disconnect('bg');
SELECT * FROM drain();
SELECT seq, path FROM standin_requests() ORDER BY seq;
SELECT standin_state()->'oxo'->'users' ? 'w1' AS w1_present;

-- per-ID outcomes land in velt_results
SELECT standin_reset();
SELECT velt_enqueue_delete_users('oxo', ARRAY['a1', 'nobody']) AS op \gset
SELECT * FROM drain();
SELECT operation_id = :op AS same_op, endpoint, id, success, message, attempts, last_error
FROM velt_results WHERE operation_id = :op ORDER BY id;

-- 429 with Retry-After: retried later, still batched together
SELECT standin_reset();
SELECT standin_fault('{"status": 429, "retry_after": "2"}');
SELECT velt_enqueue_add_users('oxo', test_users('r1')) > 0 AS enqueued;
SELECT velt_enqueue_add_users('oxo', test_users('r2')) > 0 AS enqueued;
SELECT * FROM drain();
SELECT endpoint, state, operations, items FROM velt_outbox_status;
SELECT bool_and(next_attempt_at >= clock_timestamp() + interval '1.5 s') AS honours_retry_after,
	   min(attempts) AS attempts, min(last_error) AS last_error
FROM velt.outbox;
SELECT * FROM drain();
SELECT make_due();
SELECT * FROM drain();
SELECT seq, status, jsonb_array_length(body->'data'->'users') AS users FROM standin_requests() ORDER BY seq;

-- requests in flight together: independent operations overlap, but two
-- that touch one ID never do (each is answered 300 ms late here)
SELECT standin_reset();
SET velt.batch_size = 1;
SELECT standin_fault('{"delay_ms": 300, "count": 5}');
BEGIN;
SELECT velt_enqueue_add_users('oxo', test_users('k1', 'k2', 'k3')) > 0 AS enqueued;
SELECT velt_enqueue_delete_users('oxo', ARRAY['k1']) > 0 AS enqueued;
SELECT velt_enqueue_add_users('oxo', test_users('k1')) > 0 AS enqueued;
COMMIT;
SELECT * FROM drain();
WITH r AS (
	SELECT seq, path, at, coalesce(body->'data'->'users'->0->>'userId', body->'data'->'userIds'->>0) AS id
	FROM standin_requests())
SELECT (SELECT string_agg(substring(path FROM '[a-z]+$'), ',' ORDER BY seq) FROM r WHERE id = 'k1') AS k1_in_order,
	   (SELECT bool_and(b.at - a.at >= 0.3) FROM r a JOIN r b ON b.id = a.id AND b.seq > a.seq
		WHERE a.id = 'k1') AS k1_never_overlapped,
	   (SELECT max(at) FROM r WHERE id IN ('k2', 'k3')) <
	   (SELECT min(at) FROM r WHERE id = 'k1' AND path LIKE '%delete') AS k2_k3_with_first_k1;
SELECT standin_state()->'oxo'->'users' ? 'k1' AS k1_present;
RESET velt.batch_size;

-- 5xx and transport failures are retried too
SELECT standin_reset();
SELECT standin_fault('{"status": 503}');
SELECT velt_enqueue_add_users('oxo', test_users('s1')) > 0 AS enqueued;
SELECT * FROM drain();
SELECT make_due();
-- every attempt dropped (libcurl itself tries a dropped reused connection
-- again, on another pooled one or a new one, as many times as it has them)
SELECT standin_fault('{"drop": true, "count": 100}');
SELECT * FROM drain();
SELECT standin_reset();
SELECT make_due();
SELECT * FROM drain();
SELECT count(*) AS pending FROM velt.outbox;

-- after velt.max_attempts an operation is dead-lettered; redrive puts it back
SELECT standin_reset();
SET velt.max_attempts = 2;
SELECT standin_fault('{"status": 503, "count": 2}');
SELECT velt_enqueue_add_users('oxo', test_users('x1')) AS op \gset
SELECT * FROM drain();
SELECT make_due();
SELECT * FROM drain();
SELECT endpoint, state, operations, items FROM velt_outbox_status;
SELECT id, success, message, attempts, last_error FROM velt_results WHERE operation_id = :op;
SELECT velt_retry_failed() AS redriven;
SELECT * FROM drain();
SELECT id, success, message, attempts FROM velt_results WHERE operation_id = :op;
SELECT count(*) AS left_in_outbox FROM velt.outbox;
RESET velt.max_attempts;

-- other 4xx answers are final ("rejected") and only redriven on request
SELECT standin_reset();
SELECT standin_fault('{"status": 400, "message": "Bad organization."}');
SELECT velt_enqueue_add_users('oxo', test_users('q1')) AS op \gset
SELECT * FROM drain();
SELECT endpoint, state, operations FROM velt_outbox_status;
SELECT velt_retry_failed() AS redriven_without_flag;
SELECT velt_retry_failed(include_rejected => true) AS redriven;
SELECT * FROM drain();
SELECT id, success FROM velt_results WHERE operation_id = :op;

-- bounded: max_items
SELECT standin_reset();
SELECT count(velt_enqueue_add_users('oxo', test_users('m' || i))) AS enqueued FROM generate_series(1, 5) AS i;
SELECT * FROM drain(2);
SELECT count(*) AS still_pending FROM velt.outbox;
SELECT * FROM drain();
SELECT * FROM try($$SELECT * FROM velt_process_outbox(0)$$);
SELECT * FROM try($$SELECT * FROM velt_process_outbox(10, 0)$$);

-- enqueue validates like the synchronous functions and writes nothing on error
SELECT * FROM try($$SELECT velt_enqueue_add_users('oxo', '[{"userId": "a"}, {"userId": "a"}]')$$);
SELECT * FROM try($$SELECT velt_enqueue_delete_users_from_group('oxo', 'g', ARRAY['a'], delete_all => true)$$);
SELECT * FROM try($$SELECT velt_enqueue_add_users(NULL, test_users('a'))$$);
SELECT count(*) AS outbox_rows FROM velt.outbox;

-- group membership and delete_all through the outbox
SELECT standin_reset();
SELECT velt_enqueue_add_users('grp', test_users('g1', 'g2')) > 0 AS enqueued;
SELECT velt_enqueue_add_user_groups('grp', '[{"groupId": "team"}]') > 0 AS enqueued;
SELECT velt_enqueue_add_users_to_group('grp', 'team', ARRAY['g1', 'g2']) > 0 AS enqueued;
SELECT velt_enqueue_delete_users_from_group('grp', 'team', delete_all => true) > 0 AS enqueued;
SELECT velt_enqueue_add_users_to_group('grp', 'team', ARRAY['g2']) > 0 AS enqueued;
SELECT * FROM drain();
-- the users and the group share nothing: they go out together, in either
-- order; every membership change waits for both, and for the one before it
SELECT array_agg(path ORDER BY path) AS in_flight_together FROM standin_requests() WHERE seq <= 2;
SELECT seq, path FROM standin_requests() WHERE seq > 2 ORDER BY seq;
SELECT standin_state()->'grp'->'groups'->'team'->'members' AS members;

-- privileges: internal tables and views are not readable by PUBLIC; a
-- granted role can enqueue but not read the queue
CREATE ROLE velt_writer NOLOGIN;
GRANT EXECUTE ON FUNCTION velt_enqueue_add_users(text, jsonb, text, text, jsonb) TO velt_writer;
SET ROLE velt_writer;
SELECT velt_enqueue_add_users('oxo', test_users('priv1')) > 0 AS enqueued;
SELECT * FROM try($$SELECT * FROM velt.outbox$$);
SELECT * FROM try($$SELECT * FROM velt_results$$);
SELECT * FROM try($$SELECT * FROM velt_outbox_status$$);
SELECT * FROM try($$SELECT * FROM velt_process_outbox()$$);
SELECT * FROM try($$SELECT velt_retry_failed()$$);
RESET ROLE;
SELECT * FROM drain();
REVOKE EXECUTE ON FUNCTION velt_enqueue_add_users(text, jsonb, text, text, jsonb) FROM velt_writer;
DROP ROLE velt_writer;

-- retention: outcomes older than velt.result_retention are removed by the
-- next drain, and so are the commit stamps of delivered transactions
SELECT count(*) > 0 AS have_results FROM velt_results;
SET velt.result_retention = 0;
SELECT * FROM drain();
SELECT count(*) AS results_left FROM velt_results;
SELECT count(*) AS commit_stamps_left FROM velt.commit_order;
RESET velt.result_retention;

-- a retry keeps its place: a later operation on the same organization waits
-- until the earlier one has been delivered (or has finally failed)
SELECT standin_reset();
SELECT standin_fault('{"status": 503}');
SELECT velt_enqueue_add_users('hol', test_users('h1')) > 0 AS enqueued;
SELECT velt_enqueue_delete_users('hol', ARRAY['h1']) > 0 AS enqueued;
SELECT * FROM drain();
SELECT * FROM drain();
SELECT make_due();
SELECT * FROM drain();
SELECT seq, path, status FROM standin_requests() ORDER BY seq;
SELECT standin_state()->'hol'->'users' ? 'h1' AS h1_present;

-- an operation split over several requests may end half answered: the
-- answered IDs keep Velt's answer, the others record the failure
SELECT standin_reset();
SET velt.batch_size = 1;
SELECT standin_fault('{"delay_ms": 1}');
SELECT standin_fault('{"status": 400, "message": "No."}');
SELECT velt_enqueue_add_users('half', test_users('hf1', 'hf2')) AS op \gset
SELECT * FROM drain();
SELECT id, success, message, last_error FROM velt_results WHERE operation_id = :op ORDER BY id;
SELECT state FROM velt.outbox WHERE id = :op;
DELETE FROM velt.outbox WHERE id = :op;
RESET velt.batch_size;

-- a drain never sends what its own transaction has not committed yet
BEGIN;
SELECT velt_enqueue_add_users('own', test_users('own1')) > 0 AS enqueued;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT * FROM drain();
COMMIT;
SELECT * FROM drain();

-- a retried operation keeps only the IDs Velt has not answered yet
SELECT standin_reset();
SET velt.batch_size = 1;
-- (the 503 is for pa2's request, whichever of the two arrives first)
SELECT standin_fault('{"status": 503, "body_contains": "\"pa2\""}');
SELECT velt_enqueue_add_users('part', test_users('pa1', 'pa2')) AS op \gset
SELECT * FROM drain();
SELECT ids, jsonb_array_length(items) AS items, attempts FROM velt.outbox WHERE id = :op;
SELECT make_due();
SELECT * FROM drain();
SELECT body->'data'->'users'->0->>'userId' AS user_id, status FROM standin_requests()
ORDER BY user_id, seq;
RESET velt.batch_size;

-- velt.outbox_retry_max_delay_ms caps the backoff (without a Retry-After):
-- at 0 the retry is due at once, so the same drain's next round sends it
SELECT standin_reset();
SET velt.outbox_retry_max_delay_ms = 0;
SELECT standin_fault('{"status": 503}');
SELECT velt_enqueue_add_users('cap', test_users('cap1')) AS op \gset
SELECT * FROM drain();
SELECT count(*) AS left_over FROM velt.outbox WHERE id = :op;
SELECT status FROM standin_requests() ORDER BY seq;
RESET velt.outbox_retry_max_delay_ms;

-- an answer that names a result for only some IDs has not delivered the
-- others: they stay queued and are retried alone, and an organization's
-- later operations wait behind them
SELECT standin_reset();
SELECT standin_fault('{"body": "{\"result\": {\"status\": \"success\", \"message\": \"ok\", \"data\": {\"nr1\": {\"success\": true, \"message\": \"User added.\"}}}}"}');
SELECT velt_enqueue_add_users('noresult', test_users('nr1', 'nr2')) AS op \gset
SELECT velt_enqueue_delete_users('noresult', ARRAY['nr2']) AS later \gset
SELECT * FROM drain();
SELECT id = :op AS first_op, ids, state, attempts, last_error FROM velt.outbox WHERE target = 'noresult' ORDER BY id;
SELECT id, success, message FROM velt_results WHERE operation_id = :op;
SELECT make_due();
SELECT * FROM drain();
SELECT seq, path, body->'data'->'users' AS users, body->'data'->'userIds' AS user_ids
FROM standin_requests() ORDER BY seq;
SELECT count(*) AS left_over FROM velt.outbox WHERE target = 'noresult';

-- one operation in two requests whose answers differ: a piece Velt refuses
-- for good is settled at once (its rows written; a later delete of one of
-- its IDs goes ahead, and the retry of the other piece does not send it
-- again)
SELECT standin_reset();
SET velt.batch_size = 2;
SELECT standin_fault('{"status": 400, "body_contains": "\"pr1\""}');
SELECT standin_fault('{"status": 503, "body_contains": "\"pr3\""}');
SELECT velt_enqueue_add_users('pieces', test_users('pr1', 'pr2', 'pr3', 'pr4')) AS op \gset
SELECT velt_enqueue_delete_users('pieces', ARRAY['pr1']) > 0 AS enqueued;
SELECT * FROM drain();
SELECT id, success, message FROM velt_results WHERE operation_id = :op ORDER BY id;
SELECT ids, state FROM velt.outbox WHERE id = :op;
SELECT make_due();
SELECT * FROM drain();
SELECT path, status, COALESCE(body->'data'->'users', body->'data'->'userIds') AS items
FROM standin_requests() ORDER BY 1, 2, 3::text;
SELECT standin_state()->'pieces'->'users' ? 'pr3' AS pr3_present, (SELECT count(*) FROM velt.outbox) AS left_over;

-- and a piece answered without a result for one ID holds back a later
-- operation on that ID even when its operation is already to be retried
-- for the other piece
SELECT standin_reset();
SELECT standin_fault('{"status": 503, "body_contains": "\"pu1\""}');
SELECT standin_fault('{"body_contains": "\"pu3\"", "body": "{\"result\": {\"status\": \"success\", \"message\": \"ok\", \"data\": {\"pu4\": {\"success\": true, \"message\": \"User added.\"}}}}"}');
SELECT velt_enqueue_add_users('pieces', test_users('pu1', 'pu2', 'pu3', 'pu4')) > 0 AS enqueued;
SELECT velt_enqueue_delete_users('pieces', ARRAY['pu3']) > 0 AS enqueued;
SELECT * FROM drain();
SELECT count(*) FILTER (WHERE path LIKE '%delete') AS deletes_sent FROM standin_requests();
SELECT make_due();
SELECT * FROM drain();
SELECT string_agg(substring(path FROM '[a-z]+$'), ',' ORDER BY seq) AS pu3_requests
FROM standin_requests() WHERE body::text LIKE '%"pu3"%';
SELECT standin_state()->'pieces'->'users' ? 'pu3' AS pu3_present, (SELECT count(*) FROM velt.outbox) AS left_over;
RESET velt.batch_size;
