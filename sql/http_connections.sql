-- http_connections: the connections velt opens.  Over HTTP/1.1 a call keeps
-- at most velt.max_concurrency connections and later calls reuse them;
-- where Velt offers HTTP/2 by ALPN (nghttpx in front of the stand-in,
-- regress.h2_url), the requests of a call travel over one connection as
-- HTTP/2 streams, all in flight at once.

-- Connections of the server's own user (not nghttpx's, which reaches the
-- stand-in too) to the port of url that the kernel lists as ESTABLISHED
-- (state 01 in /proc/net/tcp; the test URLs are IPv4 literals).
CREATE FUNCTION hc_established_to(url text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	port int := substring(url FROM ':(\d+)$')::int;
	uid text;
	n int;
BEGIN
	IF to_regclass('pg_temp.hc_tcp') IS NULL THEN
		CREATE TEMP TABLE hc_tcp(line text);
	END IF;
	-- COPY reads /proc files, whose size the kernel reports as 0
	DELETE FROM hc_tcp;
	EXECUTE 'COPY hc_tcp FROM ''/proc/self/status'' WITH (FORMAT csv, DELIMITER E''\x1f'', QUOTE E''\x1e'')';
	SELECT (regexp_match(line, '^Uid:\s+(\d+)'))[1] INTO uid FROM hc_tcp WHERE line LIKE 'Uid:%';
	DELETE FROM hc_tcp;
	EXECUTE 'COPY hc_tcp FROM ''/proc/net/tcp'' WITH (FORMAT csv, DELIMITER E''\x1f'', QUOTE E''\x1e'')';
	-- "sl: local_ip:port remote_ip:port st queues timer retransmits uid ...",
	-- addresses in hex
	SELECT count(*) INTO n
	FROM hc_tcp, regexp_match(line, '^\s*\d+: [0-9A-F]+:[0-9A-F]{4} [0-9A-F]+:([0-9A-F]{4}) 01 \S+ \S+ \S+\s+(\d+) ') AS m
	WHERE ('x' || m[1])::bit(16)::int = port AND m[2] = uid;
	RETURN n;
END $$;

-- The POSTs in the HTTP/2 front's access log (regress.h2_log, one
-- "ALPN METHOD PATH STATUS" line per request) by the protocol ALPN chose,
-- once there are at least want of them (the front writes a line as each
-- stream closes) or 5 s have passed.
CREATE FUNCTION hc_front_posts(want int DEFAULT 0)
RETURNS TABLE(alpn text, posts int) LANGUAGE plpgsql AS $$
DECLARE
	i int;
BEGIN
	IF to_regclass('pg_temp.hc_log') IS NULL THEN
		CREATE TEMP TABLE hc_log(line text);
	END IF;
	FOR i IN 1..100 LOOP
		DELETE FROM hc_log;
		EXECUTE format('COPY hc_log FROM %L WITH (FORMAT csv, DELIMITER E''\x1f'', QUOTE E''\x1e'')',
					   current_setting('regress.h2_log'));
		EXIT WHEN (SELECT count(*) FROM hc_log WHERE split_part(line, ' ', 2) = 'POST') >= want;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN QUERY SELECT split_part(line, ' ', 1), count(*)::int FROM hc_log
		WHERE split_part(line, ' ', 2) = 'POST' GROUP BY 1 ORDER BY 1;
END $$;

SET velt.batch_size = 1;

-- HTTP/1.1 (the plain stand-in).  A new backend's first call: 8 requests,
-- each answered 300 ms late, 4 in flight at once, open 4 connections, which
-- stay open after the call
SELECT standin_reset();
SET velt.max_concurrency = 4;
SELECT standin_fault('{"delay_ms": 300, "count": 8}');
SELECT count(*) AS rows, bool_and(success) AS all_added
FROM velt_add_users('hc', test_users('a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'));
SELECT (standin_stats()->>'connections')::int AS connections,
	   hc_established_to(current_setting('velt.base_url')) AS open_after;

-- two more such calls right after open no new connection: each again has 4
-- requests in flight at once, on the 4 connections of the first call
SELECT standin_fault('{"delay_ms": 300, "count": 8}');
SELECT count(*) AS rows, bool_and(success) AS all_added
FROM velt_add_users('hc', test_users('b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8'));
SELECT standin_fault('{"delay_ms": 300, "count": 8}');
SELECT count(*) AS rows, bool_and(success) AS all_added
FROM velt_add_users('hc', test_users('c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'));

-- one request at a time reuses one of them too
SET velt.max_concurrency = 1;
SELECT count(*) AS rows, bool_and(success) AS all_added
FROM velt_add_users('hc', test_users('d1', 'd2', 'd3', 'd4'));

-- per call: its requests, the connections they used, and the highest
-- connection number among them (the stand-in numbers each new connection)
SELECT left(body->'data'->'users'->0->>'userId', 1) AS call, count(*) AS requests,
	   count(DISTINCT conn) AS connections_used, max(conn) AS highest_connection
FROM standin_requests() GROUP BY 1 ORDER BY 1;
SELECT (standin_stats()->>'requests')::int AS requests,
	   (standin_stats()->>'connections')::int AS connections,
	   hc_established_to(current_setting('velt.base_url')) AS open_after;

-- HTTP/2 (TLS with ALPN through nghttpx to the same stand-in).  8 requests,
-- each answered 1 s late, all 8 in flight at once, travel over one
-- connection, and nghttpx served each over h2
SELECT standin_reset();
SET velt.max_concurrency = 8;
SELECT standin_fault('{"delay_ms": 1000, "count": 8}');
SELECT hc_established_to(current_setting('regress.h2_url')) AS open_before;
CREATE TEMP TABLE hc_posts_before AS SELECT * FROM hc_front_posts();
SELECT set_config('velt.base_url', current_setting('regress.h2_url'), false) IS NOT NULL AS set;
SELECT set_config('velt.ca_file', current_setting('regress.tls_ca'), false) IS NOT NULL AS set;
SELECT count(*) AS rows, bool_and(success) AS all_added
FROM velt_add_users('hc', test_users('h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8'));
SELECT hc_established_to(current_setting('regress.h2_url')) AS open_after;
RESET velt.ca_file;
RESET velt.base_url;
SELECT alpn, now.posts - COALESCE(before.posts, 0) AS posts
FROM hc_front_posts((SELECT COALESCE(sum(posts), 0)::int + 8 FROM hc_posts_before)) AS now
	 LEFT JOIN hc_posts_before AS before USING (alpn)
WHERE now.posts > COALESCE(before.posts, 0);
-- in flight at once: all 8 reached the stand-in before the first answer
-- (1 s late) went back, which one HTTP/1.1 connection cannot do
SELECT count(*) AS requests, max(at) - min(at) < 1.0 AS all_in_flight_at_once
FROM standin_requests();

RESET velt.max_concurrency;
RESET velt.batch_size;
DROP FUNCTION hc_established_to(text);
DROP FUNCTION hc_front_posts(int);
