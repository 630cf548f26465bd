/*-------------------------------------------------------------------------
 *
 * databases.c
 *		Statements that need a database free of velt's worker, and
 *		CREATE EXTENSION velt waking the launcher.
 *
 * DROP DATABASE, ALTER DATABASE ... RENAME, ALTER DATABASE ... SET
 * TABLESPACE and CREATE DATABASE ... TEMPLATE x refuse to run while
 * another session is connected to the database; PostgreSQL waits a few
 * seconds for such sessions to end, then fails with "database ... is being
 * accessed by other users".  velt's delivery worker is such a session.
 * Before the statement runs, this hook asks the database's worker to exit
 * (SIGTERM: its requests in flight stop at the next interrupt check) and
 * holds the launcher off the database until the statement ends, however
 * long it waits for locks first, so the worker is gone when PostgreSQL
 * looks.  If the statement fails, the launcher starts the worker again
 * when it ends; if it succeeds, a dropped database is no longer listed.  Only a
 * role that may run the statement stops the worker: the database's owner
 * (DROP, RENAME, SET TABLESPACE), or a role with CREATEDB that may copy
 * the template; anyone else's statement fails as it would without velt,
 * and delivery goes on.
 *
 * CREATE EXTENSION velt wakes the launcher when its transaction commits,
 * so the new database's worker starts at once rather than at the next
 * rescan.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/syscache.h"

#include "databases.h"
#include "pg_compat.h"
#include "workers.h"

/*
 * The longest the launcher leaves a database alone after such a statement
 * began.  The hold ends with the statement; this bounds it when the
 * backend exits (FATAL) before it can end it, and when the statement
 * waits for locks longer (PostgreSQL then finds the worker back).
 */
#define VELT_DATABASE_HOLD_MS 60000

static ProcessUtility_hook_type prev_process_utility = NULL;

/* Set by CREATE EXTENSION velt, consumed at the end of the transaction. */
static bool wake_launcher_at_commit = false;

/* The value of option name among a statement's DefElem options, or NULL. */
static const char *
option_value(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, name) == 0 && def->arg != NULL)
			return defGetString(def);
	}
	return NULL;
}

/*
 * The database a statement needs free of other sessions, or NULL: DROP
 * DATABASE, ALTER DATABASE ... RENAME or SET TABLESPACE, and CREATE
 * DATABASE's template (template1 unless named).
 */
static const char *
database_to_free(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return ((DropdbStmt *) stmt)->dbname;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
				return ((RenameStmt *) stmt)->subname;
			return NULL;
		case T_AlterDatabaseStmt:
			if (option_value(((AlterDatabaseStmt *) stmt)->options, "tablespace"))
				return ((AlterDatabaseStmt *) stmt)->dbname;
			return NULL;
		case T_CreatedbStmt:
			{
				const char *template = option_value(((CreatedbStmt *) stmt)->options, "template");

				return template ? template : "template1";
			}
		default:
			return NULL;
	}
}

/*
 * Whether the current role may run stmt on database dboid, as PostgreSQL
 * will check it: CREATE DATABASE needs CREATEDB and a template that is
 * marked as one or owned; the others need ownership.
 */
static bool
may_free(Node *stmt, Oid dboid)
{
	Oid			role = GetUserId();
	HeapTuple	tup;
	bool		is_template;

	if (!IsA(stmt, CreatedbStmt))
		return velt_database_ownercheck(dboid, role);
	if (!have_createdb_privilege())
		return false;
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (!HeapTupleIsValid(tup))
		return false;
	is_template = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
	ReleaseSysCache(tup);
	return is_template || velt_database_ownercheck(dboid, role);
}

/* Whether the statement is CREATE EXTENSION velt. */
static bool
creates_velt(Node *stmt)
{
	return IsA(stmt, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) stmt)->extname, "velt") == 0;
}

/* Runs the statement through the next hook or PostgreSQL itself. */
static void
run_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/*
 * ProcessUtility hook: frees the database first and holds the launcher off
 * it until the statement ends, or notes the wake-up of CREATE EXTENSION.
 */
static void
velt_process_utility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	const char *dbname = database_to_free(stmt);
	Oid			held = InvalidOid;

	if (dbname != NULL && velt_workers_available())
	{
		Oid			dboid = get_database_oid(dbname, true);

		if (OidIsValid(dboid) && may_free(stmt, dboid) &&
			velt_workers_stop_database(dboid, VELT_DATABASE_HOLD_MS))
			held = dboid;
	}
	if (creates_velt(stmt))
		wake_launcher_at_commit = true;

	if (!OidIsValid(held))
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}
	PG_TRY();
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		velt_workers_release_database(held);
	}
	PG_END_TRY();
}

/* Wakes the launcher when a transaction that ran CREATE EXTENSION velt commits. */
static void
databases_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (wake_launcher_at_commit)
				velt_workers_wake_launcher(true);
			wake_launcher_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
			wake_launcher_at_commit = false;
			break;
		default:
			break;
	}
}

void
velt_databases_register_hooks(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = velt_process_utility;
	RegisterXactCallback(databases_xact_callback, NULL);
}
