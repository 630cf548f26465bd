/*-------------------------------------------------------------------------
 *
 * functions.c
 *		The SQL-callable functions: one line per endpoint.
 *
 * Each returns TABLE(id, success, velt_id, message, result), one row per
 * ID in input order, through a materialized tuplestore.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "api.h"
#include "endpoints.h"
#include "request.h"

#define RESULT_COLUMNS 5

static void
put_result_row(void *arg, const VeltItemResult *r)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[RESULT_COLUMNS];
	bool		nulls[RESULT_COLUMNS];

	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum(r->id);
	values[1] = BoolGetDatum(r->success == 1);
	nulls[1] = r->success < 0;
	values[2] = r->velt_id ? CStringGetTextDatum(r->velt_id) : (Datum) 0;
	nulls[2] = r->velt_id == NULL;
	values[3] = r->message ? CStringGetTextDatum(r->message) : (Datum) 0;
	nulls[3] = r->message == NULL;
	values[4] = r->result;
	nulls[4] = r->result_isnull;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static Datum
call_endpoint(FunctionCallInfo fcinfo, VeltEndpointId endpoint)
{
	VeltCall	call;

	InitMaterializedSRF(fcinfo, 0);
	velt_call_from_args(fcinfo, &velt_endpoints[endpoint], &call);
	velt_call_execute(&call, put_result_row, fcinfo->resultinfo);
	return (Datum) 0;
}

#define VELT_SQL_CALL(sql_name, endpoint) \
	PG_FUNCTION_INFO_V1(sql_name); \
	Datum sql_name(PG_FUNCTION_ARGS) { return call_endpoint(fcinfo, endpoint); }

VELT_SQL_CALL(velt_add_users, VELT_EP_ADD_USERS)
VELT_SQL_CALL(velt_delete_users, VELT_EP_DELETE_USERS)
VELT_SQL_CALL(velt_add_user_groups, VELT_EP_ADD_USER_GROUPS)
VELT_SQL_CALL(velt_add_users_to_group, VELT_EP_ADD_USERS_TO_GROUP)
VELT_SQL_CALL(velt_delete_users_from_group, VELT_EP_DELETE_USERS_FROM_GROUP)
