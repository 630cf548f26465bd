-- velt demo: a users table whose trigger keeps Velt in sync, then groups
-- and membership.  Run by scripts/demo.sh against the Velt stand-in.
\set ON_ERROR_STOP on
\pset footer off
CREATE EXTENSION velt;

\echo
\echo '== A users table; a trigger adds every new or changed user to Velt'
CREATE TABLE app_users (
	user_id text PRIMARY KEY,
	org text NOT NULL,
	name text NOT NULL,
	email text NOT NULL
);

CREATE FUNCTION app_users_to_velt() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM velt_add_users(NEW.org,
		jsonb_build_array(jsonb_build_object('userId', NEW.user_id,
											 'name', NEW.name, 'email', NEW.email)))
	LOOP
		RAISE NOTICE 'Velt: % -> success=% (%), velt_id=%', r.id, r.success, r.message, r.velt_id;
	END LOOP;
	RETURN NEW;
END $$;

CREATE TRIGGER app_users_velt AFTER INSERT OR UPDATE ON app_users
	FOR EACH ROW EXECUTE FUNCTION app_users_to_velt();

INSERT INTO app_users VALUES
	('ada', 'acme', 'Ada Lovelace', 'ada@acme.example'),
	('grace', 'acme', 'Grace Hopper', 'grace@acme.example'),
	('linus', 'acme', 'Linus Torvalds', 'linus@acme.example');

\echo
\echo '== Many users in one call (one request per velt.batch_size users)'
SELECT * FROM velt_add_users('acme', '[
	{"userId": "ken", "name": "Ken Thompson", "email": "ken@acme.example"},
	{"userId": "dmr", "name": "Dennis Ritchie", "email": "dmr@acme.example", "accessRole": "viewer"}]');

\echo
\echo '== A reviewer who sees one document only'
SELECT id, success, message
FROM velt_add_users('acme', '[{"userId": "rita", "name": "Rita Reviewer", "email": "rita@acme.example"}]',
					document => 'spec-42');

\echo
\echo '== User groups and membership'
SELECT id, success, velt_id, message
FROM velt_add_user_groups('acme', '[{"groupId": "kernel", "groupName": "Kernel team"},
									{"groupId": "compilers", "groupName": "Compilers"}]');
SELECT id, success, message FROM velt_add_users_to_group('acme', 'kernel', ARRAY['linus', 'ken', 'dmr']);
SELECT id, success, message FROM velt_add_users_to_group('acme', 'compilers', ARRAY['grace', 'rita']);
SELECT id, success, message FROM velt_delete_users_from_group('acme', 'kernel', ARRAY['dmr']);

\echo
\echo '== Removing users; an unknown ID is a row with success = false, not an error'
SELECT id, success, message FROM velt_delete_users('acme', ARRAY['ken', 'nobody']);

\echo
\echo '== Bad input is refused before anything is sent'
\set ON_ERROR_STOP off
SELECT * FROM velt_add_users('acme', '[{"userId": "x"}, {"userId": "x"}]');
\set ON_ERROR_STOP on
