-- Benchmark body, run by bench/outbox_trigger.sh in database velt_worker
-- (the worker's database).  :rows rows, :runs runs of each variant.
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS velt;
CREATE TABLE bench_plain (user_id text PRIMARY KEY, org text NOT NULL, name text, email text);
CREATE TABLE bench_synced (user_id text PRIMARY KEY, org text NOT NULL, name text, email text);
CREATE TRIGGER bench_synced_velt AFTER INSERT ON bench_synced
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=user_id',
										'name=name', 'email=email');
CREATE TABLE bench_timings (run int, variant text, insert_ms float8, committed_at float8);

CREATE PROCEDURE bench_insert(variant text, run int, n int)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	ms float8;
BEGIN
	EXECUTE format('TRUNCATE %I', 'bench_' || variant);
	COMMIT;
	t0 := clock_timestamp();
	EXECUTE format($q$INSERT INTO %I SELECT 'u' || g, 'benchco', 'User ' || g, 'u' || g || '@example.test'
					  FROM generate_series(1, %s) AS g$q$, 'bench_' || variant, n);
	ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
	COMMIT;
	INSERT INTO bench_timings VALUES (run, variant, ms, extract(epoch FROM clock_timestamp()));
	COMMIT;
END $$;
