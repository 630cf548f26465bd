/*-------------------------------------------------------------------------
 *
 * reads.c
 *		Velt's get endpoints as row sets: page tokens followed, ID filters
 *		split to Velt's per-request limit, typed columns from the catalog.
 *
 * Each returned object becomes a row: one typed column per field the
 * endpoint's catalog row names (converted to the SQL column's type), then
 * the whole object as jsonb.  Pages are requested until Velt returns no
 * page token or max_items rows have been produced.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "api.h"
#include "jsonc_pg.h"
#include "reads.h"
#include "settings.h"

/* A runaway token loop ends here rather than never. */
#define VELT_MAX_PAGES 100000

/* One field of a returned object as a value of the column's type. */
static Datum
column_value(json_object *field, Oid type, bool *isnull)
{
	*isnull = (field == NULL || json_object_is_type(field, json_type_null));
	if (*isnull)
		return (Datum) 0;

	switch (type)
	{
		case BOOLOID:
			if (json_object_is_type(field, json_type_boolean))
				return BoolGetDatum(json_object_get_boolean(field));
			break;
		case INT8OID:
			if (json_object_is_type(field, json_type_int))
				return Int64GetDatum(json_object_get_int64(field));
			break;
		case JSONBOID:
			return velt_jsonc_to_jsonb(field);
		case TEXTOID:
			if (json_object_is_type(field, json_type_string))
				return CStringGetTextDatum(json_object_get_string(field));
			else
			{
				size_t		len;

				return CStringGetTextDatum(velt_jsonc_text(field, &len));
			}
		default:
			break;
	}
	/* a field of an unexpected type is NULL; the jsonb column has it */
	*isnull = true;
	return (Datum) 0;
}

/* Adds object as a row; false if it holds a NUL character (jsonb cannot). */
static bool
put_row(ReturnSetInfo *rsinfo, const VeltEndpoint *ep, json_object *object)
{
	TupleDesc	desc = rsinfo->setDesc;
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	int			i;

	for (i = 0; i < desc->natts - 1; i++)
	{
		json_object *field = NULL;

		if (ep->columns[i])
			json_object_object_get_ex(object, ep->columns[i], &field);
		values[i] = column_value(field, TupleDescAttr(desc, i)->atttypid, &nulls[i]);
	}
	if (!velt_jsonc_to_jsonb_checked(object, &values[desc->natts - 1]))
		return false;
	nulls[desc->natts - 1] = false;
	tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
	return true;
}

/* Velt's answer to this page is not shaped as documented: a 08P01 ERROR. */
static void
raise_malformed(VeltExchange *ex, const char *reason)
{
	strlcpy(ex->malformed_reason, reason, sizeof(ex->malformed_reason));
	ex->kind = VELT_ANSWER_MALFORMED;
	velt_raise_exchange_error(ex, 1, 1);
}

/*
 * Sends one page request.  Returns Velt's result object (NULL for the
 * partial-failure answer below, which has no page token) and sets *rows to
 * its data.  v2 documents answer a request naming an unknown ID with HTTP
 * 500 INTERNAL and the found records (plus not-found items) in
 * error.details: the records are the rows, the misses are left out, as v1
 * leaves them out.
 */
static json_object *
read_page(const VeltEndpoint *ep, json_object *data, VeltExchange *ex, json_object **rows)
{
	json_object *details;

	velt_post_data(ep->path, data, velt_max_retries, ex);
	details = velt_items_in_error_details(ep, ex, json_type_array);
	if (details)
	{
		json_object *found = velt_jsonc_owned(json_object_new_array());
		size_t		i;

		for (i = 0; i < json_object_array_length(details); i++)
		{
			json_object *item = json_object_array_get_idx(details, i);
			json_object *success;

			if (json_object_is_type(item, json_type_object) &&
				json_object_object_get_ex(item, "success", &success) &&
				json_object_is_type(success, json_type_boolean) &&
				!json_object_get_boolean(success))
				continue;		/* an ID Velt does not know */
			json_object_array_add(found, json_object_get(item));
		}
		*rows = found;
		return NULL;			/* an error answer has no page token */
	}
	if (ex->kind != VELT_ANSWER_OK)
		velt_raise_exchange_error(ex, 1, 1);
	if (!json_object_object_get_ex(ex->envelope.result, "data", rows) ||
		json_object_is_type(*rows, json_type_null))
		*rows = NULL;
	return ex->envelope.result;
}

