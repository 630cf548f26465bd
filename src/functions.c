/*-------------------------------------------------------------------------
 *
 * functions.c
 *		The SQL-callable functions: one line per endpoint and mode.
 *
 * A synchronous call returns TABLE(id, success, velt_id, message, result),
 * one row per ID in input order, through a materialized tuplestore; an
 * enqueue validates the same arguments and returns the operation's id.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "fmgr.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "api.h"
#include "drain.h"
#include "endpoints.h"
#include "jsonc_pg.h"
#include "outbox.h"
#include "reads.h"
#include "settings.h"
#include "request.h"

/* The columns of a synchronous call's rows: id, success, velt_id, message, result. */
#define RESULT_COLUMNS 5

/* Result sink of a synchronous call: one row of its result set. */
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

/* The body of every synchronous call: validate, send, return the rows. */
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
VELT_SQL_CALL(velt_add_organizations, VELT_EP_ADD_ORGANIZATIONS)
VELT_SQL_CALL(velt_update_organizations, VELT_EP_UPDATE_ORGANIZATIONS)
VELT_SQL_CALL(velt_delete_organizations, VELT_EP_DELETE_ORGANIZATIONS)
VELT_SQL_CALL(velt_update_organizations_disabled, VELT_EP_UPDATE_ORGANIZATIONS_DISABLED)
VELT_SQL_CALL(velt_add_documents, VELT_EP_ADD_DOCUMENTS)
VELT_SQL_CALL(velt_update_documents, VELT_EP_UPDATE_DOCUMENTS)
VELT_SQL_CALL(velt_delete_documents, VELT_EP_DELETE_DOCUMENTS)
VELT_SQL_CALL(velt_update_documents_access, VELT_EP_UPDATE_DOCUMENTS_ACCESS)
VELT_SQL_CALL(velt_update_documents_disabled, VELT_EP_UPDATE_DOCUMENTS_DISABLED)
VELT_SQL_CALL(velt_update_users, VELT_EP_UPDATE_USERS)
VELT_SQL_CALL(velt_add_folders, VELT_EP_ADD_FOLDERS)
VELT_SQL_CALL(velt_update_folders, VELT_EP_UPDATE_FOLDERS)
VELT_SQL_CALL(velt_update_folders_access, VELT_EP_UPDATE_FOLDERS_ACCESS)

#define VELT_SQL_READ(sql_name, endpoint) \
	PG_FUNCTION_INFO_V1(sql_name); \
	Datum sql_name(PG_FUNCTION_ARGS) { return velt_read_endpoint(fcinfo, &velt_endpoints[endpoint]); }

VELT_SQL_READ(velt_get_organizations, VELT_EP_GET_ORGANIZATIONS)
VELT_SQL_READ(velt_get_documents, VELT_EP_GET_DOCUMENTS)
VELT_SQL_READ(velt_get_users, VELT_EP_GET_USERS)

/* The body of every enqueue: validate, write to the outbox, return its id. */
static Datum
enqueue_endpoint(FunctionCallInfo fcinfo, const VeltEndpoint *endpoint)
{
	VeltCall	call;

	velt_call_from_args(fcinfo, endpoint, &call);
	PG_RETURN_INT64(velt_outbox_enqueue(&call));
}

/*
 * The endpoint of an enqueue twin, from the SQL function's own name:
 * velt_enqueue_<x> is the twin of velt_<x>, whose catalog row must allow
 * one.  Looked up once per call site.
 */
static const VeltEndpoint *
twin_endpoint(FunctionCallInfo fcinfo)
{
	static const char prefix[] = "velt_enqueue_";
	const VeltEndpoint *found = fcinfo->flinfo->fn_extra;
	char	   *name;
	int			i;

	if (found)
		return found;
	name = get_func_name(fcinfo->flinfo->fn_oid);
	if (name && strncmp(name, prefix, sizeof(prefix) - 1) == 0)
	{
		for (i = 0; i < VELT_EP_COUNT; i++)
		{
			const VeltEndpoint *ep = &velt_endpoints[i];

			if (ep->outbox != VELT_OUTBOX_NONE &&
				strcmp(ep->sql_name + strlen("velt_"), name + sizeof(prefix) - 1) == 0)
				found = ep;
		}
	}
	if (found == NULL)
		elog(ERROR, "velt: function \"%s\" is no enqueue twin of a write function",
			 name ? name : "?");
	fcinfo->flinfo->fn_extra = (void *) found;
	return found;
}

