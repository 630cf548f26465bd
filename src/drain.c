/*-------------------------------------------------------------------------
 *
 * drain.c
 *		Delivering the outbox: take, coalesce, send, settle.
 *
 * A drain (velt_process_outbox or the worker) runs rounds (the words are
 * defined in outbox.h).  A round takes committed, due operations in
 * commit order, coalesces those with the same endpoint and fixed data
 * into batches of up to velt.batch_size items, sends them, and settles:
 * each ID's outcome goes to velt.outcomes, each operation is deleted,
 * rescheduled or marked failed.
 *
 * Order: operations are taken in (commit sequence, id) order; an operation
 * may join an earlier request only if no request between them touches one
 * of its IDs, so operations on one ID reach Velt in commit order.  A
 * barrier (a delete_all, and an operation the catalog sends alone: see
 * op_alone) keeps everything before it before and everything after it
 * after.  Requests that touch no common ID are in flight
 * together (up to velt.max_concurrency, through flight.c); one that
 * touches an ID of an earlier one starts once that one is done (see
 * "Order of sending").  Concurrent drains lock whole organizations
 * (advisory locks), so they never reorder one organization's operations
 * and never send one operation twice.
 *
 * Failures: what velt_worth_retrying (exchange.h) deems worth a later
 * attempt is retried with exponential backoff and jitter (at least
 * Retry-After): the operation again, less the items Velt has answered or
 * refused for good, batched with its peers; after
 * velt.max_attempts the operation is dead-lettered.  Other answers are
 * final (state "rejected").  A drain that dies half-way leaves its
 * operations pending: delivery is at least once.
 *
 * Memory: everything of a round lives in the round's context (Drain.cxt),
 * reset after it settles; each request's json-c objects and answer live in
 * a context of their own, deleted once it is answered.  SPI calls leave
 * SPI's context current, so the functions here that call SPI switch back
 * to the round's context right after (see run_spi).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "api.h"
#include "drain.h"
#include "endpoints.h"
#include "jsonc_pg.h"
#include "outbox.h"
#include "settings.h"
#include "stats.h"

/*
 * Advisory lock class for "this drain owns this organization" (the second
 * key is hashtext(target)).  Written into take_operations' SQL from here.
 */
#define VELT_TARGET_LOCK_CLASS 1986356340

/* Longest ID kept exactly in a batch's ID set; longer ones are truncated,
 * which can only make two IDs look alike and so only splits batches. */
#define VELT_ID_KEY_SIZE 128

/* Longest target name kept exactly as a hash key (the same rule). */
#define VELT_TARGET_KEY_SIZE (NAMEDATALEN * 4)

/* The columns of take_operations' query, as SPI numbers them. */
#define Anum_take_id			1
#define Anum_take_endpoint		2
#define Anum_take_target		3
#define Anum_take_fixed			4
#define Anum_take_items			5
#define Anum_take_ids			6
#define Anum_take_attempts		7
#define Anum_take_enqueued_at	8
#define Anum_take_item_values	9
#define Anum_take_seq			10

/* The commit sequence of an operation whose transaction has no stamp. */
#define VELT_UNSTAMPED_SEQ "9223372036854775807"

/* What sending did for an operation, as the round goes. */
typedef enum OpOutcome
{
	OP_UNSENT,					/* not attempted in this drain */
	OP_DELIVERED,				/* every item answered */
	OP_RETRY,					/* a retryable failure */
	OP_REJECTED					/* a final failure */
} OpOutcome;

/* One operation taken by the round. */
typedef struct OutboxOp
{
	int64		id;
	VeltCall	call;			/* endpoint, items, ids (not fixed) */
	const char *fixed_key;		/* canonical text of fixed */
	char	   *target;
	int			attempts;
	Datum		enqueued_at;
	int64		seq;			/* commit sequence (VELT_UNSTAMPED_SEQ: none) */
	bool		blocker;		/* awaits its retry: not sent, but what
								 * conflicts with it waits behind it */
	OpOutcome	outcome;
	bool		started;		/* a request carried some of its items */
	bool	   *answered;		/* per item: settled, answered by Velt or
								 * refused for good (its row is written) */
	int			unanswered;		/* items a 2xx answer said nothing about */
	int			rejected;		/* items Velt refused for good */
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

/* What a batch's sink needs to map an item back to its operation. */
typedef struct BatchSink
{
	struct Drain *drain;
	int		   *item_op;		/* operation of each item in the request */
	int		   *item_pos;		/* its position in that operation */
	int			delete_all_op;	/* for delete_all: the one operation */
	int			unanswered;		/* IDs its 2xx answer said nothing about */
} BatchSink;

/* Where a batch stands in the round's sending. */
typedef enum BatchState
{
	BATCH_WAITING,				/* for earlier batches it depends on */
	BATCH_READY,				/* queued to start */
	BATCH_SENT,					/* handed to the engine */
	BATCH_DONE,					/* delivered or rejected: releases the rest */
	BATCH_HELD					/* to be retried, or skipped: holds its
								 * dependents back */
} BatchState;

/* One request's worth of pieces, all with the same endpoint and fixed. */
typedef struct Batch
{
	VeltFlight	flight;			/* first: a flight is its batch */
	const VeltEndpoint *endpoint;
	const char *fixed_key;
	json_object *fixed;
	List	   *shared;			/* fixed's values that name things (char *) */
	List	   *pieces;
	int			nitems;
	bool		barrier;		/* nothing may move across it (op_alone) */
	bool		held;			/* of a blocker: never sent this round */
	HTAB	   *ids;

	/* sending: see "Order of sending" */
	BatchState	state;
	int			serial;			/* position in the round, from 1 */
	int			waiting_on;		/* batches it depends on, not yet done */
	List	   *dependents;		/* Batch *: those that depend on it */
	int			last_dependent; /* serial of the last one added */
	VeltCall	call;			/* its request, while it is in flight */
	BatchSink	sink;
} Batch;

/* One organization's batches, in the order they are sent. */
typedef struct OutboxTarget
{
	char		name[VELT_TARGET_KEY_SIZE];
	List	   *batches;
} OutboxTarget;

/* An entry of a batch's ID set. */
typedef struct IdKey
{
	char		id[VELT_ID_KEY_SIZE];
} IdKey;

/* Per-ID rows for velt.outcomes, gathered column by column. */
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
	MemoryContext cxt;			/* the round's context */
} ResultRows;

