/*-------------------------------------------------------------------------
 *
 * reads.c
 *		Velt's get endpoints as row sets: page tokens followed, ID filters
 *		split to Velt's per-request limit, typed columns from the catalog.
 *
 * Each returned object becomes a row: one typed column per field the
 * endpoint's catalog row names (converted to the SQL column's type), then
 * the whole object as jsonb.  Pages are requested until Velt returns no
 * page token or max_items rows have been produced; the slices of a long
 * ID filter are read concurrently (see "Slices in flight").
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
#include "flight.h"
#include "jsonc_pg.h"
#include "reads.h"
#include "settings.h"
#include "stats.h"

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
	velt_stats_count_malformed(ex->stats_endpoint, ex->stats_caller);
	velt_raise_exchange_error(ex, 1, 1);
}

/*
 * Reads a finished page request.  Returns Velt's result object (NULL for
 * the partial-failure answer below, which has no page token) and sets
 * *rows to its data.  v2 documents answer a request naming an unknown ID
 * with HTTP 500 INTERNAL and the found records (plus not-found items) in
 * error.details: the records are the rows, the misses are left out, as v1
 * leaves them out.
 */
static json_object *
read_page(const VeltEndpoint *ep, VeltExchange *ex, json_object **rows)
{
	json_object *details = velt_items_in_error_details(ep, ex, json_type_array);

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

/* ---------------------------------------------------------------------
 * Slices in flight
 *
 * An ID filter longer than the endpoint's limit is cut into slices of
 * max_filter_ids IDs (a read without a filter is one slice).  Up to
 * velt.max_concurrency slices are read at once through flight.c; the
 * pages of one slice are requested one after the other (each needs the
 * token of the one before).  Answered pages wait until every earlier
 * slice is done, so the rows keep the order of the filter and max_items
 * counts them in that order; once max_items rows are out no new request
 * starts (a later slice may already have been asked for a page).
 * ---------------------------------------------------------------------
 */

/* An answered page whose rows wait for their turn. */
typedef struct HeldPage
{
	MemoryContext cxt;			/* the page's request and answer */
	json_object *rows;			/* NULL: none */
	VeltExchange ex;			/* for the DETAIL of a row that cannot be kept */
} HeldPage;

/* One slice of the ID filter and its pages so far. */
typedef struct Slice
{
	VeltFlight	flight;			/* first: its page in flight */
	int			first;			/* its IDs in the call */
	int			count;
	int			pages;			/* requested */
	char	   *token;			/* for the next page; NULL before the first */
	int			rows;			/* answered so far */
	int			emitted;		/* of those, put into the result */
	bool		started;
	bool		in_flight;
	bool		finished;		/* no further page */
	List	   *held;			/* HeldPage *, oldest first */
} Slice;

/* A filtered read in progress. */
typedef struct Reading
{
	const VeltCall *call;
	ReturnSetInfo *rsinfo;
	MemoryContext cxt;			/* the slices, tokens and held pages */
	Slice	   *slices;
	int			nslices;
	int			next_new;		/* the next slice never started */
	int			next_emit;		/* the slice whose rows go out next */
	int			emitted;		/* rows out so far */
} Reading;

/* Whether max_items rows are out. */
static bool
reading_full(const Reading *r)
{
	return r->call->max_items > 0 && r->emitted >= r->call->max_items;
}

/* Builds the request for slice s's next page in a context of its own. */
static VeltFlight *
start_page(Reading *r, Slice *s)
{
	const VeltEndpoint *ep = r->call->endpoint;
	MemoryContext old;
	json_object *data;
	const char *body;
	size_t		body_len;

	if (s->pages >= VELT_MAX_PAGES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s stopped after %d pages", ep->sql_name, VELT_MAX_PAGES),
				 errhint("Pass max_items, or a larger pageSize in options.")));
	s->flight.cxt = AllocSetContextCreate(r->cxt, "velt page", ALLOCSET_DEFAULT_SIZES);
	s->flight.max_retries = velt_max_retries;
	old = MemoryContextSwitchTo(s->flight.cxt);
	data = velt_call_data(r->call, ep->filter_key, s->first, s->count);
	if (s->token)
		json_object_object_add(data, "pageToken", json_object_new_string(s->token));
	body = velt_request_text(data, &body_len);
	velt_exchange_prepare(&s->flight.ex, &s->flight.req, ep->path, body, body_len);
	MemoryContextSwitchTo(old);
	s->pages++;
	s->started = true;
	s->in_flight = true;
	return &s->flight;
}

/* Plan: the next page of a started slice first, else a new slice. */
static VeltFlight *
reading_next(void *arg)
{
	Reading    *r = arg;
	int			i;

	if (reading_full(r))
		return NULL;
	for (i = r->next_emit; i < r->next_new; i++)
	{
		Slice	   *s = &r->slices[i];

		if (!s->in_flight && !s->finished)
			return start_page(r, s);
	}
	if (r->next_new < r->nslices)
		return start_page(r, &r->slices[r->next_new++]);
	return NULL;
}

