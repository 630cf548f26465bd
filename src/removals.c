/*-------------------------------------------------------------------------
 *
 * removals.c
 *		Deletes from the trigger functions decided by the table, not by
 *		the order in which rows fired.
 *
 * A row-level trigger sees one row at a time.  When an UPDATE renumbers
 * IDs (1 -> 2, 2 -> 3), the row that gave up 2 fires after the row that
 * took it, and a delete of 2 enqueued then would follow the add of 2 and
 * win.  So the trigger functions record the keys that left rows here
 * (removals.h), and each key is looked up in the table itself after the
 * statement's AFTER triggers have fired: only keys no row holds any more
 * are deleted.  A key still held was either untouched (Velt has it) or
 * given to a row by this statement, whose firing enqueued its add.
 *
 * The end of a statement is the end of its ExecutorFinish, where
 * PostgreSQL fires the AFTER triggers its rows queued; the hook counts
 * nested ExecutorFinish calls, and the keys of a row-level firing wait for
 * the end of the innermost one running when it fired.  A statement-level
 * firing sees the whole statement and resolves its keys itself.
 *
 * Pending keys live in TopTransactionContext, tagged with the
 * subtransaction that recorded them, and go with it if it aborts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "endpoints.h"
#include "jsonc_pg.h"
#include "outbox.h"
#include "removals.h"
#include "request.h"

/* Joins the parts of a key into one string; IDs never hold control characters. */
#define KEY_SEP '\x1f'

/* The columns of the query that reads the keys present in the table. */
enum
{
	PRESENT_ORG = 1,
	PRESENT_SCOPE,
	PRESENT_SUBSCOPE,
	PRESENT_ID
};

/* What deletes a kind's keys, and the data key of each part. */
typedef struct RemovalKindInfo
{
	VeltEndpointId delete_endpoint;
	VeltArgRole part_roles[VELT_KEY_NPARTS];	/* VELT_ARG_END: not in data */
	bool		scope_required; /* a key without its scope names nothing */
} RemovalKindInfo;

static const RemovalKindInfo removal_kinds[VELT_REMOVE_NKINDS] = {
	[VELT_REMOVE_USERS] = {VELT_EP_DELETE_USERS,
	{VELT_ARG_ORG, VELT_ARG_DOCUMENT, VELT_ARG_FOLDER, VELT_ARG_END}, false},
	[VELT_REMOVE_MEMBERS] = {VELT_EP_DELETE_USERS_FROM_GROUP,
	{VELT_ARG_ORG, VELT_ARG_GROUP, VELT_ARG_END, VELT_ARG_END}, true},
	[VELT_REMOVE_DOCUMENTS] = {VELT_EP_DELETE_DOCUMENTS,
	{VELT_ARG_ORG, VELT_ARG_END, VELT_ARG_END, VELT_ARG_END}, false},
};

struct VeltRemovals
{
	VeltRemovalKind kind;
	Oid			relid;			/* with kind and columns: whose keys */
	char	   *columns[VELT_KEY_NPARTS];	/* as mapped; NULL: not mapped */
	Oid			owner;			/* looks up and enqueues as this role */
	int			depth;			/* the ExecutorFinish level that resolves
								 * it; 0: velt_removals_close does */
	SubTransactionId subid;		/* recorded in this subtransaction */
	MemoryContext cxt;			/* holds all of it */
	char	   *table;			/* quoted name of the table read back */
	Oid			id_type;		/* base type of the ID column */
	List	   *keys;			/* char *, parts joined by KEY_SEP */
	struct VeltRemovals *next;	/* in pending */
};

static ExecutorFinish_hook_type prev_executor_finish = NULL;

/* Nested ExecutorFinish calls running now. */
static int	finish_depth = 0;

/* Row-level removals awaiting the end of their statement, newest first. */
static VeltRemovals *pending = NULL;

