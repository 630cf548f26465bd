-- A catalog of malformed calls: each is refused with its SQLSTATE and a
-- message naming the argument (and index), and none of them sends a
-- request or queues an operation.  sql/validation.sql has the basic checks
-- of the user and group functions; this file covers the rest of the
-- functions, hostile shapes and sizes, and what PostgreSQL itself refuses
-- before velt runs.
SELECT standin_reset();
-- operations queued from here on must not exist (earlier tests may have left some)
SELECT coalesce(max(id), 0) AS last_op FROM velt.outbox \gset

-- 1. Items of the wrong JSON type: a JSON null, a number, a boolean, a
-- string or an object where an array of objects belongs
SELECT * FROM try($$SELECT * FROM velt_add_users('o', 'null')$$);
SELECT * FROM try($$SELECT * FROM velt_add_organizations('42')$$);
SELECT * FROM try($$SELECT * FROM velt_update_organizations('true')$$);
SELECT * FROM try($$SELECT * FROM velt_add_documents('o', '"d1"')$$);
SELECT * FROM try($$SELECT * FROM velt_add_folders('o', '{"folderId": "f"}')$$);
SELECT * FROM try($$SELECT * FROM velt_add_folders('o', '[]')$$);

-- arrays whose elements are not objects
SELECT * FROM try($$SELECT * FROM velt_add_organizations('[null]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_documents('o', '[[{"documentId": "d"}]]')$$);
SELECT * FROM try($$SELECT * FROM velt_update_folders('o', '[{"folderId": "f"}, 1, 2]')$$);
SELECT * FROM try($$SELECT * FROM velt_update_users('o', '["u1"]')$$);

-- ID fields that are booleans, null, objects, arrays, numbers, or spelled wrong
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": true}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_organizations('[{"organizationId": null}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_documents('o', '[{"documentId": {"id": "d"}}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_folders('o', '[{"folderId": ["f"]}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_user_groups('o', '[{"groupId": 1.5}]')$$);
SELECT * FROM try($$SELECT * FROM velt_update_documents('o', '[{"documentId": "d1"}, {"documentid": "d2"}]')$$);
-- jsonb keeps the last of two equal keys, so the number is what velt sees
SELECT * FROM try($$SELECT * FROM velt_update_organizations('[{"organizationId": "a", "organizationId": 5}]')$$);

-- 2. NULL in every argument that must not be NULL (not in validation.sql),
-- for the C functions and for the SQL functions over velt_request
SELECT c.call, t.state, t.message, t.hint
FROM (VALUES
	(1, 'velt_delete_users(NULL, ARRAY[''a''])'),
	(2, 'velt_add_users_to_group(NULL, ''g'', ARRAY[''a''])'),
	(3, 'velt_add_users_to_group(''o'', ''g'', NULL)'),
	(4, 'velt_delete_users_from_group(NULL, ''g'', delete_all => true)'),
	(5, 'velt_delete_users_from_group(''o'', NULL, delete_all => true)'),
	(6, 'velt_delete_users_from_group(''o'', ''g'', NULL, NULL)'),
	(7, 'velt_add_user_groups(''o'', NULL)'),
	(8, 'velt_add_organizations(NULL)'),
	(9, 'velt_update_organizations(NULL)'),
	(10, 'velt_delete_organizations(NULL)'),
	(11, 'velt_update_organizations_disabled(NULL, true)'),
	(12, 'velt_add_documents(NULL, ''[{"documentId": "d"}]'')'),
	(13, 'velt_add_documents(''o'', NULL)'),
	(14, 'velt_update_documents(''o'', NULL)'),
	(15, 'velt_delete_documents(NULL, ARRAY[''d''])'),
	(16, 'velt_delete_documents(''o'', NULL)'),
	(17, 'velt_update_documents_access(''o'', NULL, ''public'')'),
	(18, 'velt_update_documents_disabled(''o'', ARRAY[''d''], NULL)'),
	(19, 'velt_update_users(NULL, test_users(''a''))'),
	(20, 'velt_update_users(''o'', NULL)'),
	(21, 'velt_get_documents(NULL)'),
	(22, 'velt_add_folders(NULL, ''[{"folderId": "f"}]'')'),
	(23, 'velt_update_folders(''o'', NULL)'),
	(24, 'velt_update_folders_access(NULL, ARRAY[''f''], ''public'')'),
	(25, 'velt_update_folders_access(''o'', NULL, ''public'')'),
	(26, 'velt_delete_folder(''o'', NULL)'),
	(27, 'velt_move_documents(''o'', ARRAY[''d''], NULL)'),
	(28, 'velt_move_documents(''o'', NULL, ''f'')'),
	(29, 'velt_add_permissions(''u'', NULL)'),
	(30, 'velt_remove_permissions(NULL, ''[{"type": "document", "id": "d"}]'')'),
	(31, 'velt_get_permissions(''o'', NULL)'),
	(32, 'velt_get_permissions(NULL, ARRAY[''u''])'),
	(33, 'velt_generate_token(NULL, ''{"name": "n"}'')'),
	(34, 'velt_delete_user_data(NULL)'),
	(35, 'velt_get_user_data(''o'', NULL)'),
	(36, 'velt_get_folders(NULL)'),
	(37, 'velt_request(''users/add'', ''{}'', ''null'')')
) AS c(n, call)
CROSS JOIN LATERAL try('SELECT * FROM ' || c.call) AS t
ORDER BY c.n;
SELECT standin_stats()->'requests' AS requests_sent;

-- 3. SQL arrays: NULL elements (any lower bound), empty arrays, 2-D and
-- 3-D arrays, for writes and read filters
SELECT * FROM try($$SELECT * FROM velt_update_organizations_disabled(ARRAY['a', 'b', NULL], true)$$);
SELECT * FROM try($$SELECT * FROM velt_delete_documents('o', '[-2:-1]={d1,NULL}')$$);
SELECT * FROM try($$SELECT * FROM velt_update_folders_access('o', '{}', 'public')$$);
SELECT * FROM try($$SELECT * FROM velt_update_documents_access('o', ARRAY[['a', 'b'], ['c', 'd']], 'public')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', '{{{a}},{{NULL}}}')$$);
SELECT * FROM try($$SELECT * FROM velt_get_users('o', ARRAY[['u']])$$);
SELECT * FROM try($$SELECT * FROM velt_get_documents('o', ARRAY['d', NULL])$$);
SELECT * FROM try($$SELECT * FROM velt_get_users('o', ARRAY[''])$$);
SELECT * FROM try($$SELECT * FROM velt_get_organizations(ARRAY['x', 'y', 'x'])$$);
-- a JSON array where a SQL array belongs: PostgreSQL refuses it
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', '["a", "b"]')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', '["a", "b"]'::jsonb)$$);

-- 4. Huge arrays, 200,000 items with one bad item near the end: the error
-- names its index, and nothing is sent
SELECT * FROM try($$SELECT * FROM velt_add_users('o',
	(SELECT jsonb_agg(CASE WHEN g = 199990 THEN jsonb_build_object('name', 'no id')
						   ELSE jsonb_build_object('userId', 'u' || g) END ORDER BY g)
	 FROM generate_series(0, 199999) AS g))$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o',
	(SELECT array_agg(CASE WHEN g = 199999 THEN NULL ELSE 'u' || g END ORDER BY g)
	 FROM generate_series(1, 200000) AS g))$$);
