-- docs/operations.md, run as written: every sql and sh block of the page,
-- found by the "<!-- run: NAME -->" comment before it, is executed here in
-- a situation where it has something to show (an outbox behind a fault, dead
-- and rejected operations, 429 answers, a key Velt refuses, a paused
-- worker), and what it shows is checked.  The last query fails the test if
-- the page has a block this file does not run.
\getenv abs_srcdir PG_ABS_SRCDIR
\set ops_md `cat :'abs_srcdir'/docs/operations.md`
CREATE TEMP TABLE ops_doc AS SELECT :'ops_md'::text AS doc;
\unset ops_md
CREATE TEMP TABLE ops_block AS
SELECT m[1] AS name, m[2] AS lang, regexp_replace(m[3], '^   ', '', 'gn') AS body
FROM ops_doc, regexp_matches(doc, '<!-- run: ([a-z0-9-]+?) -->\n *?```(sql|sh)\n(.*?)\n *?```', 'g') AS m;
-- every sql or sh block of the page is named
SELECT (SELECT count(*) FROM ops_doc, regexp_matches(doc, '```(sql|sh)\n', 'g')) AS blocks,
	   (SELECT count(*) FROM ops_block) AS named,
	   (SELECT count(DISTINCT name) FROM ops_block) AS distinct_names;
CREATE TEMP TABLE ops_ran (name text);
-- the block NAME (and a note that it ran); sh blocks run through ops_shell
CREATE FUNCTION ops_take(block_name text) RETURNS text LANGUAGE sql AS $$
	INSERT INTO ops_ran VALUES (block_name);
	SELECT body FROM ops_block WHERE name = block_name;