/* Whether two optional column names are the same. */
static bool
same_column(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The pending removals of this trigger, statement level and subtransaction, if any. */
static VeltRemovals *
find_pending(VeltRemovalKind kind, Oid relid, const char *const columns[VELT_KEY_NPARTS])
{
	VeltRemovals *r;
	int			p;

	for (r = pending; r; r = r->next)
	{
		if (r->kind != kind || r->relid != relid || r->depth != finish_depth ||
			r->subid != GetCurrentSubTransactionId())
			continue;
		for (p = 0; p < VELT_KEY_NPARTS; p++)
		{
			if (!same_column(r->columns[p], columns[p]))
				break;
		}
		if (p == VELT_KEY_NPARTS)
			return r;
	}
	return NULL;
}

/*
 * The table the keys are looked up in: the relation itself, or for a
 * partition the root of its tree, since an UPDATE may move a row (and its
 * key) to another partition.
 */
static char *
table_to_read(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	if (rel->rd_rel->relispartition)
		relid = llast_oid(get_partition_ancestors(relid));
	velt_check_local_relations(relid, "velt trigger");
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* A new, empty set in a context of its own under parent. */
static VeltRemovals *
new_removals(VeltRemovalKind kind, Relation rel, const char *const columns[VELT_KEY_NPARTS],
			 MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "velt removals", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	VeltRemovals *r = palloc0(sizeof(VeltRemovals));
	int			p;

	r->kind = kind;
	r->relid = RelationGetRelid(rel);
	for (p = 0; p < VELT_KEY_NPARTS; p++)
		r->columns[p] = columns[p] ? pstrdup(columns[p]) : NULL;
	r->owner = GetUserId();
	r->subid = GetCurrentSubTransactionId();
	r->cxt = cxt;
	r->table = table_to_read(rel);
	r->id_type = getBaseType(get_atttype(r->relid, get_attnum(r->relid, columns[VELT_KEY_ID])));
	MemoryContextSwitchTo(old);
	return r;
}

VeltRemovals *
velt_removals_open(VeltRemovalKind kind, Relation rel,
				   const char *const columns[VELT_KEY_NPARTS], bool at_once)
{
	VeltRemovals *r;

	if (at_once || finish_depth == 0)
		return new_removals(kind, rel, columns, CurrentMemoryContext);
	r = find_pending(kind, RelationGetRelid(rel), columns);
	if (r == NULL)
	{
		r = new_removals(kind, rel, columns, TopTransactionContext);
		r->depth = finish_depth;
		r->next = pending;
		pending = r;
	}
	return r;
}

void
velt_check_local_relations(Oid relid, const char *who)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			child = lfirst_oid(lc);
		char		kind = get_rel_relkind(child);

		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE &&
			kind != RELKIND_MATVIEW)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("%s: %s is not a local table", who,
							quote_qualified_identifier(get_namespace_name(get_rel_namespace(child)),
													   get_rel_name(child))),
					 errdetail("velt reads it with the extension owner's rights, which for a "
							   "foreign table means the owner's user mapping.")));
	}
}

/* What each part of a key is, for the message of one that cannot be a key. */
static const char *const removal_part_names[VELT_KEY_NPARTS] = {
	[VELT_KEY_ORG] = "the organization of a row that left",
	[VELT_KEY_SCOPE] = "the document or group of a row that left",
	[VELT_KEY_SUBSCOPE] = "the folder of a row that left",
	[VELT_KEY_ID] = "the ID of a row that left",
};