SELECT * FROM try($$SELECT * FROM velt_add_users_to_group('o', 'g',
	(SELECT array_agg(CASE WHEN g = 200000 THEN 'u1' ELSE 'u' || g END ORDER BY g)
	 FROM generate_series(1, 200000) AS g))$$);
SELECT * FROM try($$SELECT * FROM velt_delete_organizations(
	(SELECT array_agg(CASE WHEN g = 199995 THEN E'org\t' || g ELSE 'org' || g END ORDER BY g)
	 FROM generate_series(1, 200000) AS g))$$);
SELECT * FROM try($$SELECT * FROM velt_get_organizations(
	(SELECT array_agg('org' || g) || ARRAY[NULL] FROM generate_series(1, 199999) AS g))$$);
SELECT standin_stats()->'requests' AS requests_sent;

-- 5. 1 MB strings: no length limit applies (Velt documents none), but a bad
-- one is still refused, and messages quote at most 64 characters of an ID
SELECT * FROM try($$SELECT * FROM velt_add_users(repeat('o', 1048576) || E'\n', test_users('a'))$$);
SELECT * FROM try($$SELECT * FROM velt_update_folders('o',
	jsonb_build_array(jsonb_build_object('folderId', repeat('f', 1048576) || chr(1))))$$);
SELECT * FROM try($$SELECT * FROM velt_add_users_to_group('o', repeat('g', 1048576) || chr(127), ARRAY['a'])$$);
SELECT state, message, length(message) AS message_length
FROM try($$SELECT * FROM velt_delete_users('o', ARRAY[repeat('u', 1048576), 'v', repeat('u', 1048576)])$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'),
	document => repeat('d', 1048576), folder => repeat('f', 1048576))$$);
