-- Fault matrix: one table of faults, each run against a synchronous call
-- (velt_add_users) and against the outbox (velt_enqueue_add_users, then
-- bounded rounds of velt_process_outbox).  Per case it records the
-- synchronous outcome, that the backend still answers, the operation's
-- state after each round, and that no enqueued user is lost: each one is at
-- Velt or still in velt.outbox.  Then the fault is removed (or the setting
-- corrected), failed operations are redriven, and every user must arrive.
SELECT standin_reset();
SET velt.max_retries = 1;                    -- a retryable failure: 2 attempts
SET velt.retry_max_delay_ms = 2000;          -- a Retry-After of 2 s is still honoured
SET velt.max_attempts = 3;                   -- the outbox dead-letters at attempt 3
SET velt.outbox_retry_max_delay_ms = 60000;  -- a retry is never due within one drain;
                                             -- each round makes it due by hand
SET velt.connect_timeout_ms = 1000;
SET statement_timeout = '150s';              -- a hang fails the test instead of blocking it

-- Velt's users of an organization, at the stand-in (main) or at the TLS stand-in
CREATE FUNCTION users_at(velt text, org text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	answer text;
BEGIN
	IF velt = 'main' THEN
		RETURN COALESCE(standin_state()->org->'users', '{}');
	END IF;
	IF to_regclass('pg_temp.tls_answer') IS NULL THEN
		CREATE TEMP TABLE tls_answer(line text);
	END IF;
	DELETE FROM tls_answer;
	EXECUTE format('COPY tls_answer FROM PROGRAM %L WITH (FORMAT csv, DELIMITER E''\x1f'', QUOTE E''\x1e'')',
		format('curl -s -S -m 20 --noproxy ''*'' --cacert %s %s',
			   quote_literal(current_setting('regress.tls_ca')),
			   quote_literal(current_setting('regress.tls_url') || '/_standin/state')));
	SELECT string_agg(line, '') INTO answer FROM tls_answer;
	RETURN COALESCE(answer::jsonb->'organizations'->org->'users', '{}');
END $$;

-- velt's reasons are its own words; libcurl's text after them (in an
-- outbox error) changes between libcurl versions and is dropped.  A host
-- that does not resolve fails at once (08001) or, if the resolver does not
-- answer, at velt.connect_timeout_ms (08006): both read the same here.
CREATE FUNCTION masked(t text) RETURNS text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(
			regexp_replace(t, ' \(libcurl: .*\)$', ''),
			'\d+ (ms|milliseconds)', 'N \1', 'g'),
			'could not resolve Velt''s host name$', 'could not resolve the host')
$$;

