-- velt 1.0: the Velt REST API as SQL functions.
\echo Use "CREATE EXTENSION velt" to load this file. \quit

-- Every function returns one row per ID, in the order of the input:
--   id       the caller's ID (the key in Velt's result.data)
--   success  Velt's verdict for it; NULL when Velt said nothing about it
--   velt_id  Velt's own id for it, when Velt gives one
--   message  Velt's message for it
--   result   that ID's whole result object

CREATE FUNCTION velt_add_users(
	org text,
	users jsonb,
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_add_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_add_users(text, jsonb, text, text, jsonb) IS
'Adds or updates users in an organization, or in one document or folder of it (POST users/add)';

CREATE FUNCTION velt_delete_users(
	org text,
	user_ids text[],
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_delete_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_delete_users(text, text[], text, text, jsonb) IS
'Removes users from an organization, or from one document or folder of it (POST users/delete)';

CREATE FUNCTION velt_add_user_groups(
	org text,
	groups jsonb,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_add_user_groups'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_add_user_groups(text, jsonb, jsonb) IS
'Adds user groups to an organization (POST organizations/usergroups/add)';

CREATE FUNCTION velt_add_users_to_group(
	org text,
	group_id text,
	user_ids text[],
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_add_users_to_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_add_users_to_group(text, text, text[], jsonb) IS
'Adds organization users to a user group (POST organizations/usergroups/users/add)';

CREATE FUNCTION velt_delete_users_from_group(
	org text,
	group_id text,
	user_ids text[] DEFAULT NULL,
	delete_all boolean DEFAULT false,
	options jsonb DEFAULT NULL)
RETURNS TABLE(id text, success boolean, velt_id text, message text, result jsonb)
AS 'MODULE_PATHNAME', 'velt_delete_users_from_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 100;

COMMENT ON FUNCTION velt_delete_users_from_group(text, text, text[], boolean, jsonb) IS
'Removes users, or with delete_all every user, from a user group (POST organizations/usergroups/users/delete)';

-- Calling Velt spends the API key's quota and changes Velt's data: only
-- roles the owner grants to may do it.
REVOKE ALL ON FUNCTION velt_add_users(text, jsonb, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_users(text, text[], text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_user_groups(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_add_users_to_group(text, text, text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_delete_users_from_group(text, text, text[], boolean, jsonb) FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Durable delivery at commit: the outbox.
--
-- velt_enqueue_* write one operation per call into velt.outbox inside the
-- caller's transaction (WAL-logged, so a crash loses nothing committed).
-- velt_process_outbox and the background worker deliver committed
-- operations, coalescing those with the same endpoint and target into
-- requests of up to velt.batch_size items, in commit order per ID.
-- ---------------------------------------------------------------------

CREATE SCHEMA velt;
REVOKE ALL ON SCHEMA velt FROM PUBLIC;
COMMENT ON SCHEMA velt IS 'Internal tables of the velt extension (outbox, results)';

-- Commit order: every enqueuing transaction gets one row here, stamped with
-- a sequence number by a deferred trigger as it commits.  Operations are
-- delivered in (seq, id) order, so two transactions touching the same ID
-- are delivered in the order they committed, not the order they began.
CREATE SEQUENCE velt.commit_seq;
CREATE TABLE velt.commit_order (
	xact xid8 PRIMARY KEY,
	seq bigint
);

-- SECURITY DEFINER: it runs at the commit of whoever enqueued, and only
-- the extension's owner may write velt.commit_order.
CREATE FUNCTION velt.stamp_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
	UPDATE velt.commit_order SET seq = nextval('velt.commit_seq') WHERE xact = NEW.xact;
	RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER stamp_commit AFTER INSERT ON velt.commit_order
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION velt.stamp_commit();

CREATE TABLE velt.outbox (
	id bigserial PRIMARY KEY,
	xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
	endpoint text NOT NULL,				-- the endpoint's path, e.g. users/add
	target text NOT NULL,				-- the organization
	fixed jsonb NOT NULL,				-- data members besides the items
	items jsonb,						-- the items; NULL for delete_all
	ids text[] NOT NULL,				-- the ID of each item
	state text NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'dead', 'rejected')),
	attempts integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_error text,
	enqueued_at timestamptz NOT NULL DEFAULT now(),
	enqueued_by name NOT NULL DEFAULT current_user
);
CREATE INDEX outbox_due ON velt.outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_xact ON velt.outbox (xact);

CREATE TABLE velt.results (
	operation_id bigint NOT NULL,
	endpoint text NOT NULL,
	id text NOT NULL,
	success boolean,
	velt_id text,
	message text,
	result jsonb,
	attempts integer NOT NULL,
	last_error text,
	enqueued_at timestamptz NOT NULL,
	finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (operation_id, id)
);
CREATE INDEX results_finished ON velt.results (finished_at);

REVOKE ALL ON ALL TABLES IN SCHEMA velt FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA velt FROM PUBLIC;
REVOKE ALL ON FUNCTION velt.stamp_commit() FROM PUBLIC;

CREATE FUNCTION velt_enqueue_add_users(
	org text,
	users jsonb,
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_add_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_enqueue_delete_users(
	org text,
	user_ids text[],
	document text DEFAULT NULL,
	folder text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_delete_users'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_enqueue_add_user_groups(
	org text,
	groups jsonb,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_add_user_groups'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_enqueue_add_users_to_group(
	org text,
	group_id text,
	user_ids text[],
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_add_users_to_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_enqueue_delete_users_from_group(
	org text,
	group_id text,
	user_ids text[] DEFAULT NULL,
	delete_all boolean DEFAULT false,
	options jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'velt_enqueue_delete_users_from_group'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

CREATE FUNCTION velt_process_outbox(
	max_items integer DEFAULT 10000,
	max_seconds double precision DEFAULT 30)
RETURNS TABLE(requests integer, delivered bigint, failed bigint, retried bigint, seconds double precision)
AS 'MODULE_PATHNAME', 'velt_process_outbox'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog;

COMMENT ON FUNCTION velt_process_outbox(integer, double precision) IS
'Delivers due outbox operations, bounded in items and time; safe to run concurrently and from pg_cron';

CREATE FUNCTION velt_retry_failed(
	endpoint text DEFAULT NULL,
	include_rejected boolean DEFAULT false)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
	WITH redriven AS (
		UPDATE velt.outbox o
		SET state = 'pending', attempts = 0, next_attempt_at = clock_timestamp()
		WHERE (o.state = 'dead' OR (include_rejected AND o.state = 'rejected'))
		  AND (velt_retry_failed.endpoint IS NULL OR o.endpoint = velt_retry_failed.endpoint)
		RETURNING o.id
	)
	SELECT count(*) FROM redriven
$$;

COMMENT ON FUNCTION velt_retry_failed(text, boolean) IS
'Puts dead-lettered operations (and with include_rejected, rejected ones) back in the queue; returns how many';

CREATE VIEW velt_outbox_status AS
	SELECT endpoint, state,
		   count(*) AS operations,
		   sum(cardinality(ids)) AS items,
		   min(enqueued_at) AS oldest_enqueued_at,
		   CASE WHEN state = 'pending' THEN clock_timestamp() - min(enqueued_at) END AS oldest_pending_age,
		   min(next_attempt_at) FILTER (WHERE state = 'pending') AS next_attempt_at
	FROM velt.outbox
	GROUP BY endpoint, state;

CREATE VIEW velt_results AS
	SELECT operation_id, endpoint, id, success, velt_id, message, result,
		   attempts, last_error, enqueued_at, finished_at
	FROM velt.results;

REVOKE ALL ON velt_outbox_status, velt_results FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_add_users(text, jsonb, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_delete_users(text, text[], text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_add_user_groups(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_add_users_to_group(text, text, text[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_enqueue_delete_users_from_group(text, text, text[], boolean, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_process_outbox(integer, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION velt_retry_failed(text, boolean) FROM PUBLIC;