void
velt_removals_add(VeltRemovals *removals, const char *const parts[VELT_KEY_NPARTS])
{
	MemoryContext old;
	const char *p[VELT_KEY_NPARTS];
	int			i;

	for (i = 0; i < VELT_KEY_NPARTS; i++)
	{
		p[i] = parts[i] ? parts[i] : "";
		/* the parts are joined with a control character (KEY_SEP) */
		velt_reject_control_characters(p[i], strlen(p[i]), removal_part_names[i], NULL, NULL);
	}
	/* an empty organization, ID or required scope is no key Velt can hold */
	if (p[VELT_KEY_ORG][0] == '\0' || p[VELT_KEY_ID][0] == '\0' ||
		(removal_kinds[removals->kind].scope_required && p[VELT_KEY_SCOPE][0] == '\0'))
		return;
	old = MemoryContextSwitchTo(removals->cxt);
	removals->keys = lappend(removals->keys,
							 psprintf("%s%c%s%c%s%c%s", p[VELT_KEY_ORG], KEY_SEP,
									  p[VELT_KEY_SCOPE], KEY_SEP, p[VELT_KEY_SUBSCOPE], KEY_SEP,
									  p[VELT_KEY_ID]));
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------------
 * Resolving: read the table back, delete what no row holds
 * ---------------------------------------------------------------------
 */

/* qsort comparator for key strings. */
static int
compare_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The keys as a sorted array without repeats; *n gets its length. */
static char **
sorted_keys(List *keys, int *n)
{
	char	  **array = palloc(sizeof(char *) * Max(list_length(keys), 1));
	ListCell   *lc;
	int			count = 0;
	int			i;

	foreach(lc, keys)
		array[count++] = lfirst(lc);
	qsort(array, count, sizeof(char *), compare_keys);
	*n = 0;
	for (i = 0; i < count; i++)
	{
		if (*n == 0 || strcmp(array[*n - 1], array[i]) != 0)
			array[(*n)++] = array[i];
	}
	return array;
}

/* Where the ID part of a key starts (after the last separator). */
static const char *
key_id(const char *key)
{
	return strrchr(key, KEY_SEP) + 1;
}

/*
 * The condition on the ID column, comparing in the column's own type where
 * it is a built-in one, so that an index on it serves.
 */
static char *
id_condition(const VeltRemovals *r)
{
	const char *column = quote_identifier(r->columns[VELT_KEY_ID]);
	const char *type;

	switch (r->id_type)
	{
		case TEXTOID:
			type = "text";
			break;
		case VARCHAROID:
			type = "varchar";
			break;
		case BPCHAROID:
			type = "bpchar";
			break;
		case NAMEOID:
			type = "name";
			break;
		case UUIDOID:
			type = "uuid";
			break;
		case INT2OID:
			type = "int2";
			break;
		case INT4OID:
			type = "int4";
			break;
		case INT8OID:
			type = "int8";
			break;
		default:
			return psprintf("%s::pg_catalog.text OPERATOR(pg_catalog.=) ANY ($1)", column);
	}
	return psprintf("%s OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[]::pg_catalog.%s[])",
					column, type);
}

/* A key part's column as text in the query, or NULL when not mapped. */
static const char *
part_expression(const VeltRemovals *r, VeltKeyPart part)
{
	if (r->columns[part] == NULL)
		return "NULL::pg_catalog.text";
	return psprintf("%s::pg_catalog.text", quote_identifier(r->columns[part]));
}

/*
 * The keys that rows of the table hold now, among those with the given
 * IDs: a sorted array (*n long) in the caller's memory context.
 */
static char **
present_keys(const VeltRemovals *r, char **keys, int nkeys, int *n)
{
	MemoryContext mine = CurrentMemoryContext;
	Datum	   *ids = palloc(sizeof(Datum) * nkeys);
	Datum		args[1];
	Oid			types[1] = {TEXTARRAYOID};
	char	  **present;
	char	   *sql;
	uint64		row;
	int			i;

	for (i = 0; i < nkeys; i++)
		ids[i] = CStringGetTextDatum(key_id(keys[i]));
	args[0] = PointerGetDatum(construct_array(ids, nkeys, TEXTOID, -1, false, TYPALIGN_INT));
	sql = psprintf("SELECT %s, %s, %s, %s::pg_catalog.text FROM %s WHERE %s",
				   part_expression(r, VELT_KEY_ORG), part_expression(r, VELT_KEY_SCOPE),
				   part_expression(r, VELT_KEY_SUBSCOPE), quote_identifier(r->columns[VELT_KEY_ID]),
				   r->table, id_condition(r));

	SPI_connect();
	if (SPI_execute_with_args(sql, 1, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the keys of table %s back", r->table);
	MemoryContextSwitchTo(mine);
	present = palloc(sizeof(char *) * Max(SPI_processed, 1));
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *part[VELT_KEY_NPARTS];
		int			p;

		for (p = 0; p < VELT_KEY_NPARTS; p++)
		{
			part[p] = SPI_getvalue(tuple, desc, PRESENT_ORG + p);
			if (part[p] == NULL)
				part[p] = "";
		}
		present[row] = psprintf("%s%c%s%c%s%c%s", part[VELT_KEY_ORG], KEY_SEP,
								part[VELT_KEY_SCOPE], KEY_SEP, part[VELT_KEY_SUBSCOPE], KEY_SEP,
								part[VELT_KEY_ID]);
	}
	*n = (int) SPI_processed;
	SPI_finish();
	qsort(present, *n, sizeof(char *), compare_keys);
	return present;
}

/* Whether a sorted array of keys holds key. */
static bool
holds(char **keys, int n, const char *key)
{
	return n > 0 && bsearch(&key, keys, n, sizeof(char *), compare_keys) != NULL;
}

/* Whether two keys have the same organization and scopes (all but the ID). */
static bool
same_scope(const char *a, const char *b)
{
	size_t		la = key_id(a) - a;

	return la == (size_t) (key_id(b) - b) && memcmp(a, b, la) == 0;
}

/* Writes one delete operation for n keys of one scope. */
static void
enqueue_delete(const VeltRemovals *r, char **keys, int n)
{
	const RemovalKindInfo *info = &removal_kinds[r->kind];
	char	   *scope = pnstrdup(keys[0], key_id(keys[0]) - keys[0] - 1);
	json_object *fixed = velt_jsonc_owned(json_object_new_object());
	Datum	   *ids = palloc(sizeof(Datum) * n);
	char	   *part = scope;
	char	   *org = scope;
	int			p;
	int			i;

	/* the scope is org, scope and subscope joined by KEY_SEP */
	for (p = VELT_KEY_ORG; p < VELT_KEY_ID; p++)
	{
		char	   *end = strchr(part, KEY_SEP);

		if (end)
			*end = '\0';
		if (part[0] != '\0' && info->part_roles[p] != VELT_ARG_END)
			json_object_object_add(fixed, velt_arg_data_key(info->part_roles[p]),
								   json_object_new_string(part));
		part = end ? end + 1 : part + strlen(part);
	}
	for (i = 0; i < n; i++)
		ids[i] = CStringGetTextDatum(key_id(keys[i]));
	velt_outbox_insert(velt_endpoints[info->delete_endpoint].path, org,
					   velt_jsonc_to_jsonb(fixed), (Datum) 0,
					   PointerGetDatum(construct_array(ids, n, TEXTOID, -1, false, TYPALIGN_INT)),
					   (Datum) 0);
}

/* Deletes the keys that no row holds, one operation per scope. */
static void
resolve(const VeltRemovals *r)
{
	int			nkeys;
	int			npresent;
	char	  **keys;
	char	  **present;
	char	  **gone;
	int			ngone = 0;
	int			i;

	if (r->keys == NIL)
		return;
	keys = sorted_keys(r->keys, &nkeys);
	present = present_keys(r, keys, nkeys, &npresent);
	gone = palloc(sizeof(char *) * nkeys);
	for (i = 0; i < nkeys; i++)
	{
		if (!holds(present, npresent, keys[i]))
			gone[ngone++] = keys[i];
	}
	/* sorted, so each scope's keys are together */
	for (i = 0; i < ngone;)
	{
		int			j = i + 1;

		while (j < ngone && same_scope(gone[i], gone[j]))
			j++;
		enqueue_delete(r, &gone[i], j - i);
		i = j;
	}
}

void
velt_removals_close(VeltRemovals *removals)
{
	MemoryContext old;

	if (removals->depth != 0)
		return;					/* the statement's end resolves it */
	old = MemoryContextSwitchTo(removals->cxt);
	resolve(removals);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(removals->cxt);
}

/*
 * Resolves a set outside the trigger function that recorded it: as the
 * function's owner and with its search_path, as fmgr does for a SECURITY
 * DEFINER function (an ERROR restores both with the (sub)transaction).
 */
static void
resolve_as_owner(VeltRemovals *r)
{
	Oid			save_user;
	int			save_sec;
	int			nest;
	MemoryContext old;

	GetUserIdAndSecContext(&save_user, &save_sec);
	/*
	 * As a SECURITY DEFINER function runs.  Not a restricted operation: the
	 * deletes it enqueues fire velt.commit_order's deferred trigger, which
	 * a restricted operation may not; the lookup runs only built-in casts
	 * and operators (the trigger accepts no other key types).
	 */
	SetUserIdAndSecContext(r->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	old = MemoryContextSwitchTo(r->cxt);
	resolve(r);
	MemoryContextSwitchTo(old);
	AtEOXact_GUC(true, nest);
	SetUserIdAndSecContext(save_user, save_sec);
}

/* Resolves every pending set of this ExecutorFinish level (or a deeper one). */
static void
resolve_pending(int depth)
{
	for (;;)
	{
		VeltRemovals **link = &pending;
		VeltRemovals *r;

		while (*link && (*link)->depth < depth)
			link = &(*link)->next;
		r = *link;
		if (r == NULL)
			break;
		/* out of the list first: an ERROR must not leave it pending */
		*link = r->next;
		resolve_as_owner(r);
		MemoryContextDelete(r->cxt);
	}
}

/* ExecutorFinish: the statement's AFTER triggers fire, then its removals resolve. */
static void
removals_executor_finish(QueryDesc *queryDesc)
{
	int			depth = ++finish_depth;

	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
		resolve_pending(depth);
	}
	PG_FINALLY();
	{
		finish_depth = depth - 1;
	}
	PG_END_TRY();
}

/* Drops the sets of an aborted subtransaction; a committed one's pass to its parent. */
static void
removals_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	VeltRemovals **link = &pending;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	while (*link)
	{
		VeltRemovals *r = *link;

		if (r->subid == mySubid && event == SUBXACT_EVENT_ABORT_SUB)
		{
			*link = r->next;
			MemoryContextDelete(r->cxt);
			continue;
		}
		if (r->subid == mySubid)
			r->subid = parentSubid;
		link = &r->next;
	}
}

/*
 * Forgets everything at the end of the transaction, with
 * TopTransactionContext.  (Nothing is pending at a commit: a set waits only
 * inside an ExecutorFinish, which ends before any COMMIT can run.)
 */
static void
removals_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			pending = NULL;
			break;
		default:
			break;
	}
}

