-- IDs that move between rows of one table end with Velt equal to the
-- table, for velt_users_trigger, velt_group_members_trigger and
-- velt_documents_trigger, FOR EACH ROW and FOR EACH STATEMENT: a
-- renumbering (UPDATE ... SET id = id + 1, where the row that gives up an
-- ID may fire after the row that takes it), a swap of two IDs in one
-- statement, and a swap in two statements under a deferred primary key.
-- Then a reproducible pseudo-random run (setseed) of inserts, updates that
-- move IDs, renames, moves to another organization and deletes, in
-- transactions that commit or roll back and steps that roll back to a
-- savepoint, on all six tables; Velt, after the outbox is drained, equals
-- the tables.  (With deletes enqueued row by row, as before 1.2, the
-- renumbering alone leaves Velt without user 2; see expected output.)
SELECT standin_reset();
DELETE FROM velt.outbox;
SET velt.max_retries = 0;

CREATE FUNCTION moved_drain() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	r record;
	total bigint := 0;
BEGIN
	LOOP
		SELECT * INTO r FROM velt_process_outbox();
		total := total + r.requests;
		EXIT WHEN r.requests = 0;
	END LOOP;
	RETURN total;
END $$;

-- Six tables: the key moves in id, org is the organization (prefix-1 or
-- prefix-2, one pair per table so their Velt states are apart), label the
-- name (users, documents) or the group (members), tag a row's identity.
CREATE FUNCTION make_table(tbl text, kind text, statement boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	args text := CASE kind
		WHEN 'users' THEN '''organization=org'', ''user_id=id'', ''name=label'', ''email=label'''
		WHEN 'members' THEN '''organization=org'', ''group=label'', ''user_id=id'''
		ELSE '''organization=org'', ''document_id=id'', ''name=label''' END;
	fn text := CASE kind WHEN 'users' THEN 'velt_users_trigger'
		WHEN 'members' THEN 'velt_group_members_trigger' ELSE 'velt_documents_trigger' END;
BEGIN
	EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, '
				   'org text NOT NULL, label text NOT NULL, tag int UNIQUE)', tbl);
	IF NOT statement THEN
		EXECUTE format('CREATE TRIGGER velt AFTER INSERT OR UPDATE OR DELETE ON %I '
					   'FOR EACH ROW EXECUTE FUNCTION %s(%s)', tbl, fn, args);
		RETURN;
	END IF;
	EXECUTE format('CREATE TRIGGER velt_i AFTER INSERT ON %I REFERENCING NEW TABLE AS n '
				   'FOR EACH STATEMENT EXECUTE FUNCTION %s(%s)', tbl, fn, args);
	EXECUTE format('CREATE TRIGGER velt_u AFTER UPDATE ON %I REFERENCING NEW TABLE AS n OLD TABLE AS o '
				   'FOR EACH STATEMENT EXECUTE FUNCTION %s(%s)', tbl, fn, args);
	EXECUTE format('CREATE TRIGGER velt_d AFTER DELETE ON %I REFERENCING OLD TABLE AS o '
				   'FOR EACH STATEMENT EXECUTE FUNCTION %s(%s)', tbl, fn, args);
END $$;
SELECT make_table(t || '_' || l, t, l = 'stmt')
FROM unnest(ARRAY['users', 'members', 'docs']) AS t, unnest(ARRAY['row', 'stmt']) AS l;

-- group members must be users of their organization, in an existing group
SELECT count(*) FILTER (WHERE u.success) AS users_added
FROM unnest(ARRAY['members_row-1', 'members_row-2', 'members_stmt-1', 'members_stmt-2']) AS org,
	 velt_add_users(org, (SELECT jsonb_agg(jsonb_build_object('userId', g::text, 'name', 'U' || g, 'email', g || '@example.test'))
						 FROM generate_series(1, 120) g)) AS u;
SELECT count(*) FILTER (WHERE g.success) AS groups_added
FROM unnest(ARRAY['members_row-1', 'members_row-2', 'members_stmt-1', 'members_stmt-2']) AS org,
	 velt_add_user_groups(org, '[{"groupId": "ga"}, {"groupId": "gb"}]') AS g;

-- What Velt holds for a table's organizations, as rows of the table
-- (org, id, label), from the stand-in's state.
CREATE FUNCTION velt_rows(tbl text) RETURNS TABLE(org text, id text, label text)
LANGUAGE sql AS $$
	WITH s AS (SELECT standin_state() AS state)
	SELECT o.key, u.key, u.value->>'name'
	FROM s, jsonb_each(s.state) o, jsonb_each(o.value->'users') u
	WHERE tbl LIKE 'users%' AND o.key LIKE tbl || '-%'
	UNION ALL
	SELECT o.key, m, g.key
	FROM s, jsonb_each(s.state) o, jsonb_each(o.value->'groups') g, jsonb_array_elements_text(g.value->'members') m
	WHERE tbl LIKE 'members%' AND o.key LIKE tbl || '-%'
	UNION ALL
	SELECT o.key, d.key, d.value->'metadata'->>'documentName'
	FROM s, jsonb_each(s.state) o, jsonb_each(o.value->'documents') d
	WHERE tbl LIKE 'docs%' AND o.key LIKE tbl || '-%'
