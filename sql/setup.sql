-- Test set-up: the extension and helpers to drive the Velt stand-in.
CREATE EXTENSION velt;

-- The stand-in's control API, read through curl (superuser only: COPY FROM
-- PROGRAM).  SECURITY DEFINER so tests can call it while SET ROLE'd.
CREATE FUNCTION standin(method text, path text, body jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	url text := rtrim(current_setting('velt.base_url'), '/') || '/_standin/' || path;
	cmd text;
	answer text;
BEGIN
	-- method goes into a shell command: only the two the tests use
	IF method NOT IN ('GET', 'POST') THEN
		RAISE EXCEPTION 'standin(): method must be GET or POST';
	END IF;
	cmd := 'curl -s -S -m 20 --noproxy ''*'' -X ' || method || ' ' || quote_literal(url);
	IF body IS NOT NULL THEN
		cmd := cmd || ' -H ''Content-Type: application/json'' --data-binary '
			|| '''' || replace(body::text, '''', '''"''"''') || '''';
	END IF;
	IF to_regclass('pg_temp.standin_answer') IS NULL THEN
		CREATE TEMP TABLE standin_answer(line text);
	END IF;
	DELETE FROM standin_answer;
	-- CSV with separators that never occur, so JSON backslashes survive
	EXECUTE format('COPY standin_answer FROM PROGRAM %L WITH (FORMAT csv, DELIMITER E''\x1f'', QUOTE E''\x1e'')', cmd);
	SELECT string_agg(line, '') INTO answer FROM standin_answer;
	RETURN answer::jsonb;
END $$;

CREATE FUNCTION standin_reset() RETURNS void LANGUAGE sql SECURITY DEFINER
AS $$ SELECT standin('POST', 'reset') $$;

-- a fault the stand-in refuses must fail the test, not pass unnoticed
CREATE FUNCTION standin_fault(fault jsonb) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	answer jsonb := standin('POST', 'fault', fault);
BEGIN
	IF answer->>'ok' IS DISTINCT FROM 'true' THEN
		RAISE EXCEPTION 'the stand-in refused the fault %: %', fault, answer;
	END IF;
END $$;

CREATE FUNCTION standin_state() RETURNS jsonb LANGUAGE sql SECURITY DEFINER
AS $$ SELECT standin('GET', 'state')->'organizations' $$;

CREATE FUNCTION standin_stats() RETURNS jsonb LANGUAGE sql SECURITY DEFINER
AS $$ SELECT standin('GET', 'stats') $$;

CREATE FUNCTION standin_requests()
RETURNS TABLE(seq int, path text, status int, auth text, body jsonb, conn int, at double precision)
LANGUAGE sql SECURITY DEFINER AS $$
	SELECT (r->>'seq')::int, r->>'path', (r->>'status')::int, r->>'auth', r->'body',
		   (r->>'conn')::int, (r->>'time')::double precision
	FROM jsonb_array_elements(standin('GET', 'requests')->'requests') AS r
$$;

-- Runs a statement and reports how it failed (or 'ok'), with timings in
-- messages replaced by N and libcurl's own text in a DETAIL replaced by
-- "<text>" (its wording changes between libcurl versions; velt's message
-- says the same thing in words that do not) so the output is stable.
CREATE FUNCTION try(statement text)
RETURNS TABLE(state text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
DECLARE
	s text; m text; d text; h text;
BEGIN
	EXECUTE statement;
	RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
		d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
	RETURN QUERY SELECT s,
		regexp_replace(m, '\d+ (ms|milliseconds)', 'N \1', 'g'),
		NULLIF(regexp_replace(regexp_replace(d, '\d+ (ms|milliseconds)', 'N \1', 'g'),
							  '; libcurl: .*$', '; libcurl: <text>.'), ''),
		NULLIF(h, '');
END $$;

-- Waits (at most seconds, polling every 0.1 s) until the query cond
-- returns true; says whether it did.  Statistics views are read afresh at
-- each poll.  Every test that waits for another process waits with it.
CREATE FUNCTION wait_until(cond text, seconds int DEFAULT 30) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	ok boolean;
BEGIN
	FOR i IN 1..seconds * 10 LOOP
		PERFORM pg_stat_clear_snapshot();
		EXECUTE cond INTO ok;
		IF ok THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN false;
END $$;
-- Waits until the stand-in has (or, present false, no longer has) a user.
CREATE FUNCTION wait_for_user(org text, user_id text, present boolean DEFAULT true,
							  seconds int DEFAULT 30)
RETURNS boolean LANGUAGE sql AS $$
	SELECT wait_until(format('SELECT COALESCE(standin_state()->%L->''users'' ? %L, false) = %L',
							 org, user_id, present), seconds)
$$;

-- A few users the tests share.
CREATE FUNCTION test_users(VARIADIC ids text[]) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_agg(jsonb_build_object('userId', i, 'name', 'User ' || i,
										'email', i || '@example.test') ORDER BY o)
	FROM unnest(ids) WITH ORDINALITY AS t(i, o)
$$;

SELECT standin_reset();
SELECT standin_stats();
