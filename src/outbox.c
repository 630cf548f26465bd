/*-------------------------------------------------------------------------
 *
 * outbox.c
 *		Durable delivery at commit: enqueue, wake-up and drain.
 *
 * An operation is one row of velt.outbox, written in the caller's
 * transaction, so it exists exactly when the transaction commits and is
 * WAL-logged like any table.  A drain (velt_process_outbox or the worker)
 * takes committed, due operations in commit order, coalesces those with the
 * same endpoint and fixed data into requests of up to velt.batch_size
 * items, sends them, and records each ID's outcome in velt.results.
 *
 * Order: operations are taken in (commit sequence, id) order; an operation
 * may join an earlier request only if no request between them touches one
 * of its IDs, so operations on one ID reach Velt in commit order.  A
 * delete_all is a barrier.  Concurrent drains lock whole organizations
 * (advisory locks), so they never reorder one organization's operations
 * and never send one operation twice.
 *
 * Failures: 429, 5xx, transport errors and answers that are not Velt's
 * envelope are retried later with exponential backoff and jitter (at least
 * Retry-After), the whole operation again, batched with its peers; after
 * velt.max_attempts the operation is dead-lettered.  Other 4xx answers are
 * final (state "rejected").  A drain that dies half-way leaves its
 * operations pending: delivery is at least once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "api.h"
#include "endpoints.h"
#include "envelope.h"
#include "errors.h"
#include "jsonc_pg.h"
#include "outbox.h"
#include "settings.h"

void		(*velt_wake_worker_hook) (void) = NULL;

const char *const velt_user_fields[VELT_USER_NFIELDS] = {
	"userId", "name", "email", "photoUrl", "accessRole"
};

/* Set by an enqueue, consumed at the end of the transaction. */
static bool wake_at_commit = false;

/* Advisory lock class for "this drain owns this organization". */
#define VELT_TARGET_LOCK_CLASS 1986356340

/* Longest ID kept exactly in a batch's ID set; longer ones are truncated,
 * which can only make two IDs look alike and so only splits batches. */
#define VELT_ID_KEY_SIZE 128

/* ---------------------------------------------------------------------
 * Enqueue
 * ---------------------------------------------------------------------
 */

