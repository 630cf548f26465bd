/*-------------------------------------------------------------------------
 *
 * outbox.c
 *		Durable delivery at commit: enqueue and the commit-time wake-up.
 *
 * An operation (see the glossary in outbox.h) is one row of velt.outbox,
 * written in the caller's transaction, so it exists exactly when the
 * transaction commits and is WAL-logged like any table.  The transaction
 * also records itself in velt.commit_order, whose commit-time stamp gives
 * the drains (drain.c) the order in which operations committed.  When a
 * transaction that enqueued commits, the worker is woken.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "jsonc_pg.h"
#include "outbox.h"

void		(*velt_wake_worker_hook) (void) = NULL;

/* The one definition of the users/add item layout (see outbox.h). */
const VeltUserFieldName velt_user_fields[VELT_USER_NFIELDS] = {
	[VELT_USER_ID] = {"userId", "user_id"},
	[VELT_USER_NAME] = {"name", "name"},
	[VELT_USER_EMAIL] = {"email", "email"},
	[VELT_USER_PHOTO_URL] = {"photoUrl", "photo_url"},
	[VELT_USER_ROLE] = {"accessRole", "role"},
};

/* Set by an enqueue, consumed at the end of the transaction. */
static bool wake_at_commit = false;

/* The parameters of the INSERT INTO velt.outbox, $1 to $6. */
enum
{
	INSERT_ENDPOINT,
	INSERT_TARGET,
	INSERT_FIXED,
	INSERT_ITEMS,
	INSERT_IDS,
	INSERT_ITEM_VALUES,
	INSERT_NARGS
};

/* Plans kept for the backend's life (SPI_keepplan). */
static SPIPlanPtr mark_plan = NULL;
static SPIPlanPtr insert_plan = NULL;

/* Prepares sql and keeps the plan for the backend's life. */
static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/* The call's IDs as a text[] Datum in CurrentMemoryContext. */
static Datum
ids_array(const VeltCall *call)
{
	Datum	   *elems;
	int			i;

	if (call->nitems == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	elems = palloc(sizeof(Datum) * call->nitems);
	for (i = 0; i < call->nitems; i++)
		elems[i] = CStringGetTextDatum(call->ids[i]);
	return PointerGetDatum(construct_array(elems, call->nitems, TEXTOID,
										   -1, false, TYPALIGN_INT));
}

int64
velt_outbox_insert(const char *endpoint_path, const char *org, Datum fixed,
				   Datum items, Datum ids, Datum item_values)
{
	Datum		values[INSERT_NARGS];
	char		nulls[INSERT_NARGS];
	int64		id;
	int			rc;
	bool		isnull;

	memset(nulls, ' ', sizeof(nulls));
	values[INSERT_ENDPOINT] = CStringGetTextDatum(endpoint_path);
	values[INSERT_TARGET] = CStringGetTextDatum(org);
	values[INSERT_FIXED] = fixed;
	values[INSERT_ITEMS] = items;
	nulls[INSERT_ITEMS] = items == (Datum) 0 ? 'n' : ' ';
	values[INSERT_IDS] = ids;
	values[INSERT_ITEM_VALUES] = item_values;
	nulls[INSERT_ITEM_VALUES] = item_values == (Datum) 0 ? 'n' : ' ';

	SPI_connect();
	if (mark_plan == NULL)
		mark_plan = keep_plan("INSERT INTO velt.commit_order (xact) "
							  "VALUES (pg_catalog.pg_current_xact_id()) "
							  "ON CONFLICT (xact) DO NOTHING", 0, NULL);
	if (insert_plan == NULL)
	{
		Oid			types[INSERT_NARGS] = {TEXTOID, TEXTOID, JSONBOID, JSONBOID, TEXTARRAYOID, TEXTARRAYOID};

		insert_plan = keep_plan("INSERT INTO velt.outbox (endpoint, target, fixed, items, ids, item_values) "
								"VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", INSERT_NARGS, types);
	}
	rc = SPI_execute_plan(mark_plan, NULL, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not record the enqueuing transaction: %s",
			 SPI_result_code_string(rc));
	rc = SPI_execute_plan(insert_plan, values, nulls, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not write to velt.outbox: %s", SPI_result_code_string(rc));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();

	wake_at_commit = true;
	return id;
}

/*
 * Writes item i of an organizations call as an operation of its own, that
 * organization its target.
 */
static int64
enqueue_organization(const VeltCall *call, int i)
{
	Datum		id = CStringGetTextDatum(call->ids[i]);
	Datum		items = (Datum) 0;

	/* an ID list is stored as its ids column alone */
	if (call->endpoint->id_field)
	{
		json_object *item = velt_jsonc_owned(json_object_new_array());

		velt_call_append_item(call, i, item);
		items = velt_jsonc_to_jsonb(item);
	}
	return velt_outbox_insert(call->endpoint->path, call->ids[i],
							  velt_jsonc_to_jsonb(call->fixed), items,
							  PointerGetDatum(construct_array(&id, 1, TEXTOID, -1, false,
															  TYPALIGN_INT)),
							  (Datum) 0);
}

int64
velt_outbox_enqueue(const VeltCall *call)
{
	json_object *org;
	Datum		items = (Datum) 0;

	if (call->endpoint->outbox == VELT_OUTBOX_PER_ORGANIZATION)
	{
		int64		first = 0;
		int			i;

		for (i = 0; i < call->nitems; i++)
		{
			int64		id = enqueue_organization(call, i);

			if (i == 0)
				first = id;
		}
		return first;
	}
	if (!json_object_object_get_ex(call->fixed, "organizationId", &org))
		elog(ERROR, "an outbox operation needs an organization");
	/* an ID list is stored as its ids column alone */
	if (call->items_jsonb)
		items = JsonbPGetDatum(call->items_jsonb);
	return velt_outbox_insert(call->endpoint->path, json_object_get_string(org),
							  velt_jsonc_to_jsonb(call->fixed), items,
							  ids_array(call), (Datum) 0);
}

int64
velt_outbox_enqueue_request(const char *path, json_object *data)
{
	json_object *org;
	const char *target = "";

	if (json_object_object_get_ex(data, "organizationId", &org) &&
		json_object_is_type(org, json_type_string))
		target = json_object_get_string(org);
	return velt_outbox_insert(psprintf("%s%s", VELT_REQUEST_ENDPOINT_PREFIX, path), target,
							  velt_jsonc_to_jsonb(data), (Datum) 0,
							  PointerGetDatum(construct_empty_array(TEXTOID)), (Datum) 0);
}

/* Wakes the worker when a transaction that enqueued commits. */
static void
outbox_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit && velt_wake_worker_hook)
				velt_wake_worker_hook();
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

void
velt_outbox_register_wakeup(void)
{
	RegisterXactCallback(outbox_xact_callback, NULL);
}