/*
 * Plan: a page is answered.  Its rows are checked and held for their
 * turn (with its context, freed once they are out); its page token, if
 * any, asks for the next page.
 */
static bool
reading_finished(void *arg, VeltFlight *flight)
{
	Reading    *r = arg;
	Slice	   *s = (Slice *) flight;
	const VeltEndpoint *ep = r->call->endpoint;
	HeldPage   *page;
	json_object *result;
	json_object *next = NULL;
	/* what the slices before it have put out is known once it emits */
	int			budget = r->call->max_items > 0 ?
		r->call->max_items - (r->emitted - s->emitted) : 0;
	MemoryContext old;
	size_t		i;

	s->in_flight = false;
	if (flight->phase == VELT_FLIGHT_DROPPED)
	{
		s->finished = true;		/* max_items is reached: no more pages */
		return true;
	}
	page = palloc(sizeof(HeldPage));
	result = read_page(ep, &flight->ex, &page->rows);

	page->cxt = flight->cxt;
	page->ex = flight->ex;
	if (page->rows && !json_object_is_type(page->rows, json_type_array))
		raise_malformed(&page->ex, "\"result.data\" is not an array");
	for (i = 0; page->rows && i < json_object_array_length(page->rows); i++)
		if (!json_object_is_type(json_object_array_get_idx(page->rows, i), json_type_object))
			raise_malformed(&page->ex, psprintf("item %zu of \"result.data\" is not an object", i));
	s->rows += page->rows ? (int) json_object_array_length(page->rows) : 0;
	s->finished = true;
	if (result != NULL && (budget <= 0 || s->rows < budget) &&
		json_object_object_get_ex(result, ep->page_token_key, &next) &&
		json_object_is_type(next, json_type_string) &&
		json_object_get_string_len(next) > 0)
	{
		if (s->token && strcmp(s->token, json_object_get_string(next)) == 0)
			raise_malformed(&page->ex, "it repeats the previous page token");
		if (s->token)
			pfree(s->token);
		s->token = MemoryContextStrdup(r->cxt, json_object_get_string(next));
		s->finished = false;
	}
	old = MemoryContextSwitchTo(r->cxt);
	s->held = lappend(s->held, page);
	MemoryContextSwitchTo(old);
	return false;				/* the page is held until its turn */
}

/* Puts a held page of slice s into the result, up to max_items. */
static void
emit_page(Reading *r, Slice *s, HeldPage *page)
{
	MemoryContext old = MemoryContextSwitchTo(page->cxt);
	size_t		i;

	for (i = 0; page->rows && i < json_object_array_length(page->rows) && !reading_full(r); i++)
	{
		if (!put_row(r->rsinfo, r->call->endpoint, json_object_array_get_idx(page->rows, i)))
			raise_malformed(&page->ex, psprintf("item %zu of \"result.data\" contains a NUL character", i));
		r->emitted++;
		s->emitted++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(page->cxt);
}

/* Plan: rows out in order, slice after slice, each page freed once out. */
static void
reading_tick(void *arg)
{
	Reading    *r = arg;
	ListCell   *lc;

	while (r->next_emit < r->next_new)
	{
		Slice	   *s = &r->slices[r->next_emit];

		foreach(lc, s->held)
			emit_page(r, s, lfirst(lc));
		list_free(s->held);
		s->held = NIL;
		if (!s->finished && !reading_full(r))
			break;
		r->next_emit++;
	}
}

/* Plan: once max_items rows are out nothing new starts. */
static bool
reading_halted(void *arg)
{
	return reading_full((Reading *) arg);
}

Datum
velt_read_endpoint(FunctionCallInfo fcinfo, const VeltEndpoint *ep)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	VeltCall	call;
	Reading		r;
	VeltFlightPlan plan;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	velt_call_from_args(fcinfo, ep, &call);
	velt_require_credentials();
	velt_stats_count_call(velt_stats_endpoint_of(ep), VELT_STATS_CALL);

	memset(&r, 0, sizeof(r));
	r.call = &call;
	r.rsinfo = rsinfo;
	r.cxt = AllocSetContextCreate(CurrentMemoryContext, "velt read", ALLOCSET_DEFAULT_SIZES);
	r.nslices = call.nitems == 0 ? 1 : (call.nitems + ep->max_filter_ids - 1) / ep->max_filter_ids;
	r.slices = MemoryContextAllocZero(r.cxt, sizeof(Slice) * r.nslices);
	for (i = 0; i < r.nslices; i++)
	{
		r.slices[i].first = i * ep->max_filter_ids;
		r.slices[i].count = Min(ep->max_filter_ids, call.nitems - r.slices[i].first);
	}

	memset(&plan, 0, sizeof(plan));
	plan.arg = &r;
	plan.slots = Min(velt_max_concurrency, r.nslices);
	plan.next = reading_next;
	plan.finished = reading_finished;
	plan.halted = reading_halted;
	plan.tick = reading_tick;
	velt_flights_run(&plan);
	reading_tick(&r);
	MemoryContextDelete(r.cxt);
	return (Datum) 0;
}
