-- The functions inside a trigger on a user table.
SELECT standin_reset();

CREATE TABLE app_users (
	id text PRIMARY KEY,
	org text NOT NULL,
	name text NOT NULL,
	email text NOT NULL
);

CREATE FUNCTION app_users_to_velt() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	IF TG_OP = 'DELETE' THEN
		SELECT * INTO r FROM velt_delete_users(OLD.org, ARRAY[OLD.id]);
		IF r.success IS NOT TRUE THEN
			RAISE WARNING 'Velt did not delete %: %', OLD.id, r.message;
		END IF;
		RETURN OLD;
	END IF;
	SELECT * INTO r FROM velt_add_users(NEW.org,
		jsonb_build_array(jsonb_build_object('userId', NEW.id, 'name', NEW.name, 'email', NEW.email)));
	IF r.success IS NOT TRUE THEN
		RAISE EXCEPTION 'Velt refused user %: %', NEW.id, r.message;
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER app_users_velt AFTER INSERT OR UPDATE OR DELETE ON app_users
	FOR EACH ROW EXECUTE FUNCTION app_users_to_velt();

INSERT INTO app_users VALUES
	('t1', 'trigco', 'Tina', 't1@example.test'),
	('t2', 'trigco', 'Tom', 't2@example.test');
UPDATE app_users SET name = 'Tommy' WHERE id = 't2';
DELETE FROM app_users WHERE id = 't1';

SELECT jsonb_pretty(standin_state()->'trigco'->'users');
SELECT seq, path, body->'data'->'users'->0->>'name' AS name FROM standin_requests() ORDER BY seq;

-- a Velt failure inside the trigger fails the statement, and the row is not inserted
SET velt.max_retries = 0;
SELECT standin_fault('{"status": 503}');
SELECT * FROM try($$INSERT INTO app_users VALUES ('t3', 'trigco', 'Tess', 't3@example.test')$$);
SELECT count(*) AS t3_rows FROM app_users WHERE id = 't3';
