/* velt--1.1--1.2.sql: a description on every object of the extension */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION velt UPDATE TO '1.2'" to load this file. \quit

-- 1.0 and 1.1 described 25 of the 57 objects.  \df+, \dt+ and \dv+, and
-- any tool that reads pg_description, now say what each one is.  Nothing
-- else changes: no object is added, removed or renamed.

-- ---------------------------------------------------------------------
-- Synchronous calls (C): one request per batch, one row per ID
-- ---------------------------------------------------------------------
COMMENT ON FUNCTION velt_update_users(text, jsonb, text, text, jsonb) IS
'Updates users of an organization, or of one document or folder of it (POST users/update)';
COMMENT ON FUNCTION velt_get_users(text, text[], text, text, integer, jsonb) IS
'Reads users of an organization, document or folder, all or by ID, as typed rows, following pages (POST users/get)';
COMMENT ON FUNCTION velt_add_documents(text, jsonb, text, jsonb) IS
'Adds documents to an organization, optionally into a folder (POST organizations/documents/add)';
COMMENT ON FUNCTION velt_update_documents(text, jsonb, jsonb) IS
'Updates documents of an organization (POST organizations/documents/update)';
COMMENT ON FUNCTION velt_delete_documents(text, text[], jsonb) IS
'Deletes documents of an organization (POST organizations/documents/delete)';
COMMENT ON FUNCTION velt_update_documents_access(text, text[], text, jsonb) IS
'Sets the access type of documents (POST organizations/documents/access/update)';
COMMENT ON FUNCTION velt_update_documents_disabled(text, text[], boolean, jsonb) IS
'Disables or enables documents (POST organizations/documents/access/disablestate/update)';
COMMENT ON FUNCTION velt_get_documents(text, text[], text, integer, jsonb) IS
'Reads documents of an organization or folder, all or by ID, as typed rows, following pages (POST organizations/documents/get)';
COMMENT ON FUNCTION velt_add_folders(text, jsonb, jsonb) IS
'Adds folders to an organization (POST organizations/folders/add)';
COMMENT ON FUNCTION velt_update_folders(text, jsonb, jsonb) IS
'Updates folders of an organization (POST organizations/folders/update)';
COMMENT ON FUNCTION velt_update_folders_access(text, text[], text, jsonb) IS
'Sets the access type of folders (POST organizations/folders/access/update)';

-- ---------------------------------------------------------------------
-- Enqueueing (C): writes into velt.outbox, delivered after COMMIT
-- ---------------------------------------------------------------------
COMMENT ON FUNCTION velt_enqueue_add_users(text, jsonb, text, text, jsonb) IS
'Queues velt_add_users for delivery after this transaction commits; returns the operation''s id in velt.outbox';
COMMENT ON FUNCTION velt_enqueue_delete_users(text, text[], text, text, jsonb) IS
'Queues velt_delete_users for delivery after this transaction commits; returns the operation''s id in velt.outbox';
COMMENT ON FUNCTION velt_enqueue_add_user_groups(text, jsonb, jsonb) IS
'Queues velt_add_user_groups for delivery after this transaction commits; returns the operation''s id in velt.outbox';
COMMENT ON FUNCTION velt_enqueue_add_users_to_group(text, text, text[], jsonb) IS
'Queues velt_add_users_to_group for delivery after this transaction commits; returns the operation''s id in velt.outbox';
COMMENT ON FUNCTION velt_enqueue_delete_users_from_group(text, text, text[], boolean, jsonb) IS
'Queues velt_delete_users_from_group for delivery after this transaction commits; returns the operation''s id in velt.outbox';

