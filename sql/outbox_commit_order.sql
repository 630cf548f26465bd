-- The outbox keeps commit order per ID, however its requests are sent.
-- Part 1: a reproducible pseudo-random run (setseed) of 300 transactions in
-- 3 organizations, each enqueueing 1 to 3 adds and removes of the same 12
-- users and of their membership in 2 groups; pairs of transactions are open
-- at once in two sessions and commit in either order, some roll back, and
-- drains (velt.batch_size 3, velt.max_concurrency 8) run in a third session
-- while transactions are open and between them, against 503s, 429s,
-- dropped connections and slow answers.  Velt's final users (with the name
-- each last add sent), group members and every per-ID outcome equal the
-- operations applied one by one in commit order; each ID's requests reached
-- Velt in that order; nothing rolled back was sent.  Applying the same
-- operations in enqueue order or in reverse gives another state, so the
-- comparison can fail.
-- Part 2: a failed request holds back only the operations that touch one of
-- its IDs (and, in turn, what touches theirs); the organization's other
-- operations, and later ones, go out in the same drain.
SELECT standin_reset();
SELECT count(*) AS outbox_rows_at_start FROM velt.outbox;

-- The IDs of a request body: users/add's userIds, or the userIds list.
CREATE FUNCTION request_ids(body jsonb) RETURNS text[] LANGUAGE sql AS $$
	SELECT COALESCE((SELECT array_agg(u->>'userId') FROM jsonb_array_elements(body->'data'->'users') AS u),
					(SELECT array_agg(i) FROM jsonb_array_elements_text(body->'data'->'userIds') AS i),
					'{}')
$$;

-- ---------------------------------------------------------------------
-- Part 1: the randomized run
-- ---------------------------------------------------------------------