$$;
-- A table against Velt: its rows, Velt's, and the rows that differ.
CREATE FUNCTION compare(tbl text) RETURNS TABLE(table_name text, table_rows bigint, velt_rows bigint, differing bigint)
LANGUAGE plpgsql AS $$
DECLARE
	t_rows bigint;
	v_rows bigint;
	diff bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM %I', tbl) INTO t_rows;
	SELECT count(*) INTO v_rows FROM velt_rows(tbl);
	EXECUTE format('SELECT count(*) FROM ((SELECT org, id::text, label FROM %I EXCEPT SELECT * FROM velt_rows(%L)) '
				   'UNION ALL (SELECT * FROM velt_rows(%L) EXCEPT SELECT org, id::text, label FROM %I)) d',
				   tbl, tbl, tbl, tbl) INTO diff;
	RETURN QUERY SELECT tbl, t_rows, v_rows, diff;
END $$;
CREATE FUNCTION compare_all() RETURNS TABLE(table_name text, table_rows bigint, velt_rows bigint, differing bigint)
LANGUAGE sql AS $$
	SELECT c.* FROM unnest(ARRAY['users_row', 'users_stmt', 'members_row', 'members_stmt', 'docs_row', 'docs_stmt'])
		WITH ORDINALITY AS t(name, n), compare(t.name) AS c ORDER BY t.n
