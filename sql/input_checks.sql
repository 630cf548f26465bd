-- Bad input is rejected before anything is sent: 22004 for NULLs, 22023
-- for everything else, naming the argument and the offending index.
SELECT standin_reset();

SELECT * FROM try($$SELECT * FROM velt_add_users(NULL, test_users('a'))$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('', test_users('a'))$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', NULL)$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '{"userId": "a"}')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '"a"')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "a"}, "b"]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "a"}, {"name": "b"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": ""}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": 7}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "a"}, {"userId": "b"}, {"userId": "a"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'), document => 'd', folder => 'f')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'), document => '')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'), options => '[1]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'), options => '{"organizationId": "other"}')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'), options => '{"users": []}')$$);

SELECT * FROM try($$SELECT * FROM velt_delete_users('o', NULL)$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY[]::text[])$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY['a', NULL])$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY['a', ''])$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY['x', 'y', 'x'])$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', '[0:1]={a,b}'::text[] || NULL::text)$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY[['a'], ['b']])$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY['a'], document => 'd', folder => 'f')$$);

SELECT * FROM try($$SELECT * FROM velt_add_user_groups('o', '[{"groupName": "x"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_user_groups('o', '[{"groupId": "g"}, {"groupId": "g"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_user_groups(NULL, '[{"groupId": "g"}]')$$);

SELECT * FROM try($$SELECT * FROM velt_add_users_to_group('o', NULL, ARRAY['a'])$$);
SELECT * FROM try($$SELECT * FROM velt_add_users_to_group('o', '', ARRAY['a'])$$);
SELECT * FROM try($$SELECT * FROM velt_add_users_to_group('o', 'g', ARRAY[NULL]::text[])$$);

SELECT * FROM try($$SELECT * FROM velt_delete_users_from_group('o', 'g')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users_from_group('o', 'g', ARRAY['a'], delete_all => true)$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users_from_group('o', 'g', ARRAY['a', 'a'])$$);

-- deeply nested user data beyond the JSON depth limit (256 levels counted
-- from the argument: users is 1, a user 2, so 255 arrays inside a user are
-- one too many), and the same limit for options and velt_request's data
SELECT * FROM try(format($$SELECT * FROM velt_add_users('o', '[{"userId": "a", "x": %s1%s}]')$$,
						 repeat('[', 255), repeat(']', 255)));
SELECT * FROM try(format($$SELECT * FROM velt_add_users('o', '[{"userId": "a", "x": %s1%s}]')$$,
						 repeat('[', 300), repeat(']', 300)));
SELECT * FROM try(format($$SELECT * FROM velt_add_users('o', '[{"userId": "a"}]', options => '{"x": %s1%s}')$$,
						 repeat('[', 256), repeat(']', 256)));
SELECT * FROM try(format($$SELECT velt_request('users/add', '{"x": %s1%s}')$$,
						 repeat('[', 256), repeat(']', 256)));

-- none of the above reached Velt
SELECT standin_stats()->'requests' AS requests_sent;