-- two groups in each organization, made synchronously before the run (an
-- add to a group needs the group, whose ID is not the member's)
SELECT count(*) AS groups_added
FROM unnest(ARRAY['co1', 'co2', 'co3']) AS org,
	 velt_add_user_groups(org, '[{"groupId": "ga"}, {"groupId": "gb"}]') AS r
WHERE r.success;

-- The plan: transactions in pairs (side a and b, open at once), which of
-- the pair ends first, whether each commits, and its operations.
CREATE TABLE co_txn (
	txn int PRIMARY KEY,
	pair int NOT NULL,
	side text NOT NULL,
	committed boolean NOT NULL,
	ends_first boolean,
	commit_rank int					-- place in the commit order (committed only)
);
CREATE TABLE co_op (
	txn int NOT NULL,
	pos int NOT NULL,				-- place in its transaction
	org text NOT NULL,
	kind text NOT NULL,				-- add, del, gadd, gdel, gdelall
	grp text,
	ids text[],						-- NULL for gdelall
	op_id bigint,					-- what the enqueue function returned
	PRIMARY KEY (txn, pos)
);
DO $$
DECLARE
	t int := 0;
	rank int := 0;
	p int;
	s text;
	k int;
	j int;
	r float8;
	first_side text;
	op_kind text;
	op_ids text[];
	id text;
BEGIN
	PERFORM setseed(0.4242);
	FOR p IN 1..150 LOOP
		FOREACH s IN ARRAY ARRAY['a', 'b'] LOOP
			t := t + 1;
			INSERT INTO co_txn (txn, pair, side, committed) VALUES (t, p, s, random() >= 0.15);
			FOR k IN 1..(1 + floor(random() * 3)::int) LOOP
				r := random();
				op_kind := CASE WHEN r < 0.33 THEN 'add' WHEN r < 0.58 THEN 'del'
								WHEN r < 0.80 THEN 'gadd' WHEN r < 0.97 THEN 'gdel'
								ELSE 'gdelall' END;
				op_ids := NULL;
				IF op_kind <> 'gdelall' THEN
					op_ids := '{}';
					FOR j IN 1..(1 + floor(random() * 3)::int) LOOP
						id := 'u' || lpad((1 + floor(random() * 12)::int)::text, 2, '0');
						IF NOT id = ANY (op_ids) THEN
							op_ids := op_ids || id;
						END IF;
					END LOOP;
				END IF;
				INSERT INTO co_op (txn, pos, org, kind, grp, ids)
				VALUES (t, k, 'co' || (1 + floor(random() * 3)::int), op_kind,
						CASE WHEN op_kind LIKE 'g%' THEN
							 CASE WHEN random() < 0.5 THEN 'ga' ELSE 'gb' END END,
						op_ids);
			END LOOP;
		END LOOP;
		first_side := CASE WHEN random() < 0.5 THEN 'a' ELSE 'b' END;
		UPDATE co_txn SET ends_first = (side = first_side) WHERE pair = p;
		FOR s IN SELECT side FROM co_txn WHERE pair = p AND committed ORDER BY NOT ends_first LOOP
			rank := rank + 1;
			UPDATE co_txn SET commit_rank = rank WHERE pair = p AND side = s;
		END LOOP;
	END LOOP;
END $$;

-- the run is what it is meant to be: many transactions, some rolled back,
-- few IDs touched again and again, by adds and removes in turn
-- (b begins after a, and their operations are enqueued in turn)
SELECT count(*) AS transactions,
	   count(*) FILTER (WHERE NOT committed) AS rolled_back,
	   (SELECT count(*) FROM co_txn a JOIN co_txn b USING (pair)
		WHERE a.side = 'a' AND b.side = 'b' AND a.committed AND b.committed AND b.ends_first)
		AS pairs_where_b_commits_first
FROM co_txn;
SELECT kind, count(*) AS operations, count(*) FILTER (WHERE t.committed) AS committed
FROM co_op JOIN co_txn t USING (txn) GROUP BY kind ORDER BY kind;
WITH steps AS (
	SELECT c.org, i AS id, c.kind, t.commit_rank, c.pos
	FROM co_op c JOIN co_txn t USING (txn), unnest(c.ids) AS i
	WHERE t.committed),
turns AS (
	SELECT kind <> lag(kind) OVER (PARTITION BY org, id ORDER BY commit_rank, pos) AS turn
	FROM steps)
SELECT (SELECT count(DISTINCT (org, id)) FROM steps) AS ids_touched,
	   (SELECT min(n) FROM (SELECT count(*) AS n FROM steps GROUP BY org, id) AS x) AS fewest_operations_on_one_id,
	   (SELECT count(*) FROM turns WHERE turn) AS changes_of_kind_on_one_id;

-- two sessions that enqueue, one that drains
SELECT dblink_connect('co_a', 'dbname=' || current_database() || ' port=' || current_setting('port'));
SELECT dblink_connect('co_b', 'dbname=' || current_database() || ' port=' || current_setting('port'));
SELECT dblink_connect('co_drain', 'dbname=' || current_database() || ' port=' || current_setting('port'));
SELECT dblink_exec('co_drain', 'SET velt.batch_size = 3');
SELECT dblink_exec('co_drain', 'SET velt.max_concurrency = 8');

-- One drain in its own transaction (in co_drain), with every pending
-- operation made due first (instead of waiting for its backoff).
CREATE TABLE co_drains (n serial, requests int, delivered bigint, failed bigint, retried bigint);
CREATE FUNCTION co_drain() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_exec('co_drain',
		'UPDATE velt.outbox SET next_attempt_at = clock_timestamp() WHERE state = ''pending''');
	INSERT INTO co_drains (requests, delivered, failed, retried)
	SELECT * FROM dblink('co_drain',
		'SELECT requests, delivered, failed, retried FROM velt_process_outbox()')
		AS d(requests int, delivered bigint, failed bigint, retried bigint);
END $$;

-- faults, taken by the first requests that match: 503s for deletes and
-- group adds, 429s for group removes, two dropped connections for adds, and
-- answers 60 ms late for requests naming u01 or u07
SELECT standin_fault('{"status": 503, "count": 4, "path_contains": "/v2/users/delete"}');
SELECT standin_fault('{"status": 503, "count": 3, "path_contains": "usergroups/users/add"}');
SELECT standin_fault('{"status": 429, "count": 2, "path_contains": "usergroups/users/delete"}');
SELECT standin_fault('{"drop": true, "count": 2, "path_contains": "/v2/users/add"}');
SELECT standin_fault('{"delay_ms": 60, "count": 15, "body_contains": "\"u01\""}');
SELECT standin_fault('{"delay_ms": 60, "count": 15, "body_contains": "\"u07\""}');

-- The run: for each pair, both transactions begin, their operations are
-- enqueued alternately, and they end in the planned order; every 10th pair
-- is drained while both are still open, every 10th (shifted) after.
DO $$
DECLARE
	p int;
	o record;
	t record;
	stmt text;
BEGIN
	FOR p IN 1..150 LOOP
		PERFORM dblink_exec('co_a', 'BEGIN');
		PERFORM dblink_exec('co_b', 'BEGIN');
		FOR o IN SELECT c.*, x.side FROM co_op c JOIN co_txn x USING (txn)
				 WHERE x.pair = p ORDER BY c.pos, x.side LOOP
			stmt := CASE o.kind
				WHEN 'add' THEN format('SELECT velt_enqueue_add_users(%L, %L)', o.org,
					(SELECT jsonb_agg(jsonb_build_object('userId', i, 'name', i || ' of txn ' || o.txn,
														 'email', i || '@example.test') ORDER BY n)
					 FROM unnest(o.ids) WITH ORDINALITY AS u(i, n)))
				WHEN 'del' THEN format('SELECT velt_enqueue_delete_users(%L, %L)', o.org, o.ids)
				WHEN 'gadd' THEN format('SELECT velt_enqueue_add_users_to_group(%L, %L, %L)',
										o.org, o.grp, o.ids)
				WHEN 'gdel' THEN format('SELECT velt_enqueue_delete_users_from_group(%L, %L, %L)',
										o.org, o.grp, o.ids)
				ELSE format('SELECT velt_enqueue_delete_users_from_group(%L, %L, delete_all => true)',
							o.org, o.grp) END;
			UPDATE co_op SET op_id = (SELECT d.id FROM dblink('co_' || o.side, stmt) AS d(id bigint))
			WHERE txn = o.txn AND pos = o.pos;
		END LOOP;
		IF p % 10 = 0 THEN
			PERFORM co_drain();
		END IF;
		FOR t IN SELECT * FROM co_txn WHERE pair = p ORDER BY NOT ends_first LOOP
			PERFORM dblink_exec('co_' || t.side, CASE WHEN t.committed THEN 'COMMIT' ELSE 'ROLLBACK' END);
		END LOOP;
		IF p % 10 = 5 THEN
			PERFORM co_drain();
		END IF;
	END LOOP;
END $$;

-- drain until nothing is pending, at most 40 more drains
DO $$
BEGIN
	FOR i IN 1..40 LOOP
		EXIT WHEN NOT EXISTS (SELECT FROM velt.outbox WHERE state = 'pending');
		PERFORM co_drain();
	END LOOP;
END $$;
SELECT count(*) AS outbox_rows_left FROM velt.outbox;
SELECT sum(delivered) AS delivered_items, sum(failed) AS failed_items, sum(retried) > 0 AS some_retried,
	   (SELECT sum(cardinality(ids)) FROM co_op JOIN co_txn USING (txn) WHERE committed) AS committed_items
FROM co_drains;
-- the faults were hit: each failed request was sent again later
SELECT status, count(*) AS requests FROM standin_requests() WHERE status <> 200 GROUP BY status ORDER BY status;

-- The expected result: the committed operations applied one by one, as Velt
-- applies them, in commit order (and, for the control, in enqueue order
-- and in reverse commit order).  Users present with the name their last add
-- sent; group members (an add to a group needs an organization user, a
-- removed user leaves every group); each ID's outcome.
CREATE TABLE co_model_user (mode text, org text, id text, name text, PRIMARY KEY (mode, org, id));
CREATE TABLE co_model_member (mode text, org text, grp text, id text, PRIMARY KEY (mode, org, grp, id));
CREATE TABLE co_model_outcome (mode text, op_id bigint, id text, success boolean, PRIMARY KEY (mode, op_id, id));
CREATE FUNCTION co_apply(order_name text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	o record;
	u text;
	present boolean;
	member boolean;
BEGIN
	FOR o IN EXECUTE 'SELECT c.* FROM co_op c JOIN co_txn t USING (txn) WHERE t.committed ORDER BY '
		|| CASE order_name WHEN 'commit' THEN 't.commit_rank, c.pos'
						   WHEN 'enqueue' THEN 'c.op_id'
						   WHEN 'reverse' THEN 't.commit_rank DESC, c.pos DESC' END
	LOOP
		IF o.kind = 'gdelall' THEN
			INSERT INTO co_model_outcome
			SELECT order_name, o.op_id, m.id, true FROM co_model_member m
			WHERE m.mode = order_name AND m.org = o.org AND m.grp = o.grp;
			DELETE FROM co_model_member m WHERE m.mode = order_name AND m.org = o.org AND m.grp = o.grp;
			CONTINUE;
		END IF;
		FOREACH u IN ARRAY o.ids LOOP
			present := EXISTS (SELECT FROM co_model_user m
							   WHERE m.mode = order_name AND m.org = o.org AND m.id = u);
			member := EXISTS (SELECT FROM co_model_member m
							  WHERE m.mode = order_name AND m.org = o.org AND m.grp = o.grp AND m.id = u);
			CASE o.kind
				WHEN 'add' THEN
					INSERT INTO co_model_user VALUES (order_name, o.org, u, u || ' of txn ' || o.txn)
					ON CONFLICT (mode, org, id) DO UPDATE SET name = excluded.name;
					INSERT INTO co_model_outcome VALUES (order_name, o.op_id, u, true);
				WHEN 'del' THEN
					DELETE FROM co_model_user m WHERE m.mode = order_name AND m.org = o.org AND m.id = u;
					DELETE FROM co_model_member m WHERE m.mode = order_name AND m.org = o.org AND m.id = u;
					INSERT INTO co_model_outcome VALUES (order_name, o.op_id, u, present);
				WHEN 'gadd' THEN
					IF present THEN
						INSERT INTO co_model_member VALUES (order_name, o.org, o.grp, u) ON CONFLICT DO NOTHING;
					END IF;
					INSERT INTO co_model_outcome VALUES (order_name, o.op_id, u, present);
				WHEN 'gdel' THEN
					DELETE FROM co_model_member m
					WHERE m.mode = order_name AND m.org = o.org AND m.grp = o.grp AND m.id = u;
					INSERT INTO co_model_outcome VALUES (order_name, o.op_id, u, member);
			END CASE;
		END LOOP;
	END LOOP;
END $$;
SELECT co_apply('commit'), co_apply('enqueue'), co_apply('reverse');

-- What Velt holds, and what velt_results says of each committed operation.
CREATE TABLE co_velt AS SELECT standin_state() AS state;
CREATE TABLE co_velt_user AS
SELECT o.key AS org, u.key AS id, u.value->>'name' AS name
FROM co_velt, jsonb_each(state) AS o, jsonb_each(o.value->'users') AS u
WHERE o.key IN ('co1', 'co2', 'co3');
CREATE TABLE co_velt_member AS
SELECT o.key AS org, g.key AS grp, m AS id
FROM co_velt, jsonb_each(state) AS o, jsonb_each(o.value->'groups') AS g,
	 jsonb_array_elements_text(g.value->'members') AS m
WHERE o.key IN ('co1', 'co2', 'co3');
CREATE TABLE co_velt_outcome AS
SELECT r.operation_id AS op_id, r.id, r.success
FROM velt_results r WHERE r.operation_id IN (SELECT op_id FROM co_op);

-- Differences between Velt and a model, by kind.
CREATE FUNCTION co_mismatches(order_name text,
							  OUT users bigint, OUT members bigint, OUT outcomes bigint)
LANGUAGE sql AS $$
	SELECT
		(SELECT count(*) FROM co_velt_user v
		 FULL JOIN (SELECT * FROM co_model_user WHERE mode = order_name) m USING (org, id)
		 WHERE v.name IS DISTINCT FROM m.name),
		(SELECT count(*) FROM co_velt_member v
		 FULL JOIN (SELECT * FROM co_model_member WHERE mode = order_name) m USING (org, grp, id)
		 WHERE v.org IS NULL OR m.mode IS NULL),
		(SELECT count(*) FROM co_velt_outcome v
		 FULL JOIN (SELECT * FROM co_model_outcome WHERE mode = order_name) m USING (op_id, id)
		 WHERE v.op_id IS NULL OR m.mode IS NULL OR v.success IS DISTINCT FROM m.success)
$$;

SELECT (SELECT count(*) FROM co_velt_user) AS users_in_velt,
	   (SELECT count(*) FROM co_velt_member) AS group_members_in_velt,
	   (SELECT count(*) FROM co_velt_outcome) AS outcomes,
	   (SELECT count(*) FILTER (WHERE NOT success) FROM co_velt_outcome) AS outcomes_not_success;
SELECT users + members + outcomes = 0 AS velt_equals_commit_order,
	   users AS user_mismatches, members AS member_mismatches, outcomes AS outcome_mismatches
FROM co_mismatches('commit');
-- the control: the same operations in another order give another result,
-- so the comparison above can tell
SELECT order_name, users + members + outcomes > 0 AS velt_differs,
	   users AS user_mismatches, members AS member_mismatches, outcomes AS outcome_mismatches
FROM unnest(ARRAY['enqueue', 'reverse']) AS order_name, co_mismatches(order_name)
ORDER BY order_name;

-- each ID's answered requests, in the order they reached Velt, are its
-- committed operations in commit order (a delete_all names no ID)
WITH sent AS (
	SELECT r.body->'data'->>'organizationId' AS org, i AS id,
		   string_agg(CASE r.path WHEN '/v2/users/add' THEN 'add'
								  WHEN '/v2/users/delete' THEN 'del'
								  WHEN '/v2/organizations/usergroups/users/add' THEN 'gadd'
								  WHEN '/v2/organizations/usergroups/users/delete' THEN 'gdel' END
					  || COALESCE(':' || (r.body->'data'->>'organizationUserGroupId'), ''),
					  ' ' ORDER BY r.seq) AS steps
	FROM standin_requests() AS r, unnest(request_ids(r.body)) AS i
	WHERE r.status = 200 AND r.body->'data'->>'organizationId' IN ('co1', 'co2', 'co3')
	GROUP BY 1, 2),
planned AS (
	SELECT c.org, i AS id,
		   string_agg(c.kind || COALESCE(':' || c.grp, ''), ' ' ORDER BY t.commit_rank, c.pos) AS steps
	FROM co_op c JOIN co_txn t USING (txn), unnest(c.ids) AS i
	WHERE t.committed
	GROUP BY 1, 2)
SELECT count(*) AS ids_checked,
	   count(*) FILTER (WHERE s.steps IS DISTINCT FROM p.steps) AS ids_out_of_commit_order
FROM sent s FULL JOIN planned p USING (org, id);

-- nothing of a rolled-back transaction reached Velt: no outcome for its
-- operations, and no request carries the name one of its adds would send
SELECT count(*) AS rolled_back_operations,
	   count(*) FILTER (WHERE c.op_id IN (SELECT op_id FROM co_velt_outcome)) AS with_outcome,
	   (SELECT count(*) FROM standin_requests() r, co_txn x
		WHERE NOT x.committed AND r.body::text LIKE '%of txn ' || x.txn || '"%') AS requests_carrying_them
FROM co_op c JOIN co_txn t USING (txn) WHERE NOT t.committed;

SELECT dblink_disconnect('co_a'), dblink_disconnect('co_b'), dblink_disconnect('co_drain');

-- ---------------------------------------------------------------------
-- Part 2: a failed request holds back only what must wait behind it
-- ---------------------------------------------------------------------
-- With velt.batch_size 2, organization hb's operations below become these
-- requests; a 503 answers the first one (op1, the only body with "fails
-- once").  op2 waits because it names h1, op3 because it names h2, op4
-- because op3 (waiting) names h3; op5, op6 (organization hc) and op7 (after
-- op5, same ID h6) go out in the same drain.  op8, enqueued while op1 awaits
-- its retry, names only h7 and goes out at the next drain.
SELECT standin_reset();
SET velt.batch_size = 2;
SET velt.max_concurrency = 8;
SELECT count(*) AS users_added FROM velt_add_users('hb', test_users('h3', 'h5', 'h6')) WHERE success;
SELECT count(*) AS groups_added FROM velt_add_user_groups('hb', '[{"groupId": "hg"}]') WHERE success;
SELECT max(seq) AS before_drains FROM standin_requests() \gset
SELECT standin_fault('{"status": 503, "body_contains": "fails once"}');

-- one transaction each, in this commit order
CREATE TABLE hb_op (label text, op_id bigint);
INSERT INTO hb_op SELECT 'op1: add h1 h2', velt_enqueue_add_users('hb',
	'[{"userId": "h1", "name": "fails once", "email": "h1@example.test"}, {"userId": "h2", "name": "H2", "email": "h2@example.test"}]');
INSERT INTO hb_op SELECT 'op2: delete h1', velt_enqueue_delete_users('hb', ARRAY['h1']);
INSERT INTO hb_op SELECT 'op3: h2 h3 into hg', velt_enqueue_add_users_to_group('hb', 'hg', ARRAY['h2', 'h3']);
INSERT INTO hb_op SELECT 'op4: delete h3', velt_enqueue_delete_users('hb', ARRAY['h3']);
INSERT INTO hb_op SELECT 'op5: h5 h6 into hg', velt_enqueue_add_users_to_group('hb', 'hg', ARRAY['h5', 'h6']);
INSERT INTO hb_op SELECT 'op6: add h1 h2 in hc', velt_enqueue_add_users('hc', test_users('h1', 'h2'));
INSERT INTO hb_op SELECT 'op7: delete h6', velt_enqueue_delete_users('hb', ARRAY['h6']);

-- drain 1: op1 fails; op5, op6 and op7 are delivered
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT body->'data'->>'organizationId' AS org, path, status, array_to_string(request_ids(body), ' ') AS ids
FROM standin_requests() WHERE seq > :before_drains ORDER BY 1, 2, 4;
SELECT max(seq) AS after_drain_1 FROM standin_requests() \gset
SELECT h.label, o.ids, o.attempts FROM velt.outbox o JOIN hb_op h ON h.op_id = o.id ORDER BY o.id;
SELECT org, (SELECT string_agg(u, ' ' ORDER BY u) FROM jsonb_object_keys(v->'users') AS u) AS users,
	   COALESCE((SELECT string_agg(m, ' ' ORDER BY m)
				 FROM jsonb_array_elements_text(v->'groups'->'hg'->'members') AS m), '') AS hg_members
FROM jsonb_each(standin_state()) AS s(org, v) ORDER BY org;

-- drain 2, while op1 is not due yet: op8 goes out, op2 to op4 still wait
UPDATE velt.outbox SET next_attempt_at = clock_timestamp() + interval '1 hour' WHERE attempts > 0;
INSERT INTO hb_op SELECT 'op8: add h7', velt_enqueue_add_users('hb', test_users('h7'));
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT body->'data'->>'organizationId' AS org, path, status, array_to_string(request_ids(body), ' ') AS ids
FROM standin_requests() WHERE seq > :after_drain_1 ORDER BY 1, 2, 4;
SELECT h.label, o.attempts FROM velt.outbox o JOIN hb_op h ON h.op_id = o.id ORDER BY o.id;

-- drain 3, op1 due: op1 to op4, in order
UPDATE velt.outbox SET next_attempt_at = clock_timestamp() WHERE state = 'pending';
SELECT requests, delivered, failed, retried FROM velt_process_outbox();
SELECT count(*) AS outbox_rows_left FROM velt.outbox;

-- each ID's requests in the order they reached Velt, and the end state:
-- as if op1 to op8 had been sent one by one
SELECT body->'data'->>'organizationId' AS org, i AS id,
	   string_agg(regexp_replace(path, '^/v2/(organizations/)?', '') || ' ' || status, ', ' ORDER BY seq) AS requests
FROM standin_requests(), unnest(request_ids(body)) AS i
WHERE seq > :before_drains GROUP BY 1, 2 ORDER BY 1, 2;
SELECT org, (SELECT string_agg(u, ' ' ORDER BY u) FROM jsonb_object_keys(v->'users') AS u) AS users,
	   COALESCE((SELECT string_agg(m, ' ' ORDER BY m)
				 FROM jsonb_array_elements_text(v->'groups'->'hg'->'members') AS m), '') AS hg_members
FROM jsonb_each(standin_state()) AS s(org, v) ORDER BY org;
RESET velt.batch_size;
RESET velt.max_concurrency;
