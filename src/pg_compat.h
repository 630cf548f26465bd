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
 * replaced the suffix pg_attribute_noreturn() with the prefix pg_noreturn;
 * before 18, C11's own _Noreturn (velt is C11) says the same as a prefix.
 * Write it first in a declaration: velt_noreturn extern void f(void);
 */
#if PG_VERSION_NUM >= 180000
#define velt_noreturn pg_noreturn
#else
#define velt_noreturn _Noreturn
#endif

#endif							/* VELT_PG_COMPAT_H */
