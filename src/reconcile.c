/*-------------------------------------------------------------------------
 *
 * reconcile.c
 *		velt_reconcile_users and its siblings: the caller's rights checked,
 *		then the comparison run with the extension owner's.
 *
 * A reconcile reads the caller's table, reads Velt and may enqueue; the
 * last two take rights the caller need not have (the outbox, the
 * internal functions in schema velt).  A SECURITY DEFINER function cannot
 * tell who called it (inside another SECURITY DEFINER function, the
 * session's role is not the caller), so the public functions are C and
 * SECURITY INVOKER: velt_reconcile notes the calling role, switches to the
 * extension owner as a SECURITY DEFINER function would, and runs the SQL
 * body (velt.reconcile_<kind>_impl, velt--1.1--1.2.sql), whose first step,
 * velt.reconcile_check_source, checks that the noted role could read the
 * mapped columns itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pg_compat.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "removals.h"

PG_FUNCTION_INFO_V1(velt_reconcile_check_source);
PG_FUNCTION_INFO_V1(velt_reconcile);

/* The role that called the velt_reconcile_* running now, or InvalidOid. */
static Oid reconcile_caller = InvalidOid;

/* The arguments of every velt_reconcile_* and of its SQL body. */
#define RECONCILE_NARGS 5

/* The relation's schema-qualified, quoted name, as messages show it. */
static char *
relation_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * Refuses a relation whose reading could run code: a view runs its
 * functions as current_user (here the owner), a foreign table its wrapper.
 */
static void
check_relation_kind(const char *caller, Oid relid)
{
	char		kind = get_rel_relkind(relid);

	if (kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE || kind == RELKIND_MATVIEW)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("%s: %s is not a table or materialized view", caller, relation_name(relid)),
			 errhint("Reconcile the table itself; velt reads it with its owner's rights, "
					 "with which a view's functions would run.")));
}

/* Refuses a mapped column that the caller may not SELECT. */
static void
check_column(const char *caller, Oid relid, Oid role, const char *column)
{
	AttrNumber	attnum = get_attnum(relid, column);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s: column \"%s\" does not exist in table %s",
						caller, column, relation_name(relid))));
	if (pg_class_aclcheck(relid, role, ACL_SELECT) == ACLCHECK_OK ||
		pg_attribute_aclcheck(relid, attnum, role, ACL_SELECT) == ACLCHECK_OK)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s: permission denied for column \"%s\" of table %s",
					caller, column, relation_name(relid)),
			 errhint("Role \"%s\" needs SELECT on every mapped column.",
					 GetUserNameFromId(role, false))));
}

/*
 * velt.reconcile_check_source(caller, source, columns): raises unless the
 * role that runs the statement may read every one of columns of source in
 * full: a table or materialized view, SELECT on the columns, and no
 * row-level security that would hide rows from that role.
 */
Datum
velt_reconcile_check_source(PG_FUNCTION_ARGS)
{
	const char *caller;
	Oid			relid;
	Oid			role = reconcile_caller;
	Datum	   *columns;
	bool	   *nulls;
	int			ncolumns;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("velt.reconcile_check_source: no argument may be NULL")));
	caller = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s: velt.reconcile_check_source runs only inside velt_reconcile_*", caller)));
	relid = PG_GETARG_OID(1);
	if (get_rel_relkind(relid) == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s: relation with OID %u does not exist", caller, relid)));
	check_relation_kind(caller, relid);
	velt_check_local_relations(relid, caller);
	if (velt_namespace_aclcheck(get_rel_namespace(relid), role, ACL_USAGE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s: permission denied for schema %s", caller,
						get_namespace_name(get_rel_namespace(relid)))));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT,
					  &columns, &nulls, &ncolumns);
	for (int i = 0; i < ncolumns; i++)
	{
		if (nulls[i])
			continue;
		check_column(caller, relid, role, TextDatumGetCString(columns[i]));
	}
	if (check_enable_rls(relid, role, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s: row-level security of table %s applies to role \"%s\"",
						caller, relation_name(relid), GetUserNameFromId(role, false)),
				 errhint("velt reads the table with its owner's rights, which would pass the "
						 "policies; reconcile as a role they do not restrict.")));
	PG_RETURN_VOID();
}

/* Runs sql with the call's arguments and puts its rows into the result. */
static void
run_body(const char *sql, FunctionCallInfo fcinfo, ReturnSetInfo *rsinfo)
{
	Oid			types[RECONCILE_NARGS] = {REGCLASSOID, TEXTOID, TEXTARRAYOID, BOOLOID, INT4OID};
	Datum		values[RECONCILE_NARGS];
	char		nulls[RECONCILE_NARGS];
	int			rc;
	uint64		i;

	for (i = 0; i < RECONCILE_NARGS; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	SPI_connect();
	rc = SPI_execute_with_args(sql, RECONCILE_NARGS, types, values, nulls, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "velt reconcile failed: %s", SPI_result_code_string(rc));
	/* the tuplestore copies each row into its own memory */
	for (i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
	SPI_finish();
}

/*
 * velt_reconcile_users, _documents and _group_members (SECURITY INVOKER):
 * the body named after the function (velt.reconcile_<kind>_impl), run as
 * the function's owner, the extension's, with the caller noted for its
 * checks.
 */
Datum
velt_reconcile(PG_FUNCTION_ARGS)
{
	static const char prefix[] = "velt_reconcile_";
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = get_func_name(fcinfo->flinfo->fn_oid);
	HeapTuple	proc;
	Oid			owner;
	Oid			save_user;
	int			save_sec;
	Oid			save_caller = reconcile_caller;
	char	   *sql;

	if (name == NULL || strncmp(name, prefix, sizeof(prefix) - 1) != 0)
		elog(ERROR, "velt: function \"%s\" is no velt_reconcile_* function", name ? name : "?");
	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(proc))
		elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	owner = ((Form_pg_proc) GETSTRUCT(proc))->proowner;
	ReleaseSysCache(proc);
	sql = psprintf("SELECT * FROM velt.%s($1, $2, $3, $4, $5)",
				   quote_identifier(psprintf("reconcile_%s_impl", name + sizeof(prefix) - 1)));

	InitMaterializedSRF(fcinfo, 0);
	GetUserIdAndSecContext(&save_user, &save_sec);
	reconcile_caller = save_user;
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		run_body(sql, fcinfo, rsinfo);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
		reconcile_caller = save_caller;
	}
	PG_END_TRY();
	return (Datum) 0;
}
