-- The benchmarks' SQL side, loaded by bench/scenarios.sh into database
-- velt_worker (the background worker's database).  Every function times
-- itself inside the backend, so connection set-up and psql are not counted.
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS velt;

-- CPU time this backend has run, from the scheduler (nanoseconds, exact).
CREATE FUNCTION bench_cpu_ms() RETURNS float8 LANGUAGE sql AS $$
	SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::float8 / 1e6
$$;

-- This backend's private memory (anonymous resident pages), in kB.
CREATE FUNCTION bench_rss_kb() RETURNS bigint LANGUAGE sql AS $$
	SELECT (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]::bigint
$$;

CREATE FUNCTION bench_user(id text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('userId', id, 'name', 'Bench User ' || id,
							  'email', id || '@example.test')
$$;

-- n sequential single-user calls, as an application calling velt per change.
CREATE FUNCTION bench_single_calls(url text, n int, OUT wall_ms float8, OUT cpu_ms float8)
LANGUAGE plpgsql AS $$
DECLARE
	users jsonb := jsonb_build_array(bench_user('bench-user-1'));
	t0 timestamptz;
	c0 float8;
	ok boolean;
BEGIN
	PERFORM set_config('velt.base_url', url, true);
	c0 := bench_cpu_ms();
	t0 := clock_timestamp();
	FOR i IN 1..n LOOP
		SELECT success INTO ok FROM velt_add_users('bench-org', users);
		IF ok IS NOT TRUE THEN
			RAISE EXCEPTION 'call % did not succeed', i;
		END IF;
	END LOOP;
	wall_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
	cpu_ms := bench_cpu_ms() - c0;
END $$;

-- One call with n users (split into requests of velt.batch_size).
CREATE FUNCTION bench_bulk(url text, n int, OUT wall_ms float8, OUT cpu_ms float8)
LANGUAGE plpgsql AS $$
DECLARE
	users jsonb := (SELECT jsonb_agg(bench_user('bulk-' || g)) FROM generate_series(1, n) AS g);
	t0 timestamptz;
	c0 float8;
	nrows bigint;
	nok bigint;
BEGIN
	PERFORM set_config('velt.base_url', url, true);
	c0 := bench_cpu_ms();
	t0 := clock_timestamp();
	SELECT count(*), count(*) FILTER (WHERE success) INTO nrows, nok
	  FROM velt_add_users('bench-org', users);
	wall_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
	cpu_ms := bench_cpu_ms() - c0;
	IF nrows <> n OR nok <> n THEN
		RAISE EXCEPTION '% rows, % succeeded, for % users', nrows, nok, n;
	END IF;
END $$;

-- Private memory after each checkpoint of single-user calls, in one session.
CREATE FUNCTION bench_memory(url text, checkpoints int[])
RETURNS TABLE (calls int, rss_kb bigint)
LANGUAGE plpgsql AS $$
DECLARE
	done int := 0;
BEGIN
	FOREACH calls IN ARRAY checkpoints LOOP
		PERFORM bench_single_calls(url, calls - done);
		done := calls;
		rss_kb := bench_rss_kb();
		RETURN NEXT;
	END LOOP;
END $$;

-- Trigger sync: n rows inserted in one statement, delivered by the worker.
CREATE TABLE bench_plain (user_id text PRIMARY KEY, org text NOT NULL, name text, email text);
CREATE TABLE bench_statement (LIKE bench_plain INCLUDING ALL);
CREATE TABLE bench_row (LIKE bench_plain INCLUDING ALL);
CREATE TRIGGER bench_statement_velt AFTER INSERT ON bench_statement
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=user_id',
										'name=name', 'email=email');
CREATE TRIGGER bench_row_velt AFTER INSERT ON bench_row
	FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=user_id',
										'name=name', 'email=email');
-- the same rows as documents of the application (ID, organization, title)
CREATE TABLE bench_documents (LIKE bench_plain INCLUDING ALL);
CREATE TRIGGER bench_documents_velt AFTER INSERT ON bench_documents
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION velt_documents_trigger('organization=org', 'document_id=user_id', 'name=name');
CREATE TABLE bench_inserts (variant text, rows int, insert_ms float8, committed_at float8);

CREATE PROCEDURE bench_insert(variant text, n int)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	ms float8;
BEGIN
	EXECUTE format('TRUNCATE %I', 'bench_' || variant);
	COMMIT;
	t0 := clock_timestamp();
	EXECUTE format($q$INSERT INTO %I
					  SELECT 'u' || g, 'benchco', 'User ' || g, 'u' || g || '@example.test'
						FROM generate_series(1, %s) AS g$q$, 'bench_' || variant, n);
	ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
	COMMIT;
	INSERT INTO bench_inserts VALUES (variant, n, ms, extract(epoch FROM clock_timestamp()));
	COMMIT;
END $$;

-- Waits (at most timeout_s) until the worker has settled every operation
-- (delivered, or dead or rejected: the scenario then reports a failure),
-- polling every 5 ms; returns the time (epoch seconds) this session first saw
-- none pending, or NULL.  The drain deletes delivered operations in the
-- transaction that writes their outcomes, so this is when every outcome was
-- visible in velt_results, at most one poll (5 ms, plus the query) late.
CREATE FUNCTION bench_wait_delivered(timeout_s float8) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + timeout_s * interval '1 second';
BEGIN
	WHILE clock_timestamp() < deadline LOOP
		IF NOT EXISTS (SELECT FROM velt.outbox WHERE state = 'pending') THEN
			RETURN extract(epoch FROM clock_timestamp());
		END IF;
		PERFORM pg_sleep(0.005);
	END LOOP;
	RETURN NULL;
END $$;