$$;
-- runs a shell block as the server's operating system user, with env
-- first (no rows: nothing is written to a program that reads nothing)
CREATE FUNCTION ops_shell(env text, script text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('COPY (SELECT 1 WHERE false) TO PROGRAM %L', env || E'\n' || script);
END $$;

-- a clean outbox and clean counts
DELETE FROM velt.outbox;
DELETE FROM velt.outcomes;
SELECT standin_reset();
SELECT velt_stats_reset() <= now() + interval '1 s' AS reset;

------------------------------------------------------------------------
-- What to alert on
------------------------------------------------------------------------
-- an outbox behind a fault: one operation pending, enqueued 10 minutes ago
SELECT standin_fault('{"status": 503, "count": 1}');
SELECT velt_enqueue_add_users('opsorg', test_users('op1')) AS behind_op \gset
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
-- (and not due again before the redrive below)
UPDATE velt.outbox SET enqueued_at = enqueued_at - interval '10 min',
	next_attempt_at = now() + interval '1 hour' WHERE id = :behind_op;
SELECT ops_take('oldest-pending') AS blk \gset
CREATE TEMP TABLE ops_oldest AS
:blk
-- 600 s and the moments since (more on a slow machine, or under valgrind)
SELECT oldest_pending_seconds BETWEEN 600 AND 660 AS ten_minutes FROM ops_oldest;

-- a dead operation (503 at its last attempt) and a rejected one (400)
SET velt.max_attempts = 1;
SELECT standin_fault('{"status": 503, "count": 1}');
SELECT velt_enqueue_add_users('opsorg', test_users('op2')) AS dead_op \gset
SELECT requests, delivered, failed, retried FROM velt_process_outbox(max_items => 1);
SELECT standin_fault('{"status": 400, "count": 1}');
SELECT velt_enqueue_add_users('opsorg2', test_users('op3')) AS rejected_op \gset
SELECT requests, delivered, failed, retried FROM velt_process_outbox(max_items => 1);
RESET velt.max_attempts;
SELECT ops_take('failed-operations') AS blk \gset
:blk

-- 429 answers: the sample table, a sample, two 429s and a retried call,
-- another sample, and the share between them
SELECT ops_take('sample-table') AS blk \gset
:blk
SELECT ops_take('sample') AS blk \gset
:blk
SET velt.max_retries = 2;
SET velt.retry_max_delay_ms = 100;
SELECT standin_fault('{"status": 429, "retry_after": "0", "count": 2}');
SELECT id, success FROM velt_add_users('opsorg3', test_users('op4'));
RESET velt.max_retries;
RESET velt.retry_max_delay_ms;
SELECT ops_take('sample') AS blk \gset
:blk
SELECT ops_take('rate-429') AS blk \gset
:blk
-- the per-endpoint view, kept in a table since times vary from run to run
SELECT ops_take('rates') AS blk \gset
CREATE TEMP TABLE ops_rates AS
:blk
SELECT endpoint, caller, requests, pct_429, unanswered, client_errors, p99_ms > 0 AS timed
FROM ops_rates ORDER BY endpoint, caller;
SELECT count(*) AS requests_at_standin FROM standin_requests();

-- the worker of velt_worker (the test cluster's velt.databases)
SELECT ops_take('workers') AS blk \gset
CREATE TEMP TABLE ops_workers AS
:blk
SELECT database, state IN ('idle', 'delivering') AS running
FROM ops_workers WHERE database = 'velt_worker';

------------------------------------------------------------------------
-- Redriving failed operations
------------------------------------------------------------------------
SELECT ops_take('why-failed') AS blk \gset
CREATE TEMP TABLE ops_failed AS
:blk
SELECT id = :dead_op AS dead_op, id = :rejected_op AS rejected_op, endpoint, state, attempts,
	   last_error
FROM ops_failed ORDER BY id;
-- a later operation on op2, delivered while op2 is dead: the query finds it
SELECT velt_enqueue_delete_users('opsorg', ARRAY['op2']) AS later_op \gset
SELECT requests, delivered FROM velt_process_outbox();
SELECT ops_take('later-outcomes') AS blk \gset
CREATE TEMP TABLE ops_later AS
:blk
SELECT operation_id = :dead_op AS of_dead_op, id, later_operation = :later_op AS later_op,
	   endpoint, success
FROM ops_later;
SELECT ops_take('redrive') AS blk \gset
:blk
SELECT ops_take('redrive-rejected') AS blk \gset
:blk
SELECT id = :dead_op AS dead_op, state, attempts FROM velt.outbox
WHERE id IN (:dead_op, :rejected_op) ORDER BY id;
-- the redriven ones go out, with op1 (its 503 is over)
UPDATE velt.outbox SET next_attempt_at = now() WHERE id = :behind_op;
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT count(*) AS left_in_outbox FROM velt.outbox;
-- discarding: a rejected operation deleted; it leaves no outcome
SET velt.max_attempts = 1;
SELECT standin_fault('{"status": 400, "count": 1}');
SELECT velt_enqueue_add_users('opsorg', test_users('op5')) AS discarded_op \gset
SELECT requests, delivered FROM velt_process_outbox();
RESET velt.max_attempts;
SELECT ops_take('discard') AS blk \gset
:blk
SELECT count(*) AS left_in_outbox FROM velt.outbox;

------------------------------------------------------------------------
-- Rotating the API key
------------------------------------------------------------------------
-- the file holds a key Velt refuses: the outbox keeps the operation
SELECT ops_shell('umask 077', 'printf "api_key = revoked\nauth_token = revoked\n" > /tmp/velt-ops-secrets');
ALTER SYSTEM SET velt.secrets_file = '/tmp/velt-ops-secrets';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT velt_enqueue_add_users('opsorg', test_users('op6')) AS rotated_op \gset
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT state, attempts, last_error FROM velt.outbox WHERE id = :rotated_op;
-- the page's rotation, with the stand-in's credentials as the new ones
SELECT ops_take('rotate') AS blk \gset
SELECT ops_shell(format('VELT_SECRETS_FILE=/tmp/velt-ops-secrets NEW_API_KEY=%s NEW_AUTH_TOKEN=%s',
						current_setting('velt.api_key'), current_setting('velt.auth_token')),
				 :'blk');
UPDATE velt.outbox SET next_attempt_at = now() WHERE id = :rotated_op;
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT standin_state()->'opsorg'->'users' ? 'op6' AS delivered_after_rotation;
ALTER SYSTEM RESET velt.secrets_file;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT ops_shell('', 'rm -f /tmp/velt-ops-secrets');

------------------------------------------------------------------------
-- Pausing delivery
------------------------------------------------------------------------
SELECT ops_take('pause') AS blk \gset
:blk
SELECT wait_until($$SELECT EXISTS (SELECT 1 FROM velt_workers
	WHERE database = 'velt_worker' AND state = 'paused')$$) AS worker_paused;
SELECT velt_enqueue_add_users('opsorg', test_users('op7')) AS paused_op \gset
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT count(*) AS still_queued FROM velt.outbox WHERE id = :paused_op;
SELECT ops_take('resume') AS blk \gset
:blk
SELECT wait_until($$SELECT EXISTS (SELECT 1 FROM velt_workers
	WHERE database = 'velt_worker' AND state = 'idle')$$) AS worker_resumed;
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT standin_state()->'opsorg'->'users' ? 'op7' AS delivered_after_resume;

------------------------------------------------------------------------
-- Sizing: the rate limit, then back to none
------------------------------------------------------------------------
SELECT ops_take('rate-limit') AS blk \gset
:blk
SELECT pg_sleep(0.3);
SELECT setting FROM pg_settings WHERE name = 'velt.max_requests_per_second';
ALTER SYSTEM RESET velt.max_requests_per_second;
SELECT pg_reload_conf();

-- every block of the page ran
SELECT name AS not_run FROM ops_block EXCEPT SELECT name FROM ops_ran;

DROP TABLE velt_stats_samples;
DROP FUNCTION ops_take(text);
DROP FUNCTION ops_shell(text, text);
DELETE FROM velt.outbox;
DELETE FROM velt.outcomes;
