-- User groups and membership.
SELECT standin_reset();

SELECT * FROM velt_add_users('acme', test_users('alice', 'bob', 'carol'));
SELECT id, success, message FROM velt_add_users('acme', test_users('docuser'), document => 'doc-1');

SELECT * FROM velt_add_user_groups('acme', '[{"groupId": "eng", "groupName": "Engineering"},
											  {"groupId": "ops"}]');
SELECT body FROM standin_requests() ORDER BY seq DESC LIMIT 1;

-- only organization users can join; unknown groups are per-ID failures
SELECT * FROM velt_add_users_to_group('acme', 'eng', ARRAY['alice', 'bob', 'docuser']);
SELECT * FROM velt_add_users_to_group('acme', 'nogroup', ARRAY['alice']);
SELECT body FROM standin_requests() WHERE path LIKE '%usergroups/users/add' ORDER BY seq LIMIT 1;
SELECT standin_state()->'acme'->'groups';

-- removing named members
SELECT * FROM velt_delete_users_from_group('acme', 'eng', ARRAY['bob', 'carol']);
SELECT body FROM standin_requests() ORDER BY seq DESC LIMIT 1;

-- removing everyone: rows for whatever Velt reports
SELECT id, success, message FROM velt_add_users_to_group('acme', 'ops', ARRAY['alice', 'carol']);
SELECT id, success, message FROM velt_delete_users_from_group('acme', 'ops', delete_all => true);
SELECT body FROM standin_requests() ORDER BY seq DESC LIMIT 1;
SELECT standin_state()->'acme'->'groups'->'ops'->'members' AS ops_members;

-- createOrganization reaches v2 for groups as well
SELECT id, success FROM velt_add_user_groups('freshco', '[{"groupId": "g"}]',
											 options => '{"createOrganization": true}');
SELECT body->'data'->'createOrganization' AS flag FROM standin_requests() ORDER BY seq DESC LIMIT 1;
