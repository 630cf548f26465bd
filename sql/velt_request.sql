-- velt_request: any endpoint, with the same headers, retries and errors.
SELECT standin_reset();

-- a write of the users family
SELECT velt_request('users/add', '{"organizationId": "rq", "users": [
	{"userId": "r1", "name": "R One", "email": "r1@example.test"}]}') AS result;
-- a read of the organizations family
SELECT velt_request('organizations/get', '{"organizationIds": ["rq"]}') -> 'data' -> 0 ->> 'id' AS org;
-- options are merged into data
SELECT jsonb_array_length(velt_request('organizations/get', '{}', '{"pageSize": 1}') -> 'data') AS one_per_page;
SELECT body FROM standin_requests() ORDER BY seq DESC LIMIT 1;
-- a path that names its version overrides velt.api_version
SELECT velt_request('v1/users/delete', '{"organizationId": "rq", "userIds": ["r1"]}') -> 'data' -> 'r1' AS removed;
SELECT path FROM standin_requests() ORDER BY seq;

-- retries and errors as for the typed functions
SET velt.max_retries = 1;
SELECT standin_fault('{"status": 503}');
SELECT velt_request('organizations/get', '{}') IS NOT NULL AS answered_after_retry;
SELECT status FROM standin_requests() ORDER BY seq DESC LIMIT 2;
SELECT * FROM try($$SELECT velt_request('no/such/endpoint', '{}')$$);
SELECT * FROM try($$SELECT velt_request('users/add', '{"organizationId": "rq"}')$$);

-- bad input, nothing sent
SELECT standin_reset();
SELECT * FROM try($$SELECT velt_request(NULL, '{}')$$);
SELECT * FROM try($$SELECT velt_request('/users/add', '{}')$$);
SELECT * FROM try($$SELECT velt_request('../admin', '{}')$$);
SELECT * FROM try($$SELECT velt_request('users/add?x=1', '{}')$$);
-- a long path is quoted only in part (at most 200 bytes)
SELECT length(message) AS message_length, right(message, 30) AS message_end
FROM try(format($$SELECT velt_request(%L, '{}')$$, repeat('users/', 50000)));
SELECT * FROM try($$SELECT velt_request('', '{}')$$);
SELECT * FROM try($$SELECT velt_request('users/add', '[1]')$$);
SELECT * FROM try($$SELECT velt_request('users/add', '{"a": 1}', '{"a": 2}')$$);
SELECT standin_stats()->'requests' AS requests_sent;