void
velt_removals_register_hooks(void)
{
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = removals_executor_finish;
	RegisterSubXactCallback(removals_subxact_callback, NULL);
	RegisterXactCallback(removals_xact_callback, NULL);
}

/* ---------------------------------------------------------------------
 * velt.trigger_removals: the same for the PL/pgSQL trigger functions
 * ---------------------------------------------------------------------
 */

/* The trigger functions that call velt.trigger_removals, and their keys' mapping keys. */
typedef struct SqlTriggerKind
{
	const char *function;
	VeltRemovalKind kind;
	const char *keys[VELT_KEY_NPARTS];	/* velt.trigger_columns' keys */
} SqlTriggerKind;

static const SqlTriggerKind sql_trigger_kinds[] = {
	{"velt_group_members_trigger", VELT_REMOVE_MEMBERS, {"organization", "group", NULL, "user_id"}},
	{"velt_documents_trigger", VELT_REMOVE_DOCUMENTS, {"organization", NULL, NULL, "document_id"}},
};

/* The column the checked mapping gives for key, or NULL. */
static const char *
mapped_column(Jsonb *mapping, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	if (key == NULL)
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&mapping->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* The text elements of an array argument (NULL elements as NULL); *n its length. */
static char **
text_elements(ArrayType *array, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **strings;
	int			i;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	strings = palloc(sizeof(char *) * Max(*n, 1));
	for (i = 0; i < *n; i++)
		strings[i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	return strings;
}

PG_FUNCTION_INFO_V1(velt_trigger_removals);

/*
 * velt.trigger_removals(trigger_function, relid, mapping, orgs, scopes,
 * ids, at_once): records the keys orgs[i], scopes[i], ids[i] (scopes NULL
 * for documents) of the calling trigger, as velt_removals_open and
 * velt_removals_add do, and closes the set.  NULL orgs or ids: no keys.
 */
Datum
velt_trigger_removals(PG_FUNCTION_ARGS)
{
	char	   *function = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const SqlTriggerKind *kind = NULL;
	const char *columns[VELT_KEY_NPARTS];
	Jsonb	   *mapping;
	Relation	rel;
	VeltRemovals *removals;
	char	  **orgs;
	char	  **scopes = NULL;
	char	  **ids;
	int			n;
	int			nscopes = 0;
	int			i;

	for (i = 0; i < (int) lengthof(sql_trigger_kinds); i++)
	{
		if (strcmp(sql_trigger_kinds[i].function, function) == 0)
			kind = &sql_trigger_kinds[i];
	}
	if (kind == NULL || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(6))
		elog(ERROR, "velt.trigger_removals: no trigger function \"%s\"", function);
	if (PG_ARGISNULL(3) || PG_ARGISNULL(5))
		PG_RETURN_VOID();
	mapping = PG_GETARG_JSONB_P(2);
	for (i = 0; i < VELT_KEY_NPARTS; i++)
		columns[i] = mapped_column(mapping, kind->keys[i]);
	orgs = text_elements(PG_GETARG_ARRAYTYPE_P(3), &n);
	ids = text_elements(PG_GETARG_ARRAYTYPE_P(5), &i);
	if (i != n)
		elog(ERROR, "velt.trigger_removals: %d organizations for %d IDs", n, i);
	if (!PG_ARGISNULL(4))
		scopes = text_elements(PG_GETARG_ARRAYTYPE_P(4), &nscopes);
	if (scopes && nscopes != n)
		elog(ERROR, "velt.trigger_removals: %d scopes for %d IDs", nscopes, n);

	rel = relation_open(PG_GETARG_OID(1), AccessShareLock);
	removals = velt_removals_open(kind->kind, rel, columns, PG_GETARG_BOOL(6));
	relation_close(rel, AccessShareLock);
	for (i = 0; i < n; i++)
	{
		const char *parts[VELT_KEY_NPARTS] = {orgs[i], scopes ? scopes[i] : NULL, NULL, ids[i]};

		velt_removals_add(removals, parts);
	}
	velt_removals_close(removals);
	PG_RETURN_VOID();
}