-- a 1 MB document name is not an error; the item without an ID is
SELECT * FROM try($$SELECT * FROM velt_add_documents('o', jsonb_build_array(
	jsonb_build_object('documentId', 'd1', 'documentName', repeat('n', 1048576)),
	jsonb_build_object('documentName', 'no id')))$$);
-- and a 1 MB ID is accepted (queued here, then rolled back)
BEGIN;
SELECT velt_enqueue_delete_users('o', ARRAY[repeat('u', 1048576)]) > :last_op AS queued;
ROLLBACK;

-- 6. Invalid Unicode and UTF-8: PostgreSQL's jsonb and text input refuse
-- these while parsing the arguments, before velt runs
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "\ud800"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "\udc00x"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "\ud800\ud800"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "a\u0000b"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "\u12"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "\x41"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', convert_from('\x5b7b22757365724964223a2022ff227d5d', 'UTF8')::jsonb)$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY['a' || chr(0)])$$);

-- 7. Control characters in IDs (tab, line feed, carriage return, U+0001,
-- U+001F, DEL), in every kind of ID argument; the DETAIL gives the
-- character's position, counted in characters
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "a\tb"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "é\nx"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY['ok', E'line\n'])$$);
SELECT * FROM try($$SELECT * FROM velt_add_organizations('[{"organizationId": "\u0001org"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_documents('o', ARRAY['d' || chr(127)])$$);
SELECT * FROM try($$SELECT * FROM velt_add_user_groups('o', '[{"groupId": "g\u001f"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'), folder => E'f\r')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY['a'], document => E'\td')$$);
SELECT * FROM try($$SELECT * FROM velt_get_documents(E'o\n')$$);
SELECT * FROM try($$SELECT * FROM velt_get_organizations(ARRAY[E'x\ty'])$$);
-- characters above U+007F are not refused: users[0] passes, users[1] fails
SELECT * FROM try($$SELECT * FROM velt_add_users('o', '[{"userId": "a\u0085\u00a0\u2028"}, {"name": "no id"}]')$$);
SELECT standin_stats()->'requests' AS requests_sent;

-- 8. Deep nesting, with objects as well as arrays; PostgreSQL itself
-- refuses a value nested 100,000 levels deep
SELECT * FROM try(format($$SELECT * FROM velt_add_user_groups('o', '[{"groupId": "g", "x": %s1%s}]')$$,
						 repeat('{"a": ', 300), repeat('}', 300)));
SELECT * FROM try(format($$SELECT * FROM velt_add_organizations('[{"organizationId": "a"}, {"organizationId": "b", "m": %s1%s}]')$$,
						 repeat('{"a": [', 128), repeat(']}', 128)));
SELECT state, message FROM try(format($$SELECT * FROM velt_add_users('o', '[{"userId": "a", "x": %s1%s}]')$$,
									  repeat('[', 100000), repeat(']', 100000)));

-- 9. options: not an object, or setting a key that an argument sets (even
-- an argument left NULL)
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'), options => 'null')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY['a'], options => '"x"')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users('o', ARRAY['a'], options => '{"userIds": ["b"]}')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'), options => '{"documentId": "d"}')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users('o', test_users('a'), options => '{"folderId": "f"}')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users_from_group('o', 'g', delete_all => true, options => '{"deleteAll": false}')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_users_from_group('o', 'g', ARRAY['a'], options => '{"deleteAll": true}')$$);
SELECT * FROM try($$SELECT * FROM velt_add_users_to_group('o', 'g', ARRAY['a'], '{"organizationUserGroupId": "h"}')$$);
SELECT * FROM try($$SELECT * FROM velt_update_organizations_disabled(ARRAY['a'], true, '{"disabled": false}')$$);
SELECT * FROM try($$SELECT * FROM velt_add_organizations('[{"organizationId": "a"}]', '{"organizations": []}')$$);
SELECT * FROM try($$SELECT * FROM velt_update_documents_access('o', ARRAY['d'], 'public', '{"accessType": "restricted"}')$$);
SELECT * FROM try($$SELECT * FROM velt_get_documents('o', options => '{"documentIds": ["d"]}')$$);
SELECT * FROM try($$SELECT * FROM velt_get_users('o', options => '{"pageToken": "t"}')$$);
SELECT * FROM try($$SELECT * FROM velt_get_users('o', max_items => -1)$$);
SELECT * FROM try($$SELECT * FROM velt_process_outbox(1, 'NaN')$$);

