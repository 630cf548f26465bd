-- Reading users back (paged, 30-ID split) and updating them.
SELECT standin_reset();
SELECT count(*) AS added FROM velt_add_users('readco', test_users('a', 'b', 'c', 'd'));
SELECT count(*) AS added FROM velt_add_users('readco', test_users('docu'), document => 'doc-1');

SELECT id, name, email, access_role FROM velt_get_users('readco') ORDER BY id;
SELECT id FROM velt_get_users('readco', document => 'doc-1');
SELECT array_agg(id ORDER BY id) AS ids FROM velt_get_users('readco', options => '{"pageSize": 1}');
SELECT count(*) AS get_requests FROM standin_requests() WHERE path = '/v2/users/get';
SELECT id FROM velt_get_users('readco', max_items => 2, options => '{"pageSize": 1}');
SELECT count(*) AS three_of_four FROM velt_get_users('readco', max_items => 3, options => '{"pageSize": 1}');
SELECT count(*) AS found FROM velt_get_users('readco', ARRAY(SELECT chr(96 + g) FROM generate_series(1, 26) AS g)
											   || ARRAY['x1', 'x2', 'x3', 'x4', 'x5']);
SELECT jsonb_array_length(body->'data'->'userIds') AS ids_in_request
FROM standin_requests() WHERE path = '/v2/users/get' AND body->'data' ? 'userIds' ORDER BY 1 DESC;

-- the slices are read together, the rows still in the filter's order: the
-- first slice (d and 29 unknown IDs) answers 500 ms late, the second (a, b)
-- is asked meanwhile and answers first
SELECT max(seq) AS seq_before FROM standin_requests() \gset
SELECT standin_fault('{"delay_ms": 500, "body_contains": "\"d\""}');
SELECT string_agg(id, ',' ORDER BY ordinality) AS rows_in_order
FROM velt_get_users('readco', ARRAY['d'] || ARRAY(SELECT 'y' || g FROM generate_series(1, 29) AS g)
							  || ARRAY['a', 'b']) WITH ORDINALITY;
SELECT max(at) FILTER (WHERE body->'data'->'userIds' ? 'a') - max(at) FILTER (WHERE body->'data'->'userIds' ? 'd')
	   < 0.4 AS second_slice_asked_while_first_waited
FROM standin_requests() WHERE path = '/v2/users/get' AND seq > :seq_before;
-- max_items counts rows in that order too
SELECT standin_fault('{"delay_ms": 300, "body_contains": "\"d\""}');
SELECT string_agg(id, ',' ORDER BY ordinality) AS first_two
FROM velt_get_users('readco', ARRAY['d'] || ARRAY(SELECT 'y' || g FROM generate_series(1, 29) AS g)
							  || ARRAY['a', 'b'], max_items => 2) WITH ORDINALITY;

SELECT id, success, message FROM velt_update_users('readco', '[
	{"userId": "a", "name": "Anna Renamed", "email": "a@example.test"},
	{"userId": "nobody", "name": "N", "email": "n@example.test"}]');
SELECT name FROM velt_get_users('readco', ARRAY['a']);

SELECT * FROM try($$SELECT * FROM velt_get_users(NULL)$$);
SELECT * FROM try($$SELECT * FROM velt_get_users('readco', document => 'd', folder => 'f')$$);