/* Reads every page for one slice of the ID filter; returns rows produced. */
static int
read_pages(const VeltCall *call, ReturnSetInfo *rsinfo, int first, int count,
		   int budget)
{
	const VeltEndpoint *ep = call->endpoint;
	MemoryContext page_cxt = AllocSetContextCreate(CurrentMemoryContext, "velt page",
												   ALLOCSET_DEFAULT_SIZES);
	char	   *token = NULL;
	int			produced = 0;
	int			pages;

	for (pages = 0; pages < VELT_MAX_PAGES; pages++)
	{
		MemoryContext old = MemoryContextSwitchTo(page_cxt);
		json_object *data = velt_call_data(call, ep->filter_key, first, count);
		json_object *result;
		json_object *rows;
		json_object *next = NULL;
		VeltExchange ex;
		size_t		i;
		char	   *next_token = NULL;

		if (token)
			json_object_object_add(data, "pageToken", json_object_new_string(token));

		result = read_page(ep, data, &ex, &rows);
		/* read_page gives no rows for a JSON null */
		if (rows && !json_object_is_type(rows, json_type_array))
			raise_malformed(&ex, "\"result.data\" is not an array");
		for (i = 0; rows && i < json_object_array_length(rows); i++)
		{
			json_object *object = json_object_array_get_idx(rows, i);

			if (!json_object_is_type(object, json_type_object))
				raise_malformed(&ex, psprintf("item %zu of \"result.data\" is not an object", i));
			if (!put_row(rsinfo, ep, object))
				raise_malformed(&ex, psprintf("item %zu of \"result.data\" contains a NUL character", i));
			produced++;
			if (budget > 0 && produced >= budget)
				break;
		}

		if (result != NULL && (budget <= 0 || produced < budget) &&
			json_object_object_get_ex(result, ep->page_token_key, &next) &&
			json_object_is_type(next, json_type_string) &&
			json_object_get_string_len(next) > 0)
		{
			if (token && strcmp(token, json_object_get_string(next)) == 0)
				raise_malformed(&ex, "it repeats the previous page token");
			next_token = MemoryContextStrdup(page_cxt->parent, json_object_get_string(next));
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(page_cxt);
		if (next_token == NULL)
			break;
		if (token)
			pfree(token);
		token = next_token;
	}
	if (pages >= VELT_MAX_PAGES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s stopped after %d pages", ep->sql_name, VELT_MAX_PAGES),
				 errhint("Pass max_items, or a larger pageSize in options.")));
	MemoryContextDelete(page_cxt);
	return produced;
}

Datum
velt_read_endpoint(FunctionCallInfo fcinfo, const VeltEndpoint *ep)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	VeltCall	call;
	int			produced = 0;

	InitMaterializedSRF(fcinfo, 0);
	velt_call_from_args(fcinfo, ep, &call);
	velt_require_credentials();

	if (call.nitems == 0)
		(void) read_pages(&call, rsinfo, 0, 0, call.max_items);
	else
	{
		int			first;

		for (first = 0; first < call.nitems; first += ep->max_filter_ids)
		{
			int			budget = call.max_items ? call.max_items - produced : 0;

			produced += read_pages(&call, rsinfo, first,
								   Min(ep->max_filter_ids, call.nitems - first), budget);
			if (call.max_items && produced >= call.max_items)
				break;
		}
	}
	return (Datum) 0;
}