$$;
-- Runs statements (separated by '; ') on all six tables (%I is the table,
-- %L the organization prefix).
CREATE FUNCTION on_all(statement text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	tbl text;
	part text;
BEGIN
	FOREACH tbl IN ARRAY ARRAY['users_row', 'users_stmt', 'members_row', 'members_stmt', 'docs_row', 'docs_stmt'] LOOP
		FOREACH part IN ARRAY string_to_array(statement, '; ') LOOP
			EXECUTE format(part, tbl, tbl);
		END LOOP;
	END LOOP;
END $$;

-- 1 to 5, in organization -1; the labels are groups for members
SELECT on_all($$INSERT INTO %I SELECT g, %L || '-1', CASE WHEN mod(g, 2) = 0 THEN 'ga' ELSE 'gb' END, g
				FROM generate_series(1, 5) g$$);
SELECT moved_drain() > 0 AS sent;
SELECT * FROM compare_all();

-- renumbering: the table holds 2 to 6
SELECT on_all($$UPDATE %I SET id = id + 1$$);
SELECT endpoint, count(*) AS operations FROM velt.outbox WHERE target LIKE 'users_row-%' GROUP BY 1 ORDER BY 1;
SELECT moved_drain() > 0 AS sent;
SELECT * FROM compare_all();
SELECT id, label FROM velt_rows('users_row') ORDER BY id;

-- and back down in one statement, then a swap of two IDs in one statement
SELECT on_all($$UPDATE %I SET id = id - 1$$);
SELECT on_all($$UPDATE %I SET id = CASE id WHEN 2 THEN 3 ELSE 2 END WHERE id IN (2, 3)$$);
SELECT moved_drain() > 0 AS sent;
SELECT * FROM compare_all();

-- a swap in two statements: the first leaves ID 4 on two rows until COMMIT
BEGIN;
SELECT on_all($$UPDATE %I SET id = 4 WHERE id = 5$$);
SELECT on_all($$UPDATE %I SET id = 5 WHERE tag = 4$$);
COMMIT;
SELECT moved_drain() > 0 AS sent;
SELECT * FROM compare_all();

-- a move that a savepoint undoes, and one that stays
BEGIN;
SAVEPOINT s;
SELECT on_all($$UPDATE %I SET id = id + 10$$);
ROLLBACK TO SAVEPOINT s;
SELECT on_all($$UPDATE %I SET id = id + 20 WHERE id = 1$$);
COMMIT;
SELECT moved_drain() > 0 AS sent;
SELECT * FROM compare_all();

-- The randomized run: 60 transactions of 1 to 4 steps each; a step runs on
-- all six tables, inside a savepoint that 1 in 8 steps rolls back; 1 in 6
-- transactions roll back.  IDs stay within 1 to 100 (the users added for
-- the members tables).
CREATE TABLE plan (txn int, step int, kind text, a int, b int, rollback_step boolean,
				   rollback_txn boolean, PRIMARY KEY (txn, step));
SELECT setseed(0.13);
INSERT INTO plan
SELECT t, s, (ARRAY['insert', 'shift_up', 'shift_down', 'swap', 'swap2', 'rename', 'move_org', 'delete'])[1 + floor(random() * 8)::int],
	   1 + floor(random() * 40)::int, 1 + floor(random() * 40)::int, random() < 0.125, NULL
FROM generate_series(1, 60) t, generate_series(1, 4) s
WHERE s <= 1 + (t * 7) % 4;
UPDATE plan SET rollback_txn = (txn % 6 = 0);
SELECT count(*) AS steps, count(DISTINCT txn) AS transactions, count(*) FILTER (WHERE rollback_step) AS steps_rolled_back,
	   count(DISTINCT txn) FILTER (WHERE rollback_txn) AS transactions_rolled_back
FROM plan;

-- The SQL of one step (%I the table, %L its organization prefix).
CREATE FUNCTION step_sql(kind text, a int, b int) RETURNS text LANGUAGE sql AS $$
	SELECT CASE kind
		WHEN 'insert' THEN format('INSERT INTO %%I SELECT %s, %%L || ''-1'', ''ga'', '
								  '(SELECT COALESCE(max(tag), 0) + 1 FROM %%1$I) '
								  'WHERE NOT EXISTS (SELECT FROM %%1$I WHERE id = %s)', a, a)
		-- all IDs from a up move by one: a renumbering without collisions
		WHEN 'shift_up' THEN format('UPDATE %%I SET id = id + 1 WHERE id >= %s '
									'AND (SELECT max(id) FROM %%1$I) < 100', a)
		WHEN 'shift_down' THEN format('UPDATE %%I SET id = id - 1 WHERE id >= %s AND %s > 1 '
									  'AND NOT EXISTS (SELECT FROM %%1$I WHERE id = %s)', a, a, a - 1)
		WHEN 'swap' THEN format('UPDATE %%I SET id = CASE id WHEN %s THEN %s ELSE %s END WHERE id IN (%s, %s)',
								a, b, a, a, b)
		-- a swap in two statements, under the deferred key
		WHEN 'swap2' THEN format('UPDATE %%I SET id = -id WHERE id = %s; '
								 'UPDATE %%1$I SET id = %s WHERE id = %s; '
								 'UPDATE %%1$I SET id = %s WHERE id = -%s', a, a, b, b, a)
		WHEN 'rename' THEN format('UPDATE %%I SET label = CASE label WHEN ''ga'' THEN ''gb'' ELSE ''ga'' END '
								  'WHERE mod(id, 3) = mod(%s, 3)', a)
		WHEN 'move_org' THEN format('UPDATE %%I SET org = %%L || CASE WHEN org LIKE ''%%%%-1'' THEN ''-2'' ELSE ''-1'' END '
									'WHERE id = %s OR id = %s', a, b)
		ELSE format('DELETE FROM %%I WHERE id = %s', a)
	END
$$;
SELECT step_sql('swap2', 3, 7);

CREATE PROCEDURE run_plan() LANGUAGE plpgsql AS $$
DECLARE
	t int;
	p record;
BEGIN
	FOR t IN SELECT DISTINCT txn FROM plan ORDER BY 1 LOOP
		FOR p IN SELECT * FROM plan WHERE txn = t ORDER BY step LOOP
			BEGIN
				PERFORM on_all(step_sql(p.kind, p.a, p.b));
				IF p.rollback_step THEN
					RAISE EXCEPTION 'roll back this step';
				END IF;
			EXCEPTION WHEN raise_exception THEN
				NULL;
			END;
		END LOOP;
		IF (SELECT bool_or(rollback_txn) FROM plan WHERE txn = t) THEN
			ROLLBACK;
		ELSE
			COMMIT;
		END IF;
	END LOOP;
END $$;
CALL run_plan();
SELECT moved_drain() > 0 AS sent;
SELECT count(*) AS operations_left FROM velt.outbox;
SELECT * FROM compare_all();

-- keys of a char(n) column are compared without their padding, as their
-- cast to text reads them: a swap keeps both users
CREATE TABLE padded (id char(4) PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, org text NOT NULL,
					 name text, email text);
CREATE TRIGGER padded_velt AFTER INSERT OR UPDATE OR DELETE ON padded FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=id', 'name=name', 'email=email');
INSERT INTO padded VALUES ('a', 'padco', 'A', 'a@example.test'), ('b', 'padco', 'B', 'b@example.test');
UPDATE padded SET id = CASE id WHEN 'a' THEN 'b' ELSE 'a' END;
SELECT requests > 0 AS sent FROM velt_process_outbox();
SELECT (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(standin_state()->'padco'->'users') AS k) AS padco_users;
DROP TABLE padded;
