/*-------------------------------------------------------------------------
 *
 * reconcile.c
 *		velt.reconcile_check_source: may the caller read what a reconcile
 *		reads?
 *
 * velt_reconcile_users and its siblings are SECURITY DEFINER: they read
 * the caller's table with the extension owner's rights (a superuser), so
 * they must first make sure the caller could read the same rows and
 * columns itself.  Inside a SECURITY DEFINER function current_user is the
 * owner; the role that runs the statement (current_user outside every
 * SECURITY DEFINER function, after SET ROLE) is only visible from C, as
 * the outer user ID.  So this check is in C; the rest of reconcile is SQL
 * (velt--1.1--1.2.sql).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pg_compat.h"

#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

#include "removals.h"

PG_FUNCTION_INFO_V1(velt_reconcile_check_source);

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
	Oid			role = GetOuterUserId();
	Datum	   *columns;
	bool	   *nulls;
	int			ncolumns;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("velt.reconcile_check_source: no argument may be NULL")));
	caller = text_to_cstring(PG_GETARG_TEXT_PP(0));
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