/* One round. */
typedef struct Drain
{
	MemoryContext cxt;			/* the round's context: all of the below */
	OutboxOp   *ops;
	int			nops;
	List	   *targets;		/* OutboxTarget *, in order of appearance */
	HTAB	   *target_hash;
	ResultRows	rows;
	int			batch_size;
	TimestampTz now;			/* when the round began: what is due */

	/* the one-entry cache of fixed_of: the last fixed data parsed */
	const char *cached_fixed_key;
	json_object *cached_fixed;
	List	   *cached_shared;

	/* sending */
	Batch	  **ready;			/* queue of batches free to start */
	int			ready_head;
	int			ready_tail;
	const instr_time *start;
	double		max_seconds;
	bool		out_of_time;	/* a batch was skipped for want of time */
	VeltDrainSummary *summary;
} Drain;

/* ---------------------------------------------------------------------
 * Per-ID result rows
 * ---------------------------------------------------------------------
 */

/* Starts empty result columns in cxt. */
static void
result_rows_init(ResultRows *rows, MemoryContext cxt)
{
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

/* Appends a C string (NULL for SQL NULL) to a text column. */
static void
accum_text(ArrayBuildState *state, const char *value, MemoryContext cxt)
{
	accumArrayResult(state, value ? CStringGetTextDatum(value) : (Datum) 0,
					 value == NULL, TEXTOID, cxt);
}

/* Appends one ID's outcome for an operation, copied into rows->cxt. */
static void
result_rows_add(ResultRows *rows, const OutboxOp *op, const char *id,
				int success, const char *velt_id, const char *message,
				Datum result, bool result_isnull, const char *last_error)
{
	MemoryContext cxt = rows->cxt;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	accumArrayResult(rows->op_id, Int64GetDatum(op->id), false, INT8OID, cxt);
	accum_text(rows->endpoint, op->call.endpoint->path, cxt);
	accum_text(rows->id, id, cxt);
	accumArrayResult(rows->success, BoolGetDatum(success == 1), success < 0, BOOLOID, cxt);
	accum_text(rows->velt_id, velt_id, cxt);
	accum_text(rows->message, message, cxt);
	accumArrayResult(rows->result, result_isnull ? (Datum) 0 : datumCopy(result, false, -1),
					 result_isnull, JSONBOID, cxt);
	accumArrayResult(rows->attempts, Int32GetDatum(op->attempts + 1), false, INT4OID, cxt);
	accum_text(rows->last_error, last_error, cxt);
	accumArrayResult(rows->enqueued_at, op->enqueued_at, false, TIMESTAMPTZOID, cxt);
	rows->count++;
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------------
 * Taking operations
 * ---------------------------------------------------------------------
 */

/*
 * Runs one bookkeeping statement and checks its result code.  Returns in
 * the caller's memory context, not SPI's.
 */
static void
run_spi(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	MemoryContextSwitchTo(cxt);
	if (rc != expected)
		elog(ERROR, "velt outbox bookkeeping failed (%s): %s",
			 SPI_result_code_string(rc), sql);
}

/*
 * The catalog's endpoint for a stored path, or NULL.  A velt_enqueue_request
 * operation's endpoint is made for it, in CurrentMemoryContext.
 */
static const VeltEndpoint *
endpoint_by_path(const char *path)
{
	int			i;

	if (strncmp(path, VELT_REQUEST_ENDPOINT_PREFIX, strlen(VELT_REQUEST_ENDPOINT_PREFIX)) == 0)
	{
		VeltEndpoint *ep = palloc0(sizeof(VeltEndpoint));

		ep->sql_name = "velt_enqueue_request";
		ep->path = pstrdup(path + strlen(VELT_REQUEST_ENDPOINT_PREFIX));
		ep->outbox = VELT_OUTBOX_REQUEST;
		return ep;
	}

	for (i = 0; i < VELT_EP_COUNT; i++)
	{
		if (strcmp(velt_endpoints[i].path, path) == 0)
			return &velt_endpoints[i];
	}
	return NULL;
}

/*
 * Items stored as rows of the velt_user_fields layout (see
 * velt_outbox_insert); the IDs are their first column.
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
		if (row_nulls[VELT_USER_ID])
			elog(ERROR, "velt.outbox item_values has a row without a user ID");
		call->ids[i] = TextDatumGetCString(row[VELT_USER_ID]);

		for (f = 0; f < VELT_USER_NFIELDS; f++)
		{
			Datum		value = row[f];

			if (row_nulls[f])
				continue;
			json_object_object_add(item, velt_user_fields[f].member,
								   json_object_new_string_len(VARDATA_ANY(DatumGetPointer(value)),
															  VARSIZE_ANY_EXHDR(DatumGetPointer(value))));
		}
	}
	return items;
}

/* Parses a stored JSON column of an operation; unreadable is an ERROR. */
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
 * Reads one taken row into op, copying what it keeps into
 * CurrentMemoryContext (the round's: the row itself goes with SPI).
 */
static void
read_operation(OutboxOp *op, HeapTuple tuple, TupleDesc desc)
{
	char	   *endpoint_path = SPI_getvalue(tuple, desc, Anum_take_endpoint);
	bool		isnull;
	bool		no_items;
	Datum		items_datum = SPI_getbinval(tuple, desc, Anum_take_items, &no_items);
	ArrayType  *ids;
	Datum	   *elems;
	int			nelems;
	int			j;

	op->id = DatumGetInt64(SPI_getbinval(tuple, desc, Anum_take_id, &isnull));
	op->call.endpoint = endpoint_by_path(endpoint_path);
	if (op->call.endpoint == NULL)
		elog(ERROR, "velt.outbox operation " INT64_FORMAT " names unknown endpoint \"%s\"",
			 op->id, endpoint_path);
	op->target = SPI_getvalue(tuple, desc, Anum_take_target);
	/* parsed when a batch needs it (fixed_of), not per operation */
	op->fixed_key = SPI_getvalue(tuple, desc, Anum_take_fixed);
	ids = DatumGetArrayTypePCopy(SPI_getbinval(tuple, desc, Anum_take_ids, &isnull));
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
		Datum		rows = SPI_getbinval(tuple, desc, Anum_take_item_values, &isnull);

		/* else an ID list (the ids are the items) or delete_all */
		if (!isnull)
			op->call.items = items_from_rows(rows, &op->call);
	}
	op->attempts = DatumGetInt32(SPI_getbinval(tuple, desc, Anum_take_attempts, &isnull));
	op->seq = DatumGetInt64(SPI_getbinval(tuple, desc, Anum_take_seq, &isnull));
	op->enqueued_at = SPI_getbinval(tuple, desc, Anum_take_enqueued_at, &isnull);
	op->outcome = OP_UNSENT;
	op->retry_after_s = -1;
	op->answered = palloc0(sizeof(bool) * Max(op->call.nitems, 1));
}

/*
 * The columns every query that reads operations selects, Anum_take_*
 * order; a blocker is never sent, so its items are not read (its IDs are).
 */
#define TAKE_COLUMNS_AROUND(items, item_values) \
	"o.id, o.endpoint, o.target, o.fixed::pg_catalog.text, " items ", o.ids, " \
	"o.attempts, o.enqueued_at, " item_values ", " \
	"COALESCE(c.seq, " VELT_UNSTAMPED_SEQ ") "
#define TAKE_COLUMNS TAKE_COLUMNS_AROUND("o.items", "o.item_values")
#define BLOCKER_COLUMNS TAKE_COLUMNS_AROUND("NULL::pg_catalog.jsonb", "NULL::pg_catalog.text[]")

/*
 * Takes due operations, oldest commit first, locking them and their
 * organizations, until they hold max_items items.  Returns the number of
 * items taken (an operation without items counts as one).  Returns in the
 * round's memory context.
 */
static int
take_operations(Drain *drain, int max_items)
{
	/* "now" is one value for the whole statement */
	static const char *sql =
		"SELECT " TAKE_COLUMNS
		"FROM velt.outbox o JOIN velt.commit_order c ON c.xact = o.xact "
		"WHERE o.state = 'pending' "
		"  AND o.next_attempt_at <= $2 "
		"  AND o.xact IS DISTINCT FROM pg_catalog.pg_current_xact_id_if_assigned() "
		"  AND pg_catalog.pg_try_advisory_xact_lock("
		CppAsString2(VELT_TARGET_LOCK_CLASS) ", pg_catalog.hashtext(o.target)) "
		"ORDER BY c.seq NULLS LAST, o.id "
		"LIMIT $1 "
		"FOR UPDATE OF o SKIP LOCKED";
	Oid			types[2] = {INT4OID, TIMESTAMPTZOID};
	Datum		values[2];
	int			rc;
	uint64		i;
	int			items = 0;

	values[0] = Int32GetDatum(max_items);
	values[1] = TimestampTzGetDatum(drain->now);
	rc = SPI_execute_with_args(sql, 2, types, values, NULL, false, 0);
	/* SPI leaves its own context current; the operations belong to the round */
	MemoryContextSwitchTo(drain->cxt);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read velt.outbox: %s", SPI_result_code_string(rc));

	drain->ops = palloc0(sizeof(OutboxOp) * Max(SPI_processed, 1));
	drain->nops = 0;
	for (i = 0; i < SPI_processed && items < max_items; i++)
	{
		OutboxOp   *op = &drain->ops[drain->nops];

		read_operation(op, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		items += Max(op->call.nitems, 1);
		drain->nops++;
	}
	SPI_freetuptable(SPI_tuptable);
	return items;
}

/* Orders operations by commit sequence, then id. */
static int
op_order(const void *a, const void *b)
{
	const OutboxOp *x = a;
	const OutboxOp *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

/*
 * Adds the blockers: the operations of the taken organizations that await
 * a retry and come before a taken one in commit order.  They are not
 * sent, but a taken operation that conflicts with one waits behind it
 * (see "Order of sending"); the others go ahead.  The organizations are
 * locked already, so no other drain changes them meanwhile.
 */
static void
add_blockers(Drain *drain)
{
	static const char *sql =
		"SELECT " BLOCKER_COLUMNS
		"FROM velt.outbox o JOIN velt.commit_order c ON c.xact = o.xact "
		"  JOIN (SELECT DISTINCT ON (u.target) u.target, u.seq, u.id "
		"        FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
		"                        pg_catalog.unnest($2::pg_catalog.int8[]), "
		"                        pg_catalog.unnest($3::pg_catalog.int8[])) AS u(target, seq, id) "
		"        ORDER BY u.target, u.seq DESC, u.id DESC) t ON t.target = o.target "
		"WHERE o.state = 'pending' AND o.next_attempt_at > $4 "
		"  AND (COALESCE(c.seq, " VELT_UNSTAMPED_SEQ "), o.id) < (t.seq, t.id)";
	Oid			types[4] = {TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZOID};
	Datum		values[4];
	ArrayBuildState *targets = initArrayResult(TEXTOID, drain->cxt, false);
	ArrayBuildState *seqs = initArrayResult(INT8OID, drain->cxt, false);
	ArrayBuildState *ids = initArrayResult(INT8OID, drain->cxt, false);
	int			i;
	int			rc;

	if (drain->nops == 0)
		return;
	for (i = 0; i < drain->nops; i++)
	{
		accum_text(targets, drain->ops[i].target, drain->cxt);
		accumArrayResult(seqs, Int64GetDatum(drain->ops[i].seq), false, INT8OID, drain->cxt);
		accumArrayResult(ids, Int64GetDatum(drain->ops[i].id), false, INT8OID, drain->cxt);
	}
	values[0] = makeArrayResult(targets, drain->cxt);
	values[1] = makeArrayResult(seqs, drain->cxt);
	values[2] = makeArrayResult(ids, drain->cxt);
	values[3] = TimestampTzGetDatum(drain->now);
	rc = SPI_execute_with_args(sql, 4, types, values, NULL, false, 0);
	MemoryContextSwitchTo(drain->cxt);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read velt.outbox: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return;
	drain->ops = repalloc(drain->ops, sizeof(OutboxOp) * (drain->nops + SPI_processed));
	for (i = 0; i < (int) SPI_processed; i++)
	{
		OutboxOp   *op = &drain->ops[drain->nops++];

		memset(op, 0, sizeof(*op));
		read_operation(op, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		op->blocker = true;
	}
	SPI_freetuptable(SPI_tuptable);
	qsort(drain->ops, drain->nops, sizeof(OutboxOp), op_order);
}

/* ---------------------------------------------------------------------
 * Coalescing
 *
 * The round's operations, in commit order, are grouped by target; each
 * target's batches form a list in the order they were made.  Each
 * operation is cut into pieces of at most batch_size items (one without
 * items, such as delete_all, is one empty piece).  A piece and a batch
 * conflict when one's IDs include an ID of the other, or a value the
 * other's fixed data names (a shared key: a document, folder or group).
 * A piece joins the latest batch of its target with the same endpoint and
 * fixed data if that batch has room for it and neither it nor any batch
 * after it conflicts with the piece, and no barrier (see op_alone) lies
 * in between; otherwise it starts a new batch at the end of
 * the list.  Joining an earlier batch moves the piece ahead of the batches
 * in between, which is safe because none of them conflicts with it:
 * operations on one ID still reach Velt in commit order, and no request
 * names an ID twice.
 * ---------------------------------------------------------------------
 */

/*
 * Whether an operation is a barrier, sent alone in its organization's
 * order: one without items (delete_all acts on everything), or one whose
 * endpoint acts on more than its IDs (endpoints.h, VeltOutboxMode).
 */
static bool
op_alone(const OutboxOp *op)
{
	return !velt_call_has_items(&op->call) ||
		op->call.endpoint->outbox != VELT_OUTBOX_MERGED;
}

/* The round's entry for an organization, made on first sight. */
static OutboxTarget *
target_for(Drain *drain, const char *name)
{
	OutboxTarget *entry;
	bool		found;
	char		key[VELT_TARGET_KEY_SIZE];

	strlcpy(key, name, sizeof(key));
	entry = hash_search(drain->target_hash, key, HASH_ENTER, &found);
	if (!found)
	{
		entry->batches = NIL;
		drain->targets = lappend(drain->targets, entry);
	}
	return entry;
}

/* An empty set of IDs, for one batch. */
static HTAB *
new_id_set(void)
{
	HASHCTL		ctl;

	ctl.keysize = VELT_ID_KEY_SIZE;
	ctl.entrysize = sizeof(IdKey);
	ctl.hcxt = CurrentMemoryContext;
	return hash_create("velt batch ids", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Whether key is in the set ids (NULL: none). */
static bool
id_in_set(HTAB *ids, const char *id)
{
	char		key[VELT_ID_KEY_SIZE];

	if (ids == NULL)
		return false;
	strlcpy(key, id, sizeof(key));
	return hash_search(ids, key, HASH_FIND, NULL) != NULL;
}

/* Whether any of the piece's IDs is in the set ids (NULL: none). */
static bool
piece_touches(const Drain *drain, const Piece *piece, HTAB *ids)
{
	const OutboxOp *op = &drain->ops[piece->op];
	int			i;

	for (i = piece->first; i < piece->first + piece->count; i++)
		if (id_in_set(ids, op->call.ids[i]))
			return true;
	return false;
}

/*
 * The values of fixed data that name things: every string member but the
 * organization (the target itself), such as a document, folder or group
 * ID.  A request that names one in its fixed data uses it; one that has it
 * among its IDs changes it.
 */
static List *
shared_keys(json_object *fixed)
{
	List	   *keys = NIL;

	json_object_object_foreach(fixed, member, value)
	{
		if (strcmp(member, "organizationId") != 0 &&
			json_object_is_type(value, json_type_string))
			keys = lappend(keys, pstrdup(json_object_get_string(value)));
	}
	return keys;
}

/*
 * An operation's fixed data, parsed, and its shared keys.  Operations of a
 * round mostly repeat the fixed data of the one before, so the last one
 * parsed is kept.
 */
static json_object *
fixed_of(Drain *drain, const OutboxOp *op, List **shared)
{
	if (drain->cached_fixed_key == NULL ||
		strcmp(drain->cached_fixed_key, op->fixed_key) != 0)
	{
		drain->cached_fixed = parse_stored_json(op->fixed_key, op->id, "fixed");
		drain->cached_shared = shared_keys(drain->cached_fixed);
		drain->cached_fixed_key = op->fixed_key;
	}
	*shared = drain->cached_shared;
	return drain->cached_fixed;
}

/*
 * Whether a piece (whose operation's shared keys are op_shared) and a
 * batch must keep their order: one changes what the other changes or uses.
 */
static bool
piece_conflicts(const Drain *drain, const Piece *piece, List *op_shared,
				const Batch *batch)
{
	const OutboxOp *op = &drain->ops[piece->op];
	ListCell   *lc;
	int			i;

	if (piece_touches(drain, piece, batch->ids))
		return true;
	foreach(lc, op_shared)
		if (id_in_set(batch->ids, lfirst(lc)))
			return true;
	foreach(lc, batch->shared)
	{
		for (i = piece->first; i < piece->first + piece->count; i++)
			if (strcmp(op->call.ids[i], lfirst(lc)) == 0)
				return true;
	}
	return false;
}

/* Appends a copy of the piece to the batch and its IDs to the batch's set. */
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
	List	   *op_shared;
	json_object *fixed = fixed_of(drain, op, &op_shared);
	Batch	   *batch;
	int			i;

	/* blockers in a row share one held batch: it is never sent */
	if (op->blocker && !op_alone(op) && target->batches != NIL &&
		((Batch *) llast(target->batches))->held &&
		!((Batch *) llast(target->batches))->barrier)
	{
		batch = llast(target->batches);
		batch->shared = list_concat(list_copy(batch->shared), op_shared);
		batch_add_piece(drain, batch, piece);
		return;
	}
	if (!op_alone(op))
	{
		for (i = list_length(target->batches) - 1; i >= 0; i--)
		{
			Batch	   *candidate = list_nth(target->batches, i);

			if (candidate->barrier || op->blocker)
				break;
			if (candidate->held)
			{
				if (piece_conflicts(drain, piece, op_shared, candidate))
					break;
				continue;
			}
			if (candidate->endpoint == op->call.endpoint &&
				strcmp(candidate->fixed_key, op->fixed_key) == 0)
			{
				if (candidate->nitems + piece->count <= drain->batch_size &&
					!piece_conflicts(drain, piece, op_shared, candidate))
				{
					batch_add_piece(drain, candidate, piece);
					return;
				}
				break;
			}
			if (piece_conflicts(drain, piece, op_shared, candidate))
				break;
		}
	}

	batch = palloc0(sizeof(Batch));
	batch->endpoint = op->call.endpoint;
	batch->fixed_key = op->fixed_key;
	batch->fixed = fixed;
	batch->shared = op_shared;
	batch->barrier = op_alone(op);
	batch->held = op->blocker;
	batch->ids = new_id_set();
	batch_add_piece(drain, batch, piece);
	target->batches = lappend(target->batches, batch);
}

/* Cuts every operation of the round into pieces and places them in order. */
static void
coalesce(Drain *drain)
{
	HASHCTL		ctl;
	int			i;

	ctl.keysize = VELT_TARGET_KEY_SIZE;
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

/* ---------------------------------------------------------------------
 * Sending
 * ---------------------------------------------------------------------
 */

/* Result sink of a batch: records one ID's answer for its operation. */
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
			sink->unanswered++;
			return;
		}
		op->answered[sink->item_pos[r->index]] = true;
	}
	result_rows_add(&sink->drain->rows, op, r->id, r->success, r->velt_id,
					r->message, r->result, r->result_isnull, NULL);
}

/*
 * Marks every operation of a failed batch retried or rejected.  Items Velt
 * refused for good are settled at once (their failure rows written, and
 * they are no longer sent), so a retry of their operation, for another
 * piece, does not send them again behind later operations on their IDs.
 */
static void
note_failure(Drain *drain, const Batch *batch, const VeltExchange *ex)
{
	bool		retry = velt_worth_retrying(ex, VELT_RETRY_LATER);
	/* in the round's context: the request's context is gone before settle */
	char	   *error = MemoryContextStrdup(drain->cxt, velt_exchange_failure_text(ex));
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
		else
		{
			int			i;

			if (op->outcome != OP_RETRY)
				op->outcome = OP_REJECTED;
			for (i = piece->first; i < piece->first + piece->count; i++)
			{
				if (op->answered[i])
					continue;
				op->answered[i] = true;
				op->rejected++;
				result_rows_add(&drain->rows, op, op->call.ids[i], -1, NULL,
								"rejected by Velt", (Datum) 0, true, error);
			}
		}
	}
}

/*
 * Builds the request of a batch into call and the map from its items back
 * to their operations into sink, in CurrentMemoryContext (the request's).
 */
static void
batch_request(Drain *drain, const Batch *batch, VeltCall *call, BatchSink *sink)
{
	ListCell   *lc;
	int			n = 0;

	memset(call, 0, sizeof(*call));
	call->endpoint = batch->endpoint;
	call->fixed = batch->fixed;
	sink->drain = drain;
	sink->item_op = NULL;
	sink->item_pos = NULL;
	sink->delete_all_op = -1;
	sink->unanswered = 0;

	if (batch->nitems == 0)
	{
		sink->delete_all_op = ((Piece *) linitial(batch->pieces))->op;
		return;
	}
	call->items = velt_jsonc_owned(json_object_new_array_ext(batch->nitems));
	call->ids = palloc(sizeof(char *) * batch->nitems);
	sink->item_op = palloc(sizeof(int) * batch->nitems);
	sink->item_pos = palloc(sizeof(int) * batch->nitems);
	foreach(lc, batch->pieces)
	{
		Piece	   *piece = lfirst(lc);
		OutboxOp   *op = &drain->ops[piece->op];
		int			i;

		for (i = piece->first; i < piece->first + piece->count; i++)
		{
			velt_call_append_item(&op->call, i, call->items);
			call->ids[n] = op->call.ids[i];
			sink->item_op[n] = piece->op;
			sink->item_pos[n] = i;
			n++;
		}
	}
	call->nitems = n;
}

/*
 * After a 2xx answer: marks the batch's operations delivered once all
 * their pieces are answered.  Beyond velt_worth_retrying, the outbox also
 * retries the IDs such an answer says nothing about: their operation stays
 * pending with just those items.  Returns false if the answer left any
 * of its IDs out, as later batches on them must then wait.
 */
static bool
note_success(Drain *drain, const Batch *batch, const VeltExchange *ex)
{
	ListCell   *lc;

	foreach(lc, batch->pieces)
	{
		Piece	   *piece = lfirst(lc);
		OutboxOp   *op = &drain->ops[piece->op];

		op->pieces_left--;
		if (op->unanswered > 0 && op->outcome != OP_RETRY)
		{
			char	   *reason = psprintf("Velt's answer has no result for %d of the IDs sent",
										  op->unanswered);

			op->outcome = OP_RETRY;
			op->last_error = MemoryContextStrdup(drain->cxt,
												 velt_exchange_unusable_text(ex, reason));
		}
		else if (op->outcome == OP_UNSENT && op->pieces_left == 0)
			op->outcome = OP_DELIVERED;
	}
	return batch->sink.unanswered == 0;
}

/* Whether the batch carries a piece of an operation already under way. */
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

/* Seconds since start. */
static double
seconds_since(const instr_time *start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, *start);
	return INSTR_TIME_GET_DOUBLE(now);
}

/* ---------------------------------------------------------------------
 * Order of sending
 *
 * A batch depends on every earlier batch of its target it conflicts with
 * (and a barrier on every batch around it).  Batches start as soon as
 * every batch they depend on is done, up to velt.max_concurrency in flight
 * across all targets: requests that conflict are never in flight together,
 * and each ID's operations reach Velt in commit order.  A batch is done
 * once delivered or rejected for good; one that will be retried, or was
 * skipped when time ran out, holds back what depends on it, directly or
 * not, and nothing else.
 *
 * The dependencies are found in one pass per target: for each key (an ID
 * or a shared key), the last batch that had it among its IDs (changed it)
 * and the batches since that named it in fixed data (used it).  A batch
 * that changes a key depends on both; one that uses it, on the last to
 * change it.
 * ---------------------------------------------------------------------
 */

/* A key's last change and uses, while a target's batches are ordered. */
typedef struct KeyUse
{
	char		key[VELT_ID_KEY_SIZE];
	Batch	   *changed_by;
	List	   *used_by;		/* Batch *, since changed_by */
} KeyUse;

/* Records that later must wait for earlier (once; never for itself). */
static void
add_dependency(Batch *later, Batch *earlier)
{
	if (earlier == NULL || earlier == later || earlier->last_dependent == later->serial)
		return;
	earlier->last_dependent = later->serial;
	earlier->dependents = lappend(earlier->dependents, later);
	later->waiting_on++;
}

/* The entry of key in uses, made on first sight. */
static KeyUse *
key_use(HTAB *uses, const char *key)
{
	char		k[VELT_ID_KEY_SIZE];
	bool		found;
	KeyUse	   *use;

	strlcpy(k, key, sizeof(k));
	use = hash_search(uses, k, HASH_ENTER, &found);
	if (!found)
	{
		use->changed_by = NULL;
		use->used_by = NIL;
	}
	return use;
}

/* Adds batch's dependencies on the earlier batches recorded in uses. */
static void
depend_on_keys(HTAB *uses, Batch *batch)
{
	HASH_SEQ_STATUS seq;
	IdKey	   *id;
	ListCell   *lc;

	foreach(lc, batch->shared)
	{
		KeyUse	   *use = key_use(uses, lfirst(lc));

		add_dependency(batch, use->changed_by);
		use->used_by = lappend(use->used_by, batch);
	}
	hash_seq_init(&seq, batch->ids);
	while ((id = hash_seq_search(&seq)) != NULL)
	{
		KeyUse	   *use = key_use(uses, id->id);
		ListCell   *uc;

		add_dependency(batch, use->changed_by);
		foreach(uc, use->used_by)
			add_dependency(batch, lfirst(uc));
		use->changed_by = batch;
		use->used_by = NIL;
	}
}

/* Finds the dependencies among one target's batches. */
static void
order_target(OutboxTarget *target, int *serial)
{
	HASHCTL		ctl;
	HTAB	   *uses;
	Batch	   *barrier = NULL;
	List	   *since_barrier = NIL;
	ListCell   *bc;

	ctl.keysize = VELT_ID_KEY_SIZE;
	ctl.entrysize = sizeof(KeyUse);
	ctl.hcxt = CurrentMemoryContext;
	uses = hash_create("velt key uses", 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	foreach(bc, target->batches)
	{
		Batch	   *batch = lfirst(bc);

		batch->serial = ++(*serial);
		add_dependency(batch, barrier);
		if (batch->barrier)
		{
			ListCell   *lc;

			foreach(lc, since_barrier)
				add_dependency(batch, lfirst(lc));
			barrier = batch;
			since_barrier = NIL;
			continue;
		}
		depend_on_keys(uses, batch);
		since_barrier = lappend(since_barrier, batch);
	}
	hash_destroy(uses);
}

/* Finds every batch's dependencies and queues those that depend on none. */
static void
order_batches(Drain *drain)
{
	ListCell   *tc;
	int			serial = 0;

	foreach(tc, drain->targets)
		order_target(lfirst(tc), &serial);
	drain->ready = palloc(sizeof(Batch *) * Max(serial, 1));
	drain->ready_head = drain->ready_tail = 0;
	foreach(tc, drain->targets)
	{
		ListCell   *bc;

		foreach(bc, ((OutboxTarget *) lfirst(tc))->batches)
		{
			Batch	   *batch = lfirst(bc);

			if (batch->held)
				batch->state = BATCH_HELD;
			else
				batch->state = batch->waiting_on == 0 ? BATCH_READY : BATCH_WAITING;
			if (batch->state == BATCH_READY)
				drain->ready[drain->ready_tail++] = batch;
		}
	}
}

/* A batch is done: those waiting only for it become ready. */
static void
release_dependents(Drain *drain, Batch *batch)
{
	ListCell   *lc;

	batch->state = BATCH_DONE;
	foreach(lc, batch->dependents)
	{
		Batch	   *later = lfirst(lc);

		if (--later->waiting_on == 0 && later->state == BATCH_WAITING)
		{
			later->state = BATCH_READY;
			drain->ready[drain->ready_tail++] = later;
		}
	}
}

/*
 * Plan: the next ready batch, its request built in a context of its own.
 * Once time is out only what finishes operations under way starts; the
 * rest is skipped (and holds back what depends on it).
 */
static VeltFlight *
drain_next(void *arg)
{
	Drain	   *drain = arg;

	while (drain->ready_head < drain->ready_tail)
	{
		Batch	   *batch = drain->ready[drain->ready_head++];
		MemoryContext old;
		ListCell   *lc;

		if (seconds_since(drain->start) >= drain->max_seconds)
		{
			drain->out_of_time = true;
			if (!batch_finishes_started_op(drain, batch))
			{
				batch->state = BATCH_HELD;
				continue;
			}
		}
		batch->flight.cxt = AllocSetContextCreate(drain->cxt, "velt outbox request",
												  ALLOCSET_DEFAULT_SIZES);
		batch->flight.max_retries = 0;	/* the outbox retries later */
		old = MemoryContextSwitchTo(batch->flight.cxt);
		batch_request(drain, batch, &batch->call, &batch->sink);
		MemoryContextSwitchTo(old);
		velt_flight_prepare_items(&batch->flight, &batch->call, 0, batch->call.nitems);
		batch->flight.ex.stats_caller = VELT_STATS_DRAIN;
		foreach(lc, batch->pieces)
			drain->ops[((Piece *) lfirst(lc))->op].started = true;
		batch->state = BATCH_SENT;
		drain->summary->requests++;
		return &batch->flight;
	}
	return NULL;
}

/*
 * Counts a failed request as answered (refused for good) or as a sign
 * that Velt is unavailable (worth a later attempt), keeping the text of
 * the last such failure.
 */
static void
note_availability(VeltDrainSummary *summary, const VeltExchange *ex, bool refused)
{
	if (refused)
	{
		summary->answered++;
		return;
	}
	summary->unavailable++;
	strlcpy(summary->last_failure, velt_exchange_failure_text(ex),
			sizeof(summary->last_failure));
}

/*
 * Plan: a batch's request is finished.  Delivered or rejected releases
 * what depends on it; to be retried holds it back.  Its rows and failure
 * texts are copied into the round's context, so the engine may free the
 * request's.
 */
static bool
drain_finished(void *arg, VeltFlight *flight)
{
	Drain	   *drain = arg;
	Batch	   *batch = (Batch *) flight;
	VeltExchange *ex = &flight->ex;
	bool		done;

	if (velt_read_items(&batch->call, ex, 0, batch->call.nitems, record_result, &batch->sink))
	{
		done = note_success(drain, batch, ex);
		drain->summary->answered++;
	}
	else
	{
		note_failure(drain, batch, ex);
		done = !velt_worth_retrying(ex, VELT_RETRY_LATER);
		note_availability(drain->summary, ex, done);
	}
	if (done)
		release_dependents(drain, batch);
	else
		batch->state = BATCH_HELD;
	return true;
}

/* Sends the round's batches, in order and overlapped (see above). */
static void
send_round(Drain *drain)
{
	VeltFlightPlan plan;

	order_batches(drain);
	memset(&plan, 0, sizeof(plan));
	plan.arg = drain;
	plan.slots = velt_max_concurrency;
	plan.next = drain_next;
	plan.finished = drain_finished;
	velt_flights_run(&plan);
}

/* ---------------------------------------------------------------------
 * Settling: deciding each operation's fate, then writing it
 * ---------------------------------------------------------------------
 */

/* What settling makes of one operation. */
typedef enum OpFate
{
	FATE_UNTOUCHED,				/* not finished: stays, less what Velt
								 * answered */
	FATE_DELIVERED,				/* deleted from velt.outbox */
	FATE_RETRY,					/* stays pending, tried again after wait_ms */
	FATE_REJECTED,				/* final: Velt refused it */
	FATE_DEAD					/* final: dead-lettered after max_attempts */
} OpFate;

/* The decision for one operation. */
typedef struct OpVerdict
{
	OpFate		fate;
	long		wait_ms;		/* FATE_RETRY: the backoff before the next try */
} OpVerdict;

/* How many operations of a round each statement of settling touches. */
typedef struct SettleCounts
{
	int			delivered;		/* DELETE */
	int			changed;		/* UPDATE: retried, rejected or dead */
} SettleCounts;

/* Counts an operation's items in summary by what became of each. */
static void
count_items(const OutboxOp *op, OpFate fate, VeltDrainSummary *summary)
{
	int			settled = 0;
	int			answered;
	int			i;

	for (i = 0; i < op->call.nitems; i++)
		if (op->answered[i])
			settled++;
	answered = settled - op->rejected;
	switch (fate)
	{
		case FATE_DELIVERED:
			summary->delivered += op->call.nitems;
			break;
		case FATE_RETRY:
			summary->delivered += answered;
			summary->failed += op->rejected;
			summary->retried += op->call.nitems - settled;
			break;
		case FATE_UNTOUCHED:
			summary->delivered += answered;
			summary->failed += op->rejected;
			break;
		case FATE_REJECTED:
		case FATE_DEAD:
			summary->delivered += answered;
			summary->failed += op->call.nitems - answered;
			break;
	}
}

/* Counts a dead-lettered operation, keeping the first one's particulars. */
static void
count_dead_letter(const OutboxOp *op, VeltDrainSummary *summary)
{
	if (summary->dead_letters++ > 0)
		return;
	summary->first_dead_id = op->id;
	strlcpy(summary->first_dead_endpoint, op->call.endpoint->path,
			sizeof(summary->first_dead_endpoint));
	strlcpy(summary->first_dead_error, op->last_error ? op->last_error : "",
			sizeof(summary->first_dead_error));
}

/*
 * Decides every operation's fate from what sending did (delivered, retry
 * after a backoff, rejected, dead-lettered) and counts the items and
 * operations in summary.  Touches neither SQL nor the operations: a
 * function of the round and the settings (and the backoff's jitter).
 */
static void
decide_fates(const Drain *drain, OpVerdict *verdicts, SettleCounts *counts,
			 VeltDrainSummary *summary)
{
	int			i;

	memset(counts, 0, sizeof(*counts));
	for (i = 0; i < drain->nops; i++)
	{
		const OutboxOp *op = &drain->ops[i];
		OpVerdict  *v = &verdicts[i];

		v->wait_ms = 0;
		switch (op->outcome)
		{
			case OP_UNSENT:
				v->fate = FATE_UNTOUCHED;
				break;
			case OP_DELIVERED:
				v->fate = FATE_DELIVERED;
				break;
			case OP_RETRY:
				v->fate = op->attempts + 1 < velt_max_attempts ? FATE_RETRY : FATE_DEAD;
				break;
			case OP_REJECTED:
				/* refused in part, the rest not sent yet: it stays */
				v->fate = op->pieces_left > 0 ? FATE_UNTOUCHED : FATE_REJECTED;
				break;
		}
		count_items(op, v->fate, summary);
		if (v->fate == FATE_DEAD)
			count_dead_letter(op, summary);
		if (v->fate == FATE_UNTOUCHED)
			continue;
		if (v->fate == FATE_DELIVERED)
		{
			counts->delivered++;
			velt_stats_count_call(velt_stats_endpoint_of(op->call.endpoint), VELT_STATS_DRAIN);
		}
		else
			counts->changed++;
		if (v->fate == FATE_RETRY)
			v->wait_ms = velt_retry_delay_ms(VELT_RETRY_LATER, op->attempts + 1,
											 op->retry_after_s);
		else
			summary->settled++;
	}
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

/* A failed operation's unanswered items, as failed result rows. */
static void
add_failure_rows(Drain *drain, const OutboxOp *op, OpFate fate)
{
	int			j;

	for (j = 0; j < op->call.nitems; j++)
	{
		/* items Velt did answer keep that answer */
		if (op->answered && op->answered[j])
			continue;
		result_rows_add(&drain->rows, op, op->call.ids[j], -1, NULL,
						fate == FATE_REJECTED ? "rejected by Velt" : "dead-lettered after retries",
						(Datum) 0, true, op->last_error);
	}
}

/*
 * The table of per-ID outcomes, schema-qualified: velt.outcomes since 1.2,
 * velt.results in 1.0 and 1.1.  Between installing a newer library and
 * ALTER EXTENSION velt UPDATE the schema is still the older one, and the
 * drain must keep working (and keep its at-least-once promise) meanwhile.
 */
static const char *
outcomes_table(void)
{
	Oid			schema = get_namespace_oid("velt", true);

	if (OidIsValid(schema) && OidIsValid(get_relname_relid("outcomes", schema)))
		return "velt.outcomes";
	return "velt.results";
}

/*
 * Inserts the round's per-ID rows (values: the ten columns as arrays).
 * upsert: an ID already recorded for its operation (a redriven operation,
 * one answered in part before) gets the new outcome; without it such a row
 * is a unique violation.
 */
static void
insert_outcomes(Datum *values, bool upsert)
{
	Oid			types[10] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, BOOLARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
	TIMESTAMPTZARRAYOID};

	run_spi(psprintf("INSERT INTO %s (operation_id, endpoint, id, success, velt_id, "
					 "  message, result, attempts, last_error, enqueued_at) "
					 "SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) %s",
					 outcomes_table(),
					 upsert ?
					 "ON CONFLICT (operation_id, id) DO UPDATE SET success = EXCLUDED.success, "
					 "  velt_id = EXCLUDED.velt_id, message = EXCLUDED.message, "
					 "  result = EXCLUDED.result, attempts = EXCLUDED.attempts, "
					 "  last_error = EXCLUDED.last_error, finished_at = EXCLUDED.finished_at" : ""),
			10, types, values, SPI_OK_INSERT);
}

/*
 * Writes the round's per-ID results to the outcomes table.  Nearly always
 * no ID of the round has a row yet, and a plain INSERT costs about 30% less
 * than one with ON CONFLICT (measured: 0.44 s against 0.61 s for 100,000
 * rows), which is most of what a large delivery spends after Velt's last
 * answer.  So the plain one is tried in a subtransaction, and only a
 * unique violation makes it the upsert.
 */
static void
write_results(ResultRows *rows)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Datum		values[10];
	volatile bool upsert = false;

	if (rows->count == 0)
		return;
	values[0] = makeArrayResult(rows->op_id, rows->cxt);
	values[1] = makeArrayResult(rows->endpoint, rows->cxt);
	values[2] = makeArrayResult(rows->id, rows->cxt);
	values[3] = makeArrayResult(rows->success, rows->cxt);
	values[4] = makeArrayResult(rows->velt_id, rows->cxt);
	values[5] = makeArrayResult(rows->message, rows->cxt);
	values[6] = makeArrayResult(rows->result, rows->cxt);
	values[7] = makeArrayResult(rows->attempts, rows->cxt);
	values[8] = makeArrayResult(rows->last_error, rows->cxt);
	values[9] = makeArrayResult(rows->enqueued_at, rows->cxt);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		insert_outcomes(values, false);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(edata);
		FreeErrorData(edata);
		upsert = true;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (upsert)
		insert_outcomes(values, true);
}

/* Deletes the delivered operations (ids: an int8[]). */
static void
write_deliveries(Datum ids)
{
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1] = {ids};

	run_spi("DELETE FROM velt.outbox WHERE id = ANY ($1)", 1, types, values, SPI_OK_DELETE);
}

/*
 * Writes the operations that stay: retried ones pending with a later
 * next_attempt_at (ms set), final ones in their state (ms NULL).
 */
static void
write_changes(Datum ids, Datum states, Datum ms, Datum errors)
{
	Oid			types[4] = {INT8ARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID};
	Datum		values[4] = {ids, states, ms, errors};

	run_spi("UPDATE velt.outbox o SET attempts = o.attempts + 1, last_error = u.err, "
			"  state = u.state, next_attempt_at = CASE WHEN u.ms IS NULL THEN o.next_attempt_at "
			"    ELSE pg_catalog.clock_timestamp() + u.ms * interval '1 millisecond' END "
			"FROM unnest($1, $2, $3, $4) AS u(id, state, ms, err) WHERE o.id = u.id",
			4, types, values, SPI_OK_UPDATE);
}

/* The state velt.outbox keeps for a fate that stays in it. */
static const char *
fate_state(OpFate fate)
{
	switch (fate)
	{
		case FATE_REJECTED:
			return "rejected";
		case FATE_DEAD:
			return "dead";
		case FATE_UNTOUCHED:
		case FATE_DELIVERED:
		case FATE_RETRY:
			break;
	}
	return "pending";
}

/*
 * Writes the decided fates: retried operations lose their answered items,
 * then the per-ID results, the deliveries and the changes go in one
 * statement each.  Runs in the round's context.
 */
static void
persist_fates(Drain *drain, const OpVerdict *verdicts, const SettleCounts *counts)
{
	MemoryContext cxt = drain->cxt;
	ArrayBuildState *done = initArrayResult(INT8OID, cxt, false);
	ArrayBuildState *change_id = initArrayResult(INT8OID, cxt, false);
	ArrayBuildState *change_state = initArrayResult(TEXTOID, cxt, false);
	ArrayBuildState *change_ms = initArrayResult(INT8OID, cxt, false);
	ArrayBuildState *change_err = initArrayResult(TEXTOID, cxt, false);
	int			i;

	for (i = 0; i < drain->nops; i++)
	{
		const OutboxOp *op = &drain->ops[i];
		OpFate		fate = verdicts[i].fate;

		if (fate == FATE_UNTOUCHED)
		{
			/* cut short: what Velt answered must not be sent again */
			if (op->started)
				drop_answered_items(op);
			continue;
		}
		if (fate == FATE_DELIVERED)
		{
			accumArrayResult(done, Int64GetDatum(op->id), false, INT8OID, cxt);
			continue;
		}
		if (fate == FATE_RETRY)
			drop_answered_items(op);
		else
			add_failure_rows(drain, op, fate);
		accumArrayResult(change_id, Int64GetDatum(op->id), false, INT8OID, cxt);
		accum_text(change_state, fate_state(fate), cxt);
		accumArrayResult(change_ms, Int64GetDatum(verdicts[i].wait_ms),
						 fate != FATE_RETRY, INT8OID, cxt);
		accum_text(change_err, op->last_error, cxt);
	}

	write_results(&drain->rows);
	if (counts->delivered > 0)
		write_deliveries(makeArrayResult(done, cxt));
	if (counts->changed > 0)
		write_changes(makeArrayResult(change_id, cxt), makeArrayResult(change_state, cxt),
					  makeArrayResult(change_ms, cxt), makeArrayResult(change_err, cxt));
}

/* Settles the round: decides every operation's fate, then writes it. */
static void
settle(Drain *drain, VeltDrainSummary *summary)
{
	OpVerdict  *verdicts = palloc(sizeof(OpVerdict) * Max(drain->nops, 1));
	SettleCounts counts;

	decide_fates(drain, verdicts, &counts, summary);
	persist_fates(drain, verdicts, &counts);
}

/* ---------------------------------------------------------------------
 * The drain
 * ---------------------------------------------------------------------
 */

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
	run_spi(psprintf("DELETE FROM %s WHERE finished_at < "
					 "pg_catalog.clock_timestamp() - $1 * interval '1 second'",
					 outcomes_table()),
			1, types, values, SPI_OK_DELETE);
}