PG_FUNCTION_INFO_V1(velt_enqueue);

/*
 * Every enqueue twin since 1.2: velt_enqueue_<x>(the arguments of
 * velt_<x>) returns bigint, the operation's id.
 */
Datum
velt_enqueue(PG_FUNCTION_ARGS)
{
	return enqueue_endpoint(fcinfo, twin_endpoint(fcinfo));
}

/* The twins of 1.0, declared under their own C names then. */
#define VELT_SQL_ENQUEUE(sql_name, endpoint) \
	PG_FUNCTION_INFO_V1(sql_name); \
	Datum sql_name(PG_FUNCTION_ARGS) { return enqueue_endpoint(fcinfo, &velt_endpoints[endpoint]); }

VELT_SQL_ENQUEUE(velt_enqueue_add_users, VELT_EP_ADD_USERS)
VELT_SQL_ENQUEUE(velt_enqueue_delete_users, VELT_EP_DELETE_USERS)
VELT_SQL_ENQUEUE(velt_enqueue_add_user_groups, VELT_EP_ADD_USER_GROUPS)
VELT_SQL_ENQUEUE(velt_enqueue_add_users_to_group, VELT_EP_ADD_USERS_TO_GROUP)
VELT_SQL_ENQUEUE(velt_enqueue_delete_users_from_group, VELT_EP_DELETE_USERS_FROM_GROUP)

PG_FUNCTION_INFO_V1(velt_process_outbox);

/* One summary row: requests, delivered, failed, retried, seconds. */
Datum
velt_process_outbox(PG_FUNCTION_ARGS)
{
	int			max_items = PG_ARGISNULL(0) ? 10000 : PG_GETARG_INT32(0);
	double		max_seconds = PG_ARGISNULL(1) ? 30 : PG_GETARG_FLOAT8(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	VeltDrainSummary summary;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (max_items < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_items must be at least 1")));
	if (!(max_seconds > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_seconds must be greater than 0")));

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	velt_outbox_drain(max_items, max_seconds, &summary);
	SPI_finish();
	if (summary.paused)
		ereport(NOTICE,
				(errmsg("velt.pause_delivery is on: nothing was sent"),
				 errhint("Enqueued operations wait in velt.outbox; delivery resumes once velt.pause_delivery is off and the configuration reloaded.")));

	values[0] = Int32GetDatum(summary.requests);
	values[1] = Int64GetDatum(summary.delivered);
	values[2] = Int64GetDatum(summary.failed);
	values[3] = Int64GetDatum(summary.retried);
	values[4] = Float8GetDatum(summary.seconds);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(velt_request);

/* velt_request(path, data, options): any endpoint, Velt's result as jsonb. */
Datum
velt_request(PG_FUNCTION_ARGS)
{
	json_object *data;
	const char *path = velt_request_from_args(fcinfo, &data);
	VeltExchange ex;
	Datum		answer;

	velt_require_credentials();
	if (!velt_jsonc_to_jsonb_checked(velt_call_result(path, data, &ex), &answer))
	{
		strlcpy(ex.malformed_reason, "it contains a NUL character (\\u0000), which jsonb cannot store",
				sizeof(ex.malformed_reason));
		ex.kind = VELT_ANSWER_MALFORMED;
		velt_raise_exchange_error(&ex, 1, 1);
	}
	PG_RETURN_DATUM(answer);
}

PG_FUNCTION_INFO_V1(velt_enqueue_request);

/*
 * velt_enqueue_request(path, data, options): velt_request through the
 * outbox; returns the operation's id, whose velt_results row holds Velt's
 * result once delivered.
 */
Datum
velt_enqueue_request(PG_FUNCTION_ARGS)
{
	json_object *data;
	const char *path = velt_request_from_args(fcinfo, &data);

	PG_RETURN_INT64(velt_outbox_enqueue_request(path, data));
}

PG_FUNCTION_INFO_V1(velt_sql_reject_control_characters);

/*
 * velt.reject_control_characters(value, name): the ID rule of the C
 * functions for the functions written in SQL, with the same message.
 */
Datum
velt_sql_reject_control_characters(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);

	velt_reject_control_characters(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value),
								   text_to_cstring(PG_GETARG_TEXT_PP(1)), NULL, NULL);
	PG_RETURN_VOID();
}