-- ---------------------------------------------------------------------
-- The outbox and what users read of it
-- ---------------------------------------------------------------------
COMMENT ON VIEW velt_outbox_status IS
'The outbox at a glance: operations and items per endpoint and state, the oldest pending age and the next attempt';
COMMENT ON VIEW velt_results IS
'Per-ID outcomes of delivered outbox operations, kept for velt.result_retention (read this view, not the table velt.results)';
COMMENT ON COLUMN velt_results.operation_id IS 'The operation''s id in velt.outbox (what velt_enqueue_* returned)';
COMMENT ON COLUMN velt_results.id IS 'The caller''s ID of the item (a user, group member, ...)';
COMMENT ON COLUMN velt_results.success IS 'What Velt said of this ID; NULL when Velt said nothing';
COMMENT ON COLUMN velt_results.velt_id IS 'Velt''s own id for the item, when it gave one';
COMMENT ON COLUMN velt_results.result IS 'Velt''s whole answer for this ID';
COMMENT ON COLUMN velt_results.attempts IS 'Requests it took';
COMMENT ON COLUMN velt_results.last_error IS 'Why the operation failed, for a rejected or dead-lettered one';

COMMENT ON TABLE velt.outbox IS
'Operations waiting for delivery (pending), dead-lettered after retries (dead) or refused by Velt (rejected); delivered ones are deleted';
COMMENT ON COLUMN velt.outbox.xact IS 'The enqueueing transaction; its commit position in velt.commit_order orders delivery';
COMMENT ON COLUMN velt.outbox.endpoint IS 'The endpoint''s path, e.g. users/add';
COMMENT ON COLUMN velt.outbox.target IS 'The organization the operation belongs to';
COMMENT ON COLUMN velt.outbox.fixed IS 'The request''s data members besides the items (document, folder, group, options)';
COMMENT ON COLUMN velt.outbox.items IS 'The items as sent, or NULL when ids or item_values hold them';
COMMENT ON COLUMN velt.outbox.ids IS 'The ID of each item; empty for delete_all and when item_values holds the items';
COMMENT ON COLUMN velt.outbox.item_values IS 'Users from a trigger, one row per user: userId, name, email, photoUrl, accessRole';
COMMENT ON COLUMN velt.outbox.state IS 'pending, dead (retries ran out) or rejected (Velt refused it)';
COMMENT ON COLUMN velt.outbox.next_attempt_at IS 'Not delivered before this time (backoff, Retry-After)';
COMMENT ON COLUMN velt.outbox.last_error IS 'The last failure: endpoint, HTTP status or transport reason, and Velt''s message';
COMMENT ON COLUMN velt.outbox.enqueued_by IS 'The session user who enqueued it';
COMMENT ON SEQUENCE velt.outbox_id_seq IS 'Ids of velt.outbox operations';

COMMENT ON TABLE velt.results IS
'Storage behind the velt_results view (per-ID outcomes of delivered operations); read the view';
COMMENT ON TABLE velt.commit_order IS
'The commit position of each transaction that enqueued, stamped at commit: delivery follows commit order, not enqueue order';
COMMENT ON SEQUENCE velt.commit_seq IS 'Commit positions for velt.commit_order';
COMMENT ON FUNCTION velt.stamp_commit() IS
'Deferred trigger on velt.commit_order: takes the transaction''s commit position as late as possible before COMMIT';

-- ---------------------------------------------------------------------
-- Internal helpers of the SQL functions and trigger functions
-- ---------------------------------------------------------------------
COMMENT ON FUNCTION velt.require(anyelement, text) IS
'Argument check inside velt''s SQL-language functions: refuses NULL, empty and malformed IDs (internal; not velt_request)';
COMMENT ON FUNCTION velt.optional(anyelement, text) IS
'As velt.require, but NULL (an argument left out) is allowed (internal)';
COMMENT ON FUNCTION velt.require_json(jsonb, text, text) IS
'As velt.require, for a jsonb argument that must be a JSON array or object (internal)';
COMMENT ON FUNCTION velt.reject_control_characters(text, text) IS
'Refuses text with a control character, with the C functions'' own message (internal)';
COMMENT ON FUNCTION velt.trigger_columns(text, oid, text[], text[], text[]) IS
'Reads a velt trigger''s key=column arguments and checks them against the table (internal)';
COMMENT ON FUNCTION velt.transition_tables(oid, name) IS
'The transition table names of a firing trigger (internal)';
COMMENT ON FUNCTION velt.members_sql(jsonb, text) IS
'The query reading organization, group and user from a transition table, for velt_group_members_trigger (internal)';