/* The earliest next_attempt_at of a pending operation, or 0 if none. */
static TimestampTz
next_due(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = SPI_execute("SELECT min(next_attempt_at) FROM velt.outbox "
								 "WHERE state = 'pending'", false, 1);
	bool		isnull;
	Datum		d;

	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetTimestampTz(d);
}

/* Starts an empty round whose memory is cxt. */
static void
drain_init(Drain *drain, MemoryContext cxt)
{
	memset(drain, 0, sizeof(*drain));
	drain->cxt = cxt;
	drain->batch_size = velt_batch_size;
	result_rows_init(&drain->rows, cxt);
}

void
velt_outbox_drain(int max_items, double max_seconds, VeltDrainSummary *summary)
{
	instr_time	start;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext round_cxt;
	int			taken = 0;
	bool		credentials_checked = false;

	memset(summary, 0, sizeof(*summary));
	if (velt_pause_delivery)
	{
		summary->paused = true;
		return;
	}
	INSTR_TIME_SET_CURRENT(start);

	round_cxt = AllocSetContextCreate(caller, "velt drain", ALLOCSET_DEFAULT_SIZES);
	while (taken < max_items)
	{
		Drain		drain;
		bool		out_of_time;
		int			round_items;
		int			requests_before;

		MemoryContextSwitchTo(round_cxt);
		drain_init(&drain, round_cxt);
		drain.now = GetCurrentTimestamp();
		round_items = take_operations(&drain, max_items - taken);
		add_blockers(&drain);
		if (drain.nops > 0 && !credentials_checked)
		{
			velt_require_credentials();
			credentials_checked = true;
		}
		taken += round_items;
		coalesce(&drain);
		requests_before = summary->requests;
		drain.start = &start;
		drain.max_seconds = max_seconds;
		drain.summary = summary;
		send_round(&drain);
		out_of_time = drain.out_of_time;
		settle(&drain, summary);
		MemoryContextSwitchTo(caller);
		MemoryContextReset(round_cxt);

		if (out_of_time || seconds_since(&start) >= max_seconds)
			break;
		/* no work, or a round in which everything taken was settled */
		if (drain.nops == 0 || round_items == 0)
			break;
		/* everything taken waits behind a retry: nothing more to do now */
		if (summary->requests == requests_before)
			break;
	}
	MemoryContextDelete(round_cxt);

	tidy_up();
	summary->next_due = next_due();
	summary->seconds = seconds_since(&start);
}