-- the synchronous call: 'ok' with its rows, or the SQLSTATE, a short
-- message and the number of attempts from the DETAIL
CREATE FUNCTION sync_outcome(org text, VARIADIC ids text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n bigint; successes text;
	s text; m text; d text;
BEGIN
	SELECT count(*), string_agg(COALESCE(success::text, 'NULL'), '/')
	INTO n, successes FROM velt_add_users(org, test_users(VARIADIC ids));
	RETURN format('ok: %s rows, success %s', n, successes);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
	m := regexp_replace(m, '^Velt rejected the request with (\S+) \(HTTP (\d+)\): .*$', '\1 (HTTP \2)');
	m := regexp_replace(m, '^could not get an answer from Velt: ', '');
	m := masked(m);
	IF m = 'could not resolve the host' AND s IN ('08001', '08006') THEN
		s := '08001/08006';
	END IF;
	RETURN format('%s %s; %s', s, m, COALESCE(substring(d from '\d+ attempts?'), 'no DETAIL'));
END $$;

-- the class of an outbox last_error: status and Velt status, or the transport reason
CREATE FUNCTION error_class(e text) RETURNS text LANGUAGE sql AS $$
	SELECT CASE
		WHEN e IS NULL THEN NULL
		WHEN e ~ '^POST \S+: no answer: ' THEN masked(regexp_replace(e, '^POST \S+: ', ''))
		WHEN e ~ '^POST \S+: HTTP \d+: not a Velt envelope' THEN substring(e from 'HTTP \d+: not a Velt envelope')
		WHEN e ~ '^POST \S+: HTTP \d+ : ' THEN substring(e from 'HTTP \d+') || ' without a Velt error'
		WHEN e ~ '^POST \S+: HTTP \d+ [A-Z_]+: ' THEN substring(e from 'HTTP \d+ [A-Z_]+')
		ELSE e END
$$;

-- the cases: a fault of the stand-in (it repeats until the fix), or settings
-- that send the requests elsewhere; the fix is the settings of the redrive
CREATE TABLE fm_case(ord serial, name text, fault jsonb, settings jsonb DEFAULT '{}',
					 velt text DEFAULT 'main', fix jsonb DEFAULT '{}');
-- a free port with nothing listening, below the ephemeral range (so that a
-- connection can never meet itself there)
CREATE TEMP TABLE free_port(port int);
COPY free_port FROM PROGRAM '/usr/bin/python3 -c "
import socket
for port in range(23456, 23999):
    s = socket.socket()
    try:
        s.bind((''127.0.0.1'', port))
    except OSError:
        continue
    print(port)
    break
"';
INSERT INTO fm_case(name, fault) VALUES
	('http_400', '{"status": 400}'),
	('http_401', '{"status": 401}'),
	('http_403', '{"status": 403}'),
	('http_404', '{"status": 404}'),
	('http_409', '{"status": 409}'),
	('http_429_retry_after_2s', '{"status": 429, "retry_after": "2"}'),
	('http_429', '{"status": 429}'),
	('http_500', '{"status": 500}'),
	('http_502', '{"status": 502}'),
	('http_503', '{"status": 503}'),
	('http_504', '{"status": 504}'),
	('unknown_status_http_400', '{"status": 400, "error_status": "BRAND_NEW"}'),
	('unknown_status_http_503', '{"status": 503, "error_status": "BRAND_NEW"}'),
	('unknown_status_http_200', '{"body": "{\"error\": {\"message\": \"New.\", \"status\": \"BRAND_NEW\"}}"}'),
	('html_http_200', '{"body": "<html><body>Maintenance</body></html>", "content_type": "text/html"}'),
	('html_http_502', '{"status": 502, "body": "<html><body>Bad gateway</body></html>", "content_type": "text/html"}'),
	('invalid_json', '{"body": "{\"result\": {\"status\": \"success\", \"data\": {\"x\": tru}}}"}'),
	('json_cut_short', '{"body": "{\"result\": {\"status\": \"success\", \"data\": "}'),
	('truncated_body', '{"truncate": true}'),
	('empty_body', '{"body": ""}'),
	-- a 2xx envelope that says nothing about the IDs has not delivered
	-- them: the outbox retries them and dead-letters them in the end
	('no_result_for_ids', '{"body": "{\"result\": {\"status\": \"success\", \"message\": \"ok\", \"data\": {}}}"}'),
	('body_50mb', '{"pad_bytes": 50000000}'),
	('body_70mb', '{"body_bytes": 70000000}'),
	('dropped_connection', '{"drop": true}');
INSERT INTO fm_case(name, fault, settings) VALUES
	('answer_never_starts', '{"delay_ms": 5000, "drop": true}', '{"velt.timeout_ms": "800"}'),
	('answer_never_finishes', '{"truncate": true, "stall_ms": 5000}', '{"velt.timeout_ms": "800"}'),
	('refused_connection', NULL,
	 jsonb_build_object('velt.base_url', 'http://127.0.0.1:' || (SELECT port FROM free_port))),
	('dns_failure', NULL, '{"velt.base_url": "http://velt-fault-matrix.invalid"}'),
	('connect_hangs', NULL, jsonb_build_object('velt.base_url', current_setting('regress.blackhole_url'),
											   'velt.connect_timeout_ms', '300'));
INSERT INTO fm_case(name, fault, settings, velt, fix) VALUES
	('tls_self_signed_no_ca_file', NULL,
	 jsonb_build_object('velt.base_url', current_setting('regress.tls_url')), 'tls',
	 jsonb_build_object('velt.base_url', current_setting('regress.tls_url'),
						'velt.ca_file', current_setting('regress.tls_ca'))),
	('tls_self_signed_ca_file', NULL,
	 jsonb_build_object('velt.base_url', current_setting('regress.tls_url'),
						'velt.ca_file', current_setting('regress.tls_ca')), 'tls',
	 jsonb_build_object('velt.base_url', current_setting('regress.tls_url'),
						'velt.ca_file', current_setting('regress.tls_ca')));
SELECT count(*) AS cases, count(*) FILTER (WHERE name = 'refused_connection'
	AND settings->>'velt.base_url' ~ ':\d+$') AS refused_port_found FROM fm_case;

CREATE TABLE fm_result(ord int, name text, sync text, alive boolean, outbox text,
					   lost int, after_fix text);

-- One case.  A procedure, so that the enqueue, each drain and the redrive
-- commit on their own: a drain never sends its own transaction's work.
CREATE PROCEDURE run_case(c_name text) LANGUAGE plpgsql AS $$
DECLARE
	c fm_case;
	org text;
	mine text[];			-- the users enqueued
	op bigint;
	st text; att int; err text; due timestamptz;
	states text[] := '{}';
	honoured boolean := false;
	drain_error text;
	v_sync text; v_alive boolean; v_outbox text; v_results text;
	v_lost int; at_velt_before text[]; at_velt_after text[]; left_ops int;
	redriven bigint;
	k text; v text;
BEGIN
	SELECT * INTO STRICT c FROM fm_case WHERE name = c_name;
	org := 'fm-' || c.name;
	mine := ARRAY[c.name || '-o1', c.name || '-o2'];
	PERFORM standin_reset();
	IF c.fault IS NOT NULL THEN
		PERFORM standin_fault(c.fault || '{"count": 100}');
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each_text(c.settings) LOOP
		PERFORM set_config(k, v, false);
	END LOOP;

	-- the synchronous call, then the same session must still answer
	v_sync := sync_outcome(org, c.name || '-s1', c.name || '-s2');
	EXECUTE 'SELECT 1' INTO v_alive;
	-- a retry that waited for Retry-After (2 s; other waits are 100 ms at most)
	IF c.velt = 'main' AND NOT c.settings ? 'velt.base_url' AND
		(SELECT max(at) - min(at) >= 1.9
		 FROM (SELECT at FROM standin_requests() ORDER BY seq LIMIT 2) AS first_two) THEN
		v_sync := v_sync || ', retried after Retry-After';
	END IF;

	-- the outbox: enqueue, commit, then at most 5 rounds
	op := velt_enqueue_add_users(org, test_users(VARIADIC mine));
	COMMIT;
	FOR round IN 1..5 LOOP
		UPDATE velt.outbox SET next_attempt_at = clock_timestamp()
		WHERE id = op AND state = 'pending';
		BEGIN
			PERFORM velt_process_outbox(100, 20);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS drain_error = MESSAGE_TEXT;
		END;
		COMMIT;
		SELECT state, attempts, last_error, next_attempt_at INTO st, att, err, due
		FROM velt.outbox WHERE id = op;
		IF NOT FOUND THEN
			states := states || 'delivered'::text;
			EXIT;
		END IF;
		states := states || CASE st WHEN 'pending' THEN 'retry' ELSE st END;
		IF round = 1 AND st = 'pending' THEN
			honoured := due > clock_timestamp() + interval '1.2 s';  -- others wait 1 s at most
		END IF;
		EXIT WHEN st <> 'pending' OR drain_error IS NOT NULL;
	END LOOP;
	SELECT string_agg(format('%s x %s', n, msg), ', ' ORDER BY msg) INTO v_results
	FROM (SELECT COALESCE(message, 'NULL') AS msg, count(*) AS n
		  FROM velt_results WHERE operation_id = op GROUP BY 1) AS r;
	IF err IS NULL THEN			-- delivered: the attempt is in its results
		SELECT max(attempts) INTO att FROM velt_results WHERE operation_id = op;
	END IF;
	v_outbox := array_to_string(states, ' > ')
		|| format(' (%s attempt%s)', att, CASE WHEN att = 1 THEN '' ELSE 's' END)
		|| COALESCE(': ' || error_class(err), '')
		|| CASE WHEN honoured THEN '; retry waits for Retry-After' ELSE '' END
		|| COALESCE('; drain failed: ' || drain_error, '')
		|| '; results: ' || COALESCE(v_results, 'none');

	-- lost: neither at Velt nor in the outbox (back at the main stand-in to ask)
	FOR k IN SELECT * FROM jsonb_object_keys(c.settings) LOOP
		EXECUTE 'RESET ' || k;
	END LOOP;
	SELECT array_agg(u) INTO at_velt_before
	FROM unnest(mine) AS u WHERE users_at(c.velt, org) ? u;
	SELECT count(*) INTO v_lost FROM unnest(mine) AS u
	WHERE NOT users_at(c.velt, org) ? u
	  AND NOT EXISTS (SELECT 1 FROM velt.outbox o WHERE o.target = org AND u = ANY (o.ids));

	-- the fix: no more faults (or corrected settings); redrive and drain once
	PERFORM standin_reset();
	FOR k, v IN SELECT * FROM jsonb_each_text(c.fix) LOOP
		PERFORM set_config(k, v, false);
	END LOOP;
	redriven := velt_retry_failed(include_rejected => true);
	COMMIT;
	PERFORM velt_process_outbox(100, 20);
	COMMIT;
	SELECT array_agg(u) INTO at_velt_after
	FROM unnest(mine) AS u WHERE users_at(c.velt, org) ? u OR u = ANY (at_velt_before);
	SELECT count(*) INTO left_ops FROM velt.outbox WHERE target = org;
	FOR k IN SELECT * FROM jsonb_object_keys(c.fix) LOOP
		EXECUTE 'RESET ' || k;
	END LOOP;
	DELETE FROM velt.outbox WHERE target = org;

	INSERT INTO fm_result VALUES (c.ord, c.name, v_sync, v_alive, v_outbox, v_lost,
		format('%s/2 at Velt', COALESCE(cardinality(at_velt_after), 0))
		|| CASE WHEN left_ops > 0 THEN format(', %s operations left', left_ops) ELSE '' END);
	COMMIT;
END $$;

SELECT format('CALL run_case(%L)', name) FROM fm_case ORDER BY ord \gexec

\pset format unaligned
\pset fieldsep ' | '
SELECT name, sync, alive, outbox, lost, after_fix FROM fm_result ORDER BY ord;
\pset format aligned
\pset fieldsep '|'

-- every case ran, the backend answered after each, no user was lost, and
-- every user reached Velt once the fault was gone and the dead letters
-- were redriven
SELECT count(*) AS cases, count(*) FILTER (WHERE alive) AS alive,
	   sum(lost) AS lost, string_agg(name, ', ') FILTER (WHERE lost > 0) AS losing_cases,
	   count(*) FILTER (WHERE after_fix <> '2/2 at Velt') AS not_recovered
FROM fm_result;
SELECT count(*) AS outbox_rows_left FROM velt.outbox WHERE target LIKE 'fm-%';