static SPIPlanPtr mark_plan = NULL;
static SPIPlanPtr insert_plan = NULL;

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
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int64		id;
	int			rc;
	bool		isnull;

	values[0] = CStringGetTextDatum(endpoint_path);
	values[1] = CStringGetTextDatum(org);
	values[2] = fixed;
	values[3] = items;
	nulls[3] = items == (Datum) 0 ? 'n' : ' ';
	values[4] = ids;
	values[5] = item_values;
	nulls[5] = item_values == (Datum) 0 ? 'n' : ' ';

	SPI_connect();
	if (mark_plan == NULL)
		mark_plan = keep_plan("INSERT INTO velt.commit_order (xact) "
							  "VALUES (pg_catalog.pg_current_xact_id()) "
							  "ON CONFLICT (xact) DO NOTHING", 0, NULL);
	if (insert_plan == NULL)
	{
		Oid			types[6] = {TEXTOID, TEXTOID, JSONBOID, JSONBOID, TEXTARRAYOID, TEXTARRAYOID};

		insert_plan = keep_plan("INSERT INTO velt.outbox (endpoint, target, fixed, items, ids, item_values) "
								"VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", 6, types);
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

int64
velt_outbox_enqueue(const VeltCall *call)
{
	json_object *org;
	Datum		items = (Datum) 0;

	if (!json_object_object_get_ex(call->fixed, "organizationId", &org))
		elog(ERROR, "an outbox operation needs an organization");
	/* an ID list is stored as its ids column alone */
	if (call->items_jsonb)
		items = JsonbPGetDatum(call->items_jsonb);
	return velt_outbox_insert(call->endpoint->path, json_object_get_string(org),
							  velt_jsonc_to_jsonb(call->fixed), items,
							  ids_array(call), (Datum) 0);
}

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

/* ---------------------------------------------------------------------
 * Drain
 * ---------------------------------------------------------------------
 */

typedef enum OpOutcome
{
	OP_UNSENT,					/* not attempted in this drain */
	OP_DELIVERED,				/* every item answered */
	OP_RETRY,					/* a retryable failure */
	OP_REJECTED					/* a final failure */
} OpOutcome;

typedef struct OutboxOp
{
	int64		id;
	VeltCall	call;			/* endpoint, items, ids (not fixed) */
	const char *fixed_key;		/* canonical text of fixed */
	char	   *target;
	int			attempts;
	Datum		enqueued_at;
	OpOutcome	outcome;
	bool		started;		/* a request carried some of its items */
	bool	   *answered;		/* per item: Velt answered for it */
	int			unanswered;		/* items a 2xx answer said nothing about */
	int			pieces_left;	/* pieces not yet answered */
	long		retry_after_s;
	char	   *last_error;
} OutboxOp;

/* A run of one operation's items that travels in one request. */
typedef struct Piece
{
	int			op;
	int			first;
	int			count;
} Piece;

typedef struct Batch
{
	const VeltEndpoint *endpoint;
	const char *fixed_key;
	json_object *fixed;
	List	   *pieces;
	int			nitems;
	bool		barrier;		/* delete_all: nothing may move across it */
	HTAB	   *ids;
} Batch;

typedef struct OutboxTarget
{
	char		name[NAMEDATALEN * 4];
	List	   *batches;
} OutboxTarget;

typedef struct IdKey
{
	char		id[VELT_ID_KEY_SIZE];
} IdKey;

/* Per-ID rows for velt.results, gathered column by column. */
typedef struct ResultRows
{
	ArrayBuildState *op_id;
	ArrayBuildState *endpoint;
	ArrayBuildState *id;
	ArrayBuildState *success;
	ArrayBuildState *velt_id;
	ArrayBuildState *message;
	ArrayBuildState *result;
	ArrayBuildState *attempts;
	ArrayBuildState *last_error;
	ArrayBuildState *enqueued_at;
	int64		count;
	MemoryContext cxt;
} ResultRows;

typedef struct Drain
{
	OutboxOp   *ops;
	int			nops;
	List	   *targets;		/* OutboxTarget *, in order of appearance */
	HTAB	   *target_hash;
	ResultRows	rows;
	int			batch_size;
} Drain;

static void
result_rows_init(ResultRows *rows)
{
	MemoryContext cxt = CurrentMemoryContext;

	rows->cxt = cxt;
	rows->count = 0;
	rows->op_id = initArrayResult(INT8OID, cxt, false);
	rows->endpoint = initArrayResult(TEXTOID, cxt, false);
	rows->id = initArrayResult(TEXTOID, cxt, false);
	rows->success = initArrayResult(BOOLOID, cxt, false);
	rows->velt_id = initArrayResult(TEXTOID, cxt, false);
	rows->message = initArrayResult(TEXTOID, cxt, false);
	rows->result = initArrayResult(JSONBOID, cxt, false);
	rows->attempts = initArrayResult(INT4OID, cxt, false);
	rows->last_error = initArrayResult(TEXTOID, cxt, false);
	rows->enqueued_at = initArrayResult(TIMESTAMPTZOID, cxt, false);
}

static void
accum_text(ArrayBuildState *state, const char *value, MemoryContext cxt, Oid type)
{
	accumArrayResult(state, value ? CStringGetTextDatum(value) : (Datum) 0,
					 value == NULL, type, cxt);
}

static void
result_rows_add(ResultRows *rows, const OutboxOp *op, const char *id,
				int success, const char *velt_id, const char *message,
				Datum result, bool result_isnull, const char *last_error)
{
	MemoryContext cxt = rows->cxt;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	accumArrayResult(rows->op_id, Int64GetDatum(op->id), false, INT8OID, cxt);
	accum_text(rows->endpoint, op->call.endpoint->path, cxt, TEXTOID);
	accum_text(rows->id, id, cxt, TEXTOID);
	accumArrayResult(rows->success, BoolGetDatum(success == 1), success < 0, BOOLOID, cxt);
	accum_text(rows->velt_id, velt_id, cxt, TEXTOID);
	accum_text(rows->message, message, cxt, TEXTOID);
	accumArrayResult(rows->result, result_isnull ? (Datum) 0 : datumCopy(result, false, -1),
					 result_isnull, JSONBOID, cxt);
	accumArrayResult(rows->attempts, Int32GetDatum(op->attempts + 1), false, INT4OID, cxt);
	accum_text(rows->last_error, last_error, cxt, TEXTOID);
	accumArrayResult(rows->enqueued_at, op->enqueued_at, false, TIMESTAMPTZOID, cxt);
	rows->count++;
	MemoryContextSwitchTo(old);
}

static const VeltEndpoint *
endpoint_by_path(const char *path)
{
	int			i;

	for (i = 0; i < VELT_EP_COUNT; i++)
	{
		if (strcmp(velt_endpoints[i].path, path) == 0)
			return &velt_endpoints[i];
	}
	return NULL;
}

/*
 * Items stored as rows of velt_user_fields (see velt_outbox_insert); the
 * IDs are their first column.
 */
static json_object *
items_from_rows(Datum rows_datum, VeltCall *call)
{
	ArrayType  *rows = DatumGetArrayTypeP(rows_datum);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			nitems;
	int			i;
	json_object *items;

	if (ARR_NDIM(rows) != 2 || ARR_DIMS(rows)[1] != VELT_USER_NFIELDS)
		elog(ERROR, "velt.outbox item_values has an unexpected shape");
	nitems = ARR_DIMS(rows)[0];
	deconstruct_array(rows, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	items = velt_jsonc_owned(json_object_new_array_ext(nitems));
	call->nitems = nitems;
	call->ids = palloc(sizeof(char *) * Max(nitems, 1));
	for (i = 0; i < nitems; i++)
	{
		json_object *item = json_object_new_object();
		/* row i of the nitems x VELT_USER_NFIELDS array */
		const Datum *row = &elems[(size_t) i * VELT_USER_NFIELDS];
		const bool *row_nulls = &nulls[(size_t) i * VELT_USER_NFIELDS];
		int			f;

		json_object_array_add(items, item);		/* owned from here on */
		if (row_nulls[0])
			elog(ERROR, "velt.outbox item_values has a row without a user ID");
		call->ids[i] = TextDatumGetCString(row[0]);

		for (f = 0; f < VELT_USER_NFIELDS; f++)
		{
			Datum		value = row[f];

			if (row_nulls[f])
				continue;
			json_object_object_add(item, velt_user_fields[f],
								   json_object_new_string_len(VARDATA_ANY(DatumGetPointer(value)),
															  VARSIZE_ANY_EXHDR(DatumGetPointer(value))));
		}
	}
	return items;
}

static json_object *
parse_stored_json(const char *text, int64 op_id, const char *column)
{
	char		reason[160];
	json_object *obj = velt_json_parse(text, strlen(text), reason, sizeof(reason));

	if (obj == NULL)
		elog(ERROR, "velt.outbox operation " INT64_FORMAT " has unreadable %s: %s",
			 op_id, column, reason);
	return velt_jsonc_owned(obj);
}

/*
 * Takes due operations, oldest commit first, locking them and their
 * organizations, until they hold max_items items.  Returns the number of
 * items taken (an operation without items counts as one).
 */
static int
take_operations(Drain *drain, int max_items)
{
	/*
	 * The organizations that wait (an operation awaits a retry) are found
	 * once, with the first waiting operation of each, rather than by a
	 * subquery per candidate: that was quadratic, and 100,000 queued
	 * one-user operations took minutes per round.  "Now" is one value for
	 * the whole statement.
	 */
	static const char *sql =
		"WITH waiting AS ("
		"  SELECT DISTINCT ON (e.target) e.target, "
		"         COALESCE(ec.seq, 9223372036854775807) AS seq, e.id "
		"  FROM velt.outbox e JOIN velt.commit_order ec ON ec.xact = e.xact "
		"  WHERE e.state = 'pending' AND e.next_attempt_at > $2 "
		"  ORDER BY e.target, 2, 3) "
		"SELECT o.id, o.endpoint, o.target, o.fixed::pg_catalog.text, o.items, "
		"       o.ids, o.attempts, o.enqueued_at, o.item_values "
		"FROM velt.outbox o JOIN velt.commit_order c ON c.xact = o.xact "
		"     LEFT JOIN waiting w ON w.target = o.target "
		"WHERE o.state = 'pending' "
		"  AND o.next_attempt_at <= $2 "
		"  AND o.xact IS DISTINCT FROM pg_catalog.pg_current_xact_id_if_assigned() "
		/* an organization waits while an earlier operation of it awaits a retry */
		"  AND (w.target IS NULL OR "
		"       (COALESCE(c.seq, 9223372036854775807), o.id) < (w.seq, w.id)) "
		"  AND pg_catalog.pg_try_advisory_xact_lock(1986356340, pg_catalog.hashtext(o.target)) "
		"ORDER BY c.seq NULLS LAST, o.id "
		"LIMIT $1 "
		"FOR UPDATE OF o SKIP LOCKED";
	Oid			types[2] = {INT4OID, TIMESTAMPTZOID};
	Datum		values[2];
	int			rc;
	uint64		i;
	int			items = 0;
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = Int32GetDatum(max_items);
	values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
	rc = SPI_execute_with_args(sql, 2, types, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read velt.outbox: %s", SPI_result_code_string(rc));

	drain->ops = MemoryContextAllocZero(cxt, sizeof(OutboxOp) * Max(SPI_processed, 1));
	drain->nops = 0;
	for (i = 0; i < SPI_processed && items < max_items; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		OutboxOp   *op = &drain->ops[drain->nops];
		MemoryContext old = MemoryContextSwitchTo(cxt);
		char	   *endpoint_path = SPI_getvalue(tuple, desc, 2);
		bool		isnull;
		bool		no_items;
		Datum		items_datum = SPI_getbinval(tuple, desc, 5, &no_items);
		ArrayType  *ids;
		Datum	   *elems;
		int			nelems;
		int			j;

		op->id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		op->call.endpoint = endpoint_by_path(endpoint_path);
		if (op->call.endpoint == NULL)
			elog(ERROR, "velt.outbox operation " INT64_FORMAT " names unknown endpoint \"%s\"",
				 op->id, endpoint_path);
		op->target = SPI_getvalue(tuple, desc, 3);
		/* parsed once per request made (place_piece), not per operation */
		op->fixed_key = SPI_getvalue(tuple, desc, 4);
		ids = DatumGetArrayTypePCopy(SPI_getbinval(tuple, desc, 6, &isnull));
		deconstruct_array(ids, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &nelems);
		op->call.nitems = nelems;
		op->call.ids = palloc(sizeof(char *) * Max(nelems, 1));
		for (j = 0; j < nelems; j++)
			op->call.ids[j] = TextDatumGetCString(elems[j]);
		if (!no_items)
		{
			/* kept as jsonb: converted a request's worth at a time when sent */
			op->call.items_jsonb = DatumGetJsonbPCopy(items_datum);
		}
		else
		{
			Datum		rows = SPI_getbinval(tuple, desc, 9, &isnull);

			/* else an ID list (the ids are the items) or delete_all */
			if (!isnull)
				op->call.items = items_from_rows(rows, &op->call);
		}
		op->attempts = DatumGetInt32(SPI_getbinval(tuple, desc, 7, &isnull));
		op->enqueued_at = SPI_getbinval(tuple, desc, 8, &isnull);
		op->outcome = OP_UNSENT;
		op->retry_after_s = -1;
		op->answered = palloc0(sizeof(bool) * Max(op->call.nitems, 1));
		MemoryContextSwitchTo(old);

		items += Max(op->call.nitems, 1);
		drain->nops++;
	}
	return items;
}

static OutboxTarget *
target_for(Drain *drain, const char *name)
{
	OutboxTarget *entry;
	bool		found;
	char		key[NAMEDATALEN * 4];

	strlcpy(key, name, sizeof(key));
	entry = hash_search(drain->target_hash, key, HASH_ENTER, &found);
	if (!found)
	{
		entry->batches = NIL;
		drain->targets = lappend(drain->targets, entry);
	}
	return entry;
}

static HTAB *
new_id_set(void)
{
	HASHCTL		ctl;

	ctl.keysize = VELT_ID_KEY_SIZE;
	ctl.entrysize = sizeof(IdKey);
	ctl.hcxt = CurrentMemoryContext;
	return hash_create("velt batch ids", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

static bool
piece_touches(const Drain *drain, const Piece *piece, HTAB *ids)
{
	const OutboxOp *op = &drain->ops[piece->op];
	int			i;

	if (ids == NULL)
		return false;
	for (i = piece->first; i < piece->first + piece->count; i++)
	{
		char		key[VELT_ID_KEY_SIZE];

		strlcpy(key, op->call.ids[i], sizeof(key));
		if (hash_search(ids, key, HASH_FIND, NULL) != NULL)
			return true;
	}
	return false;
}

static void
batch_add_piece(Drain *drain, Batch *batch, const Piece *piece)
{
	const OutboxOp *op = &drain->ops[piece->op];
	Piece	   *copy = palloc(sizeof(Piece));
	int			i;

	*copy = *piece;
	batch->pieces = lappend(batch->pieces, copy);
	batch->nitems += piece->count;
	for (i = piece->first; i < piece->first + piece->count; i++)
	{
		char		key[VELT_ID_KEY_SIZE];

		strlcpy(key, op->call.ids[i], sizeof(key));
		(void) hash_search(batch->ids, key, HASH_ENTER, NULL);
	}
}

/*
 * Places one piece: into the latest batch with the same endpoint and fixed
 * data if it has room and nothing after it touches the piece's IDs,
 * otherwise into a new batch at the end.
 */
static void
place_piece(Drain *drain, OutboxTarget *target, const Piece *piece)
{
	OutboxOp   *op = &drain->ops[piece->op];
	Batch	   *batch;
	int			i;

	if (velt_call_has_items(&op->call))
	{
		for (i = list_length(target->batches) - 1; i >= 0; i--)
		{
			Batch	   *candidate = list_nth(target->batches, i);

			if (candidate->barrier)
				break;
			if (candidate->endpoint == op->call.endpoint &&
				strcmp(candidate->fixed_key, op->fixed_key) == 0)
			{
				if (candidate->nitems + piece->count <= drain->batch_size &&
					!piece_touches(drain, piece, candidate->ids))
				{
					batch_add_piece(drain, candidate, piece);
					return;
				}
				break;
			}
			if (piece_touches(drain, piece, candidate->ids))
				break;
		}
	}

	batch = palloc0(sizeof(Batch));
	batch->endpoint = op->call.endpoint;
	batch->fixed_key = op->fixed_key;
	batch->fixed = parse_stored_json(op->fixed_key, op->id, "fixed");
	batch->barrier = !velt_call_has_items(&op->call);
	batch->ids = new_id_set();
	batch_add_piece(drain, batch, piece);
	target->batches = lappend(target->batches, batch);
}

static void
coalesce(Drain *drain)
{
	HASHCTL		ctl;
	int			i;

	ctl.keysize = NAMEDATALEN * 4;
	ctl.entrysize = sizeof(OutboxTarget);
	ctl.hcxt = CurrentMemoryContext;
	drain->target_hash = hash_create("velt targets", 64, &ctl,
									 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	drain->targets = NIL;

	for (i = 0; i < drain->nops; i++)
	{
		OutboxOp   *op = &drain->ops[i];
		OutboxTarget *target = target_for(drain, op->target);
		Piece		piece;

		piece.op = i;
		if (!velt_call_has_items(&op->call))
		{
			piece.first = 0;
			piece.count = 0;
			op->pieces_left = 1;
			place_piece(drain, target, &piece);
			continue;
		}
		op->pieces_left = 0;
		for (piece.first = 0; piece.first < op->call.nitems; piece.first += drain->batch_size)
		{
			piece.count = Min(drain->batch_size, op->call.nitems - piece.first);
			op->pieces_left++;
			place_piece(drain, target, &piece);
		}
	}
}

/* What a batch's sink needs to map an item back to its operation. */
typedef struct BatchSink
{
	Drain	   *drain;
	int		   *item_op;		/* operation of each item in the request */
	int		   *item_pos;		/* its position in that operation */
	int			delete_all_op;	/* for delete_all: the one operation */
} BatchSink;

static void
record_result(void *arg, const VeltItemResult *r)
{
	BatchSink  *sink = (BatchSink *) arg;
	int			opno = sink->item_op ? sink->item_op[r->index] : sink->delete_all_op;
	OutboxOp   *op = &sink->drain->ops[opno];

	if (sink->item_op)
	{
		/*
		 * An answer that names no result for an ID has not delivered it:
		 * the item stays in the operation, which is retried (and in the end
		 * dead-lettered), rather than being dropped as if Velt had it.
		 */
		if (r->success < 0)
		{
			op->unanswered++;
			return;
		}
		op->answered[sink->item_pos[r->index]] = true;
	}
	result_rows_add(&sink->drain->rows, op, r->id, r->success, r->velt_id,
					r->message, r->result, r->result_isnull, NULL);
}

static char *
describe_failure(const VeltExchange *ex)
{
	switch (ex->kind)
	{
		case VELT_ANSWER_TRANSPORT:
			return psprintf("POST %s: no answer: %s (libcurl: %s)", ex->path,
							ex->http.reason, ex->http.libcurl_error);
		case VELT_ANSWER_ERROR:
			return psprintf("POST %s: HTTP %ld %s: %s", ex->path, ex->http.status,
							ex->envelope.error_status ? ex->envelope.error_status : "",
							ex->envelope.message ? ex->envelope.message : "no Velt error description");
		case VELT_ANSWER_INVALID:
			return psprintf("POST %s: HTTP %ld: not a Velt envelope: %s", ex->path,
							ex->http.status, ex->envelope.invalid_reason);
		case VELT_ANSWER_MALFORMED:
			return psprintf("POST %s: HTTP %ld: %s", ex->path, ex->http.status,
							ex->malformed_reason);
		case VELT_ANSWER_OK:
			break;
	}
	return pstrdup("no failure");
}

/* Whether the outbox should try a failed exchange again later. */
static bool
worth_retrying(const VeltExchange *ex)
{
	switch (ex->kind)
	{
		case VELT_ANSWER_TRANSPORT:
			/* even TLS and URL trouble: a fixed setting lets it through */
			return true;
		case VELT_ANSWER_ERROR:
			/* 401/403: credentials being rotated must not reject the queue */
			return ex->http.status == 429 || ex->http.status >= 500 ||
				ex->http.status == 401 || ex->http.status == 403 ||
				(ex->http.status >= 200 && ex->http.status < 300 &&
				 ex->envelope.error_status &&
				 (strcmp(ex->envelope.error_status, "UNAVAILABLE") == 0 ||
				  strcmp(ex->envelope.error_status, "RESOURCE_EXHAUSTED") == 0 ||
				  strcmp(ex->envelope.error_status, "INTERNAL") == 0));
		case VELT_ANSWER_INVALID:
		case VELT_ANSWER_MALFORMED:
			/* a proxy's page or a broken answer: likely to pass */
			return true;
		case VELT_ANSWER_OK:
			break;
	}
	return false;
}

static void
note_failure(Drain *drain, const Batch *batch, const VeltExchange *ex)
{
	bool		retry = worth_retrying(ex);
	/* in the drain's context: the request's context is gone before settle */
	char	   *error = MemoryContextStrdup(drain->rows.cxt, describe_failure(ex));
	ListCell   *lc;

	foreach(lc, batch->pieces)
	{
		Piece	   *piece = lfirst(lc);
		OutboxOp   *op = &drain->ops[piece->op];

		op->pieces_left--;
		op->last_error = error;
		if (retry)
		{
			op->outcome = OP_RETRY;
			op->retry_after_s = Max(op->retry_after_s, ex->http.retry_after_s);
		}
		else if (op->outcome != OP_RETRY)
			op->outcome = OP_REJECTED;
	}
}

/*
 * Sends one batch.  Returns false when it failed in a way that will be
 * retried: later batches of the organization must then wait, or they
 * could overtake it.
 */
static bool
send_batch(Drain *drain, Batch *batch, VeltDrainSummary *summary)
{
	VeltCall	call;
	BatchSink	sink;
	VeltExchange ex;
	ListCell   *lc;
	int			n = 0;
	bool		complete = true;

	memset(&call, 0, sizeof(call));
	call.endpoint = batch->endpoint;
	call.fixed = batch->fixed;
	sink.drain = drain;
	sink.item_op = NULL;
	sink.delete_all_op = -1;

	if (batch->barrier)
		sink.delete_all_op = ((Piece *) linitial(batch->pieces))->op;
	else
	{
		call.items = velt_jsonc_owned(json_object_new_array_ext(batch->nitems));
		call.ids = palloc(sizeof(char *) * batch->nitems);
		sink.item_op = palloc(sizeof(int) * batch->nitems);
		sink.item_pos = palloc(sizeof(int) * batch->nitems);
		foreach(lc, batch->pieces)
		{
			Piece	   *piece = lfirst(lc);
			OutboxOp   *op = &drain->ops[piece->op];
			int			i;

			for (i = piece->first; i < piece->first + piece->count; i++)
			{
				velt_call_append_item(&op->call, i, call.items);
				call.ids[n] = op->call.ids[i];
				sink.item_op[n] = piece->op;
				sink.item_pos[n] = i;
				n++;
			}
		}
		call.nitems = n;
	}

	foreach(lc, batch->pieces)
		drain->ops[((Piece *) lfirst(lc))->op].started = true;
	summary->requests++;
	if (!velt_send_items(&call, 0, call.nitems, 0, &ex, record_result, &sink))
	{
		note_failure(drain, batch, &ex);
		return !worth_retrying(&ex);
	}
	foreach(lc, batch->pieces)
	{
		Piece	   *piece = lfirst(lc);
		OutboxOp   *op = &drain->ops[piece->op];

		op->pieces_left--;
		if (op->unanswered > 0 && op->outcome != OP_RETRY)
		{
			op->outcome = OP_RETRY;
			op->last_error = MemoryContextStrdup(drain->rows.cxt,
												 psprintf("POST %s: HTTP %ld: Velt's answer has no result for %d of the IDs sent",
														  ex.path, ex.http.status, op->unanswered));
			complete = false;
		}
		else if (op->outcome == OP_UNSENT && op->pieces_left == 0)
			op->outcome = OP_DELIVERED;
	}
	/* unanswered items are retried: later batches must not overtake them */
	return complete;
}

static bool
batch_finishes_started_op(const Drain *drain, const Batch *batch)
{
	ListCell   *lc;

	foreach(lc, batch->pieces)
	{
		if (drain->ops[((Piece *) lfirst(lc))->op].started)
			return true;
	}
	return false;
}

static void
run_spi(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "velt outbox bookkeeping failed (%s): %s",
			 SPI_result_code_string(rc), sql);
}

static Datum
array_of(ArrayBuildState *state)
{
	return makeArrayResult(state, CurrentMemoryContext);
}

/*
 * A retried operation keeps only the items Velt has not answered: resending
 * answered ones later could undo operations delivered after them.
 */
static void
drop_answered_items(const OutboxOp *op)
{
	json_object *items;
	Datum	   *ids;
	int			n = 0;
	int			i;
	Oid			types[3] = {INT8OID, JSONBOID, TEXTARRAYOID};
	Datum		values[3];

	for (i = 0; i < op->call.nitems; i++)
		if (op->answered[i])
			break;
	if (i == op->call.nitems)
		return;					/* nothing answered: keep it as it is */

	items = velt_jsonc_owned(json_object_new_array());
	ids = palloc(sizeof(Datum) * op->call.nitems);
	for (i = 0; i < op->call.nitems; i++)
	{
		if (op->answered[i])
			continue;
		velt_call_append_item(&op->call, i, items);
		ids[n++] = CStringGetTextDatum(op->call.ids[i]);
	}
	values[0] = Int64GetDatum(op->id);
	values[1] = velt_jsonc_to_jsonb(items);
	values[2] = PointerGetDatum(construct_array(ids, n, TEXTOID, -1, false, TYPALIGN_INT));
	run_spi("UPDATE velt.outbox SET items = $2, ids = $3, item_values = NULL WHERE id = $1",
			3, types, values, SPI_OK_UPDATE);
}

/* Writes the outcome of every operation and the per-ID results. */
static void
settle(Drain *drain, VeltDrainSummary *summary)
{
	ArrayBuildState *done = initArrayResult(INT8OID, CurrentMemoryContext, false);
	/* operations that stay: retried (pending, ms set) or final (ms NULL) */
	ArrayBuildState *change_id = initArrayResult(INT8OID, CurrentMemoryContext, false);
	ArrayBuildState *change_state = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	ArrayBuildState *change_ms = initArrayResult(INT8OID, CurrentMemoryContext, false);
	ArrayBuildState *change_err = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	int			ndone = 0;
	int			nretry = 0;
	int			nfinal = 0;
	int			i;

	for (i = 0; i < drain->nops; i++)
	{
		OutboxOp   *op = &drain->ops[i];
		int			items = op->call.nitems;
		int			j;

		switch (op->outcome)
		{
			case OP_UNSENT:
				break;
			case OP_DELIVERED:
				accumArrayResult(done, Int64GetDatum(op->id), false, INT8OID, CurrentMemoryContext);
				summary->delivered += items;
				summary->settled++;
				ndone++;
				break;
			case OP_RETRY:
				if (op->attempts + 1 < velt_max_attempts)
				{
					long		wait_ms = velt_backoff_ms(op->attempts + 1, 1000.0,
														  velt_outbox_retry_max_delay_ms,
														  op->retry_after_s);

					drop_answered_items(op);
					accumArrayResult(change_id, Int64GetDatum(op->id), false, INT8OID, CurrentMemoryContext);
					accum_text(change_state, "pending", CurrentMemoryContext, TEXTOID);
					accumArrayResult(change_ms, Int64GetDatum(wait_ms), false, INT8OID, CurrentMemoryContext);
					accum_text(change_err, op->last_error, CurrentMemoryContext, TEXTOID);
					summary->retried += items;
					nretry++;
					break;
				}
				/* out of attempts: dead-letter it */
				/* FALLTHROUGH */
			case OP_REJECTED:
				accumArrayResult(change_id, Int64GetDatum(op->id), false, INT8OID, CurrentMemoryContext);
				accum_text(change_state, op->outcome == OP_REJECTED ? "rejected" : "dead",
						   CurrentMemoryContext, TEXTOID);
				accumArrayResult(change_ms, (Datum) 0, true, INT8OID, CurrentMemoryContext);
				accum_text(change_err, op->last_error, CurrentMemoryContext, TEXTOID);
				for (j = 0; j < items; j++)
				{
					/* items Velt did answer keep that answer */
					if (op->answered && op->answered[j])
						continue;
					result_rows_add(&drain->rows, op, op->call.ids[j], -1, NULL,
									op->outcome == OP_REJECTED ? "rejected by Velt" : "dead-lettered after retries",
									(Datum) 0, true, op->last_error);
				}
				summary->failed += items;
				summary->settled++;
				nfinal++;
				break;
		}
	}

	if (drain->rows.count > 0)
	{
		Oid			types[10] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, BOOLARRAYOID,
			TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
		TIMESTAMPTZARRAYOID};
		Datum		values[10];

		values[0] = array_of(drain->rows.op_id);
		values[1] = array_of(drain->rows.endpoint);
		values[2] = array_of(drain->rows.id);
		values[3] = array_of(drain->rows.success);
		values[4] = array_of(drain->rows.velt_id);
		values[5] = array_of(drain->rows.message);
		values[6] = array_of(drain->rows.result);
		values[7] = array_of(drain->rows.attempts);
		values[8] = array_of(drain->rows.last_error);
		values[9] = array_of(drain->rows.enqueued_at);
		run_spi("INSERT INTO velt.results (operation_id, endpoint, id, success, velt_id, "
				"  message, result, attempts, last_error, enqueued_at) "
				"SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
				"ON CONFLICT (operation_id, id) DO UPDATE SET success = EXCLUDED.success, "
				"  velt_id = EXCLUDED.velt_id, message = EXCLUDED.message, "
				"  result = EXCLUDED.result, attempts = EXCLUDED.attempts, "
				"  last_error = EXCLUDED.last_error, finished_at = EXCLUDED.finished_at",
				10, types, values, SPI_OK_INSERT);
	}
	if (ndone > 0)
	{
		Oid			types[1] = {INT8ARRAYOID};
		Datum		values[1] = {array_of(done)};

		run_spi("DELETE FROM velt.outbox WHERE id = ANY ($1)", 1, types, values, SPI_OK_DELETE);
	}
	if (nretry + nfinal > 0)
	{
		Oid			types[4] = {INT8ARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID};
		Datum		values[4] = {array_of(change_id), array_of(change_state),
			array_of(change_ms), array_of(change_err)};

		/* retried ones stay pending with a later next_attempt_at */
		run_spi("UPDATE velt.outbox o SET attempts = o.attempts + 1, last_error = u.err, "
				"  state = u.state, next_attempt_at = CASE WHEN u.ms IS NULL THEN o.next_attempt_at "
				"    ELSE pg_catalog.clock_timestamp() + u.ms * interval '1 millisecond' END "
				"FROM unnest($1, $2, $3, $4) AS u(id, state, ms, err) WHERE o.id = u.id",
				4, types, values, SPI_OK_UPDATE);
	}
}

/* Removes what is no longer needed: commit stamps and old results. */
static void
tidy_up(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(velt_result_retention_s)};

	run_spi("DELETE FROM velt.commit_order WHERE xact IN ("
			"  SELECT c.xact FROM velt.commit_order c WHERE c.seq IS NOT NULL "
			"  AND NOT EXISTS (SELECT 1 FROM velt.outbox o WHERE o.xact = c.xact) "
			"  FOR UPDATE SKIP LOCKED)",
			0, NULL, NULL, SPI_OK_DELETE);
	run_spi("DELETE FROM velt.results WHERE finished_at < "
			"pg_catalog.clock_timestamp() - $1 * interval '1 second'",
			1, types, values, SPI_OK_DELETE);
}

static TimestampTz
next_due(void)
{
	int			rc = SPI_execute("SELECT min(next_attempt_at) FROM velt.outbox "
								 "WHERE state = 'pending'", false, 1);
	bool		isnull;
	Datum		d;

	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetTimestampTz(d);
}

void
velt_outbox_drain(int max_items, double max_seconds, VeltDrainSummary *summary)
{
	instr_time	start;
	instr_time	now;
	MemoryContext drain_cxt;
	MemoryContext old;
	int			taken = 0;
	bool		credentials_checked = false;

	memset(summary, 0, sizeof(*summary));
	INSTR_TIME_SET_CURRENT(start);

	drain_cxt = AllocSetContextCreate(CurrentMemoryContext, "velt drain",
									  ALLOCSET_DEFAULT_SIZES);
	while (taken < max_items)
	{
		Drain		drain;
		ListCell   *tc;
		bool		out_of_time = false;
		int			round_items;

		old = MemoryContextSwitchTo(drain_cxt);
		memset(&drain, 0, sizeof(drain));
		drain.batch_size = velt_batch_size;
		result_rows_init(&drain.rows);

		round_items = take_operations(&drain, max_items - taken);
		/* SPI leaves us in its own context; the round's work belongs here */
		MemoryContextSwitchTo(drain_cxt);
		if (drain.nops > 0 && !credentials_checked)
		{
			velt_require_credentials();
			credentials_checked = true;
		}
		taken += round_items;
		coalesce(&drain);

		foreach(tc, drain.targets)
		{
			OutboxTarget *target = lfirst(tc);
			ListCell   *bc;
			bool		blocked = false;

			foreach(bc, target->batches)
			{
				Batch	   *batch = lfirst(bc);
				MemoryContext batch_cxt = AllocSetContextCreate(CurrentMemoryContext,
																"velt outbox request",
																ALLOCSET_DEFAULT_SIZES);
				MemoryContext outer = MemoryContextSwitchTo(batch_cxt);

				INSTR_TIME_SET_CURRENT(now);
				INSTR_TIME_SUBTRACT(now, start);
				if (INSTR_TIME_GET_DOUBLE(now) >= max_seconds)
				{
					/*
					 * Out of time: send only what finishes operations already
					 * under way, and nothing once a batch has been held back
					 * (it must not be overtaken).  An operation cut short stays
					 * pending whole and is sent again.
					 */
					out_of_time = true;
					if (blocked || !batch_finishes_started_op(&drain, batch))
					{
						/* nothing after a skipped batch may overtake it */
						blocked = true;
						MemoryContextSwitchTo(outer);
						MemoryContextDelete(batch_cxt);
						continue;
					}
				}
				if (!blocked && !send_batch(&drain, batch, summary))
					blocked = true;	/* the rest waits for the retry */
				MemoryContextSwitchTo(outer);
				/* the per-ID rows were copied into the drain context */
				MemoryContextDelete(batch_cxt);
			}
		}
		settle(&drain, summary);
		MemoryContextSwitchTo(old);
		MemoryContextReset(drain_cxt);

		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		if (out_of_time || INSTR_TIME_GET_DOUBLE(now) >= max_seconds)
			break;
		/* no work, or a round in which everything taken was settled */
		if (drain.nops == 0 || round_items == 0)
			break;
	}
	MemoryContextDelete(drain_cxt);

	tidy_up();
	summary->next_due = next_due();
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	summary->seconds = INSTR_TIME_GET_DOUBLE(now);
}
