-- GDPR: a user's data read page by page, its deletion, and the deletion
-- job's status.
SELECT standin_reset();
SET velt.max_retries = 0;
SELECT count(*) AS added FROM velt_add_users('fco', test_users('pu'));

-- GDPR: read the user's data page by page, delete it, follow the job
SELECT count(*) AS pages, bool_and(page ? 'users') AS has_users
FROM velt_get_user_data('fco', 'pu') AS page;
SELECT velt_delete_user_data(ARRAY['pu'], ARRAY['fco']) - 'data' AS answer;
SELECT velt_get_delete_user_data_status(
	(SELECT body->>'jobId' FROM (SELECT velt_delete_user_data(ARRAY['pu'])->'data' AS body) j)) - 'lastTaskCompletedTime' AS status;
SELECT standin_state()->'fco'->'users' ? 'pu' AS pu_still_there;

-- GDPR pages: with at most one item per list on a page, a user in three
-- groups takes three pages
SELECT standin_reset();
SELECT count(*) AS added FROM velt_add_users('gd', test_users('gu'));
SELECT count(*) AS groups FROM velt_add_user_groups('gd', '[{"groupId": "g1"}, {"groupId": "g2"}, {"groupId": "g3"}]');
SELECT count(*) AS memberships FROM (
	SELECT velt_add_users_to_group('gd', g, ARRAY['gu']) FROM unnest(ARRAY['g1', 'g2', 'g3']) AS g) t;
SELECT standin('POST', 'config', '{"max_page_size": 1}');
SELECT count(*) AS pages FROM velt_get_user_data('gd', 'gu');
SELECT count(*) AS get_requests, count(*) FILTER (WHERE body->'data' ? 'pageToken') AS with_token
FROM standin_requests() WHERE path = '/v2/users/data/get';
SELECT standin('POST', 'config', '{"max_page_size": null}');

-- bad input, nothing sent
SELECT standin_reset();
SELECT * FROM try($$SELECT velt_get_delete_user_data_status(NULL)$$);
SELECT standin_stats()->'requests' AS requests_sent;
