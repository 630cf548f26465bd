/*-------------------------------------------------------------------------
 *
 * json_c.h
 *		The one way velt includes json-c.
 *
 * json-c's type json_object has the same name as PostgreSQL's SQL function
 * json_object() declared in utils/fmgrprotos.h.  Inside the server, this
 * header reads fmgrprotos.h first with the function renamed, so both can
 * be used in one file.  It must come before utils/builtins.h (include it
 * right after postgres.h).  Outside the server (a standalone test harness) it is just
 * json-c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_JSON_C_H
#define VELT_JSON_C_H

#ifdef PG_VERSION_NUM
#define json_object pg_sql_json_object
#include "utils/fmgrprotos.h"
#undef json_object
#endif

#include <json-c/json.h>

#endif							/* VELT_JSON_C_H */