-- 10. The enqueue functions refuse the same input and queue nothing
SELECT * FROM try($$SELECT velt_enqueue_add_users('o', '{"userId": "a"}')$$);
SELECT * FROM try($$SELECT velt_enqueue_add_users('o', '[{"userId": "a\nb"}]')$$);
SELECT * FROM try($$SELECT velt_enqueue_add_users('o', test_users('a'), document => '')$$);
SELECT * FROM try($$SELECT velt_enqueue_add_users('o', test_users('a'), options => '{"users": []}')$$);
SELECT * FROM try($$SELECT velt_enqueue_delete_users('o', ARRAY[['a'], ['b']])$$);
SELECT * FROM try($$SELECT velt_enqueue_delete_users(E'o\t', ARRAY['a'])$$);
SELECT * FROM try($$SELECT velt_enqueue_add_user_groups('o', '[{"groupId": null}]')$$);
SELECT * FROM try($$SELECT velt_enqueue_add_user_groups('o', '[{"groupId": "g"}]', '{"organizationId": "p"}')$$);
SELECT * FROM try($$SELECT velt_enqueue_add_users_to_group('o', 'g', ARRAY['a', NULL])$$);
SELECT * FROM try($$SELECT velt_enqueue_add_users_to_group('o', 'g', ARRAY[]::text[])$$);
SELECT * FROM try($$SELECT velt_enqueue_delete_users_from_group('o', NULL, delete_all => true)$$);
SELECT * FROM try($$SELECT velt_enqueue_delete_users_from_group('o', 'g')$$);
SELECT * FROM try(format($$SELECT velt_enqueue_add_users('o', '[{"userId": "a", "x": %s1%s}]')$$,
						 repeat('[', 255), repeat(']', 255)));
SELECT * FROM try($$SELECT velt_enqueue_add_users('o',
	(SELECT jsonb_agg(jsonb_build_object('userId', CASE WHEN g = 199998 THEN 'u' || g || chr(10) ELSE 'u' || g END) ORDER BY g)
	 FROM generate_series(0, 199999) AS g))$$);
SELECT count(*) AS queued FROM velt.outbox WHERE id > :last_op;

-- 11. Trigger functions set up wrongly, or fed bad IDs: the INSERT fails,
-- and the row is neither stored nor queued
CREATE TABLE bi_users (id text, org text);
CREATE TRIGGER bi1 BEFORE INSERT ON bi_users FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=id');
SELECT * FROM try($$INSERT INTO bi_users VALUES ('u1', 'o')$$);
DROP TRIGGER bi1 ON bi_users;
CREATE TRIGGER bi2 AFTER INSERT ON bi_users FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization', 'user_id=id');
SELECT * FROM try($$INSERT INTO bi_users VALUES ('u1', 'o')$$);
DROP TRIGGER bi2 ON bi_users;
CREATE TRIGGER bi3 AFTER INSERT ON bi_users FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=');
SELECT * FROM try($$INSERT INTO bi_users VALUES ('u1', 'o')$$);
DROP TRIGGER bi3 ON bi_users;
CREATE TRIGGER bi4 AFTER INSERT ON bi_users FOR EACH ROW
	EXECUTE FUNCTION velt_users_trigger('organization=org', 'user_id=id');
SELECT * FROM try($$INSERT INTO bi_users VALUES ('u1', '')$$);
SELECT * FROM try($$SELECT velt_users_trigger()$$);
SELECT * FROM try($$SELECT velt_group_members_trigger()$$);
CREATE TABLE bi_members (org text, grp text, member text);
CREATE TRIGGER bi_members_velt AFTER INSERT ON bi_members FOR EACH ROW
	EXECUTE FUNCTION velt_group_members_trigger('organization=org', 'group=grp', 'user_id=member');
SELECT * FROM try($$INSERT INTO bi_members VALUES ('o', 'g', E'u\n')$$);
SELECT * FROM try($$INSERT INTO bi_members VALUES ('o', E'g\t', 'u')$$);
SELECT (SELECT count(*) FROM bi_users) AS users_stored, (SELECT count(*) FROM bi_members) AS members_stored,
	   (SELECT count(*) FROM velt.outbox WHERE id > :last_op) AS queued;
DROP TABLE bi_users, bi_members;

-- none of the above reached Velt or the outbox
SELECT standin_stats()->'requests' AS requests_sent;
SELECT count(*) AS queued FROM velt.outbox WHERE id > :last_op;
