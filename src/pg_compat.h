/*-------------------------------------------------------------------------
 *
 * pg_compat.h
 *		The one place where velt meets differences between PostgreSQL
 *		versions.
 *
 * velt builds against PostgreSQL 15, 16, 17 and 18 from one source.  Each
 * difference between them is bridged here, behind PG_VERSION_NUM, under a
 * velt_ name that the rest of the code uses on every version; no other
 * file tests PG_VERSION_NUM.  Include it right after postgres.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_PG_COMPAT_H
#define VELT_PG_COMPAT_H

#include "postgres.h"

/*
 * Marks a function that never returns (it raises an ERROR).  PostgreSQL 18
 * replaced pg_attribute_noreturn(), written after a declaration, with
 * pg_noreturn, written before it; before 18, pg_attribute_noreturn() is a
 * GCC attribute, which may stand before a declaration too.  Write it
 * among the specifiers: static velt_noreturn void f(void);
 */
#if PG_VERSION_NUM >= 180000
#define velt_noreturn pg_noreturn
#else
#define velt_noreturn pg_attribute_noreturn()
#endif

/*
 * Whether role may use namespace nsp: PostgreSQL 16 folded
 * pg_namespace_aclcheck() into object_aclcheck().
 */
#if PG_VERSION_NUM >= 160000
#define velt_namespace_aclcheck(nsp, role, mode) \
	object_aclcheck(NamespaceRelationId, (nsp), (role), (mode))
#else
#define velt_namespace_aclcheck(nsp, role, mode) \
	pg_namespace_aclcheck((nsp), (role), (mode))
#endif

/*
 * Whether role owns database dboid (superusers own everything):
 * PostgreSQL 16 folded pg_database_ownercheck() into object_ownercheck().
 */
#if PG_VERSION_NUM >= 160000
#define velt_database_ownercheck(dboid, role) \
	object_ownercheck(DatabaseRelationId, (dboid), (role))
#else
#define velt_database_ownercheck(dboid, role) \
	pg_database_ownercheck((dboid), (role))
#endif

#endif							/* VELT_PG_COMPAT_H */
