/*-------------------------------------------------------------------------
 *
 * triggers.c
 *		velt_users_trigger: keeps Velt users in sync through the outbox.
 *
 * Written in C because it sits on the write path of the user's own
 * tables: a statement-level trigger reads the transition table straight
 * from its tuplestore and stores each organization's users as plain text
 * arrays (velt.outbox.item_values), so the INSERT pays for no JSON at all;
 * the drain turns the rows into Velt's user objects at delivery time.
 *
 * Arguments are key=column pairs, checked against the table by
 * velt.trigger_columns (shared with the other trigger functions).  Rows
 * are grouped by organization, document and folder; one add per group.
 * Within a group a user ID that appears twice keeps its last row.  Users
 * that left a scope are not deleted here but handed to removals.c, which
 * deletes those no row of the table holds once the statement has fired
 * (so a row-level UPDATE that renumbers IDs ends as a statement-level one).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pg_compat.h"

#include "json_c.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "jsonc_pg.h"
#include "outbox.h"
#include "removals.h"
#include "request.h"

/*
 * Where the trigger reads each value: attribute numbers, and the column
 * names its messages quote.  Kept per statement (see column_map), so
 * everything it points to lives in the trigger's fn_mcxt.
 */
typedef struct ColumnMap
{
	AttrNumber	org;
	AttrNumber	document;		/* 0: not mapped */
	AttrNumber	folder;
	AttrNumber	fields[VELT_USER_NFIELDS];	/* by VeltUserField; 0: not
											 * mapped */
	const char *org_column;
	const char *document_column;
	const char *folder_column;
	const char *user_column;
} ColumnMap;

/* The users of one organization/document/folder scope. */
typedef struct Scope
{
	char	   *org;
	char	   *document;
	char	   *folder;
	int			n;
	int			cap;
	Datum	   *values;			/* n rows of VELT_USER_NFIELDS */
	bool	   *nulls;
	int		   *order;			/* rows sorted by user ID (sort_scope) */
	bool	   *keep;			/* per row: the last row of its user ID */
	int			kept;
	struct Scope *next_in_bucket;
} Scope;

/*
 * Where row i of a scope starts in its values and nulls: at the user ID.
 * In size_t, as a statement's rows times VELT_USER_NFIELDS can pass INT_MAX.
 */
static inline size_t
row_start(int row)
{
	return (size_t) row * VELT_USER_NFIELDS;
}

/* The user ID (a text Datum, never NULL) of row i of a scope. */
static inline Datum
row_user_id(const Scope *scope, int row)
{
	return scope->values[row_start(row) + VELT_USER_ID];
}

/* The scopes whose (org, document, folder) hash to one value. */
typedef struct ScopeBucket
{
	uint32		hash;
	Scope	   *first;
} ScopeBucket;

/* The scopes of one statement's rows (added, or removed). */
typedef struct ScopeSet
{
	HTAB	   *buckets;
	List	   *scopes;			/* in order of first appearance */
	Scope	   *last;			/* the scope of the previous row */
} ScopeSet;

/*
 * The attribute the mapping gives for key (0 if none), and its name in
 * *name_out, palloc'd in CurrentMemoryContext.
 */
static AttrNumber
column_of(Relation rel, Jsonb *mapping, const char *key, const char **name_out)
{
	JsonbValue	k;
	JsonbValue *v;
	char	   *name;
	AttrNumber	attnum;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&mapping->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return 0;
	name = pnstrdup(v->val.string.val, v->val.string.len);
	attnum = SPI_fnumber(RelationGetDescr(rel), name);
	if (attnum <= 0)
		elog(ERROR, "velt_users_trigger: column \"%s\" vanished", name);
	if (name_out)
		*name_out = name;
	return attnum;
}

/* velt.trigger_columns' plan, kept for the backend's life (SPI_keepplan). */
static SPIPlanPtr mapping_plan = NULL;

/*
 * Runs velt.trigger_columns over the trigger's key=column arguments: the
 * checked mapping, as jsonb in SPI's procedure context, which SPI_finish
 * frees.  The keys are the scope keys and velt_user_fields' trigger keys.
 */
static Jsonb *
read_mapping(TriggerData *td)
{
	Trigger    *trigger = td->tg_trigger;
	Datum	   *args = palloc(sizeof(Datum) * Max(trigger->tgnargs, 1));
	Oid			types[2] = {OIDOID, TEXTARRAYOID};
	Datum		values[2];
	bool		isnull;
	int			i;

	for (i = 0; i < trigger->tgnargs; i++)
		args[i] = CStringGetTextDatum(trigger->tgargs[i]);
	values[0] = ObjectIdGetDatum(RelationGetRelid(td->tg_relation));
	values[1] = PointerGetDatum(construct_array(args, trigger->tgnargs, TEXTOID, -1, false, TYPALIGN_INT));
	/* prepared once per backend: a row-level trigger fires per row */
	if (mapping_plan == NULL)
	{
		/* the keys in the order velt.trigger_columns' hints list them */
		char	   *sql = psprintf("SELECT velt.trigger_columns('velt_users_trigger', $1, $2, "
								   "ARRAY['organization', '%s'], "
								   "ARRAY['%s', '%s', 'document', 'folder', '%s', '%s'])",
								   velt_user_fields[VELT_USER_ID].trigger_key,
								   velt_user_fields[VELT_USER_NAME].trigger_key,
								   velt_user_fields[VELT_USER_EMAIL].trigger_key,
								   velt_user_fields[VELT_USER_PHOTO_URL].trigger_key,
								   velt_user_fields[VELT_USER_ROLE].trigger_key);

		mapping_plan = SPI_prepare(sql, 2, types);
		if (mapping_plan == NULL)
			elog(ERROR, "velt_users_trigger: could not plan reading its arguments");
		SPI_keepplan(mapping_plan);
	}
	if (SPI_execute_plan(mapping_plan, values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "velt_users_trigger: could not read its arguments");
	/* in SPI's procedure context, which SPI_execute_plan left current */
	return DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Reads and checks the trigger's key=column arguments into map.  The
 * column names are copied into cxt: a row-level trigger's map outlives
 * this call's SPI connection, and its messages for later rows quote them.
 */
static void
read_column_map(TriggerData *td, ColumnMap *map, MemoryContext cxt)
{
	Jsonb	   *mapping = read_mapping(td);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			i;

	memset(map, 0, sizeof(*map));
	map->org = column_of(td->tg_relation, mapping, "organization", &map->org_column);
	map->document = column_of(td->tg_relation, mapping, "document", &map->document_column);
	map->folder = column_of(td->tg_relation, mapping, "folder", &map->folder_column);
	for (i = 0; i < VELT_USER_NFIELDS; i++)
		map->fields[i] = column_of(td->tg_relation, mapping, velt_user_fields[i].trigger_key,
								   i == VELT_USER_ID ? &map->user_column : NULL);
	MemoryContextSwitchTo(old);
}

/* A column's value as a text Datum in CurrentMemoryContext. */
static Datum
text_value(TupleTableSlot *slot, AttrNumber attnum, bool *isnull)
{
	Datum		d = slot_getattr(slot, attnum, isnull);
	Oid			type;
	Oid			output;
	bool		varlena;

	if (*isnull)
		return (Datum) 0;
	type = TupleDescAttr(slot->tts_tupleDescriptor, attnum - 1)->atttypid;
	if (type == TEXTOID || type == VARCHAROID)
		return PointerGetDatum(pg_detoast_datum_copy((struct varlena *) DatumGetPointer(d)));
	/* char(n) as its cast to text reads it, without the padding: the
	 * same text the end-of-statement lookup (removals.c) compares */
	if (type == BPCHAROID)
		return DirectFunctionCall1(rtrim1, d);
	getTypeOutputInfo(type, &output, &varlena);
	return CStringGetTextDatum(OidOutputFunctionCall(output, d));
}

/* A column's value as a C string, or NULL for NULL or an unmapped column. */
static char *
cstring_value(TupleTableSlot *slot, AttrNumber attnum)
{
	bool		isnull;
	Datum		d;

	if (attnum == 0)
		return NULL;
	d = text_value(slot, attnum, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

/* Starts an empty set of scopes in CurrentMemoryContext. */
static void
scope_set_init(ScopeSet *set)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(uint32);
	ctl.entrysize = sizeof(ScopeBucket);
	ctl.hcxt = CurrentMemoryContext;
	set->buckets = hash_create("velt trigger scopes", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	set->scopes = NIL;
	set->last = NULL;
}

/* Whether two optional strings are equal (both NULL counts). */
static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The set's scope for (org, document, folder); made if create, else NULL. */
static Scope *
scope_lookup(ScopeSet *set, char *org, char *document, char *folder, bool create)
{
	uint32		hash = hash_bytes((const unsigned char *) org, strlen(org));
	ScopeBucket *bucket;
	Scope	   *scope;
	bool		found;

	if (document)
		hash ^= hash_bytes((const unsigned char *) document, strlen(document)) * 31;
	if (folder)
		hash ^= hash_bytes((const unsigned char *) folder, strlen(folder)) * 17;
	bucket = hash_search(set->buckets, &hash, create ? HASH_ENTER : HASH_FIND, &found);
	if (bucket == NULL)
		return NULL;
	if (!found)
		bucket->first = NULL;
	for (scope = bucket->first; scope; scope = scope->next_in_bucket)
	{
		if (strcmp(scope->org, org) == 0 && same(scope->document, document) &&
			same(scope->folder, folder))
			return scope;
	}
	if (!create)
		return NULL;
	scope = palloc0(sizeof(Scope));
	scope->org = org;
	scope->document = document;
	scope->folder = folder;
	scope->next_in_bucket = bucket->first;
	bucket->first = scope;
	set->scopes = lappend(set->scopes, scope);
	return scope;
}

/* Allocates or enlarges a huge array in CurrentMemoryContext. */
static void *
grow(void *pointer, Size size)
{
	if (pointer == NULL)
		return MemoryContextAllocHuge(CurrentMemoryContext, size);
	return repalloc_huge(pointer, size);
}

/* Appends the row in slot to the scope, as text in the velt_user_fields layout. */
static void
scope_add_row(Scope *scope, TupleTableSlot *slot, const ColumnMap *map)
{
	int			f;

	if (scope->n == scope->cap)
	{
		scope->cap = scope->cap ? scope->cap * 2 : 64;
		scope->values = grow(scope->values,
							 sizeof(Datum) * scope->cap * VELT_USER_NFIELDS);
		scope->nulls = grow(scope->nulls,
							sizeof(bool) * scope->cap * VELT_USER_NFIELDS);
	}
	for (f = 0; f < VELT_USER_NFIELDS; f++)
	{
		size_t		i = row_start(scope->n) + f;

		if (map->fields[f] == 0)
		{
			scope->values[i] = (Datum) 0;
			scope->nulls[i] = true;
		}
		else
			scope->values[i] = text_value(slot, map->fields[f], &scope->nulls[i]);
	}
	scope->n++;
}

static velt_noreturn void reject_null(TriggerData *td, const char *column,
									  const char *key, bool empty);

/* Raises the error for a NULL (or, if empty, empty) organization or user ID. */
static void
reject_null(TriggerData *td, const char *column, const char *key, bool empty)
{
	ereport(ERROR,
			(errcode(empty ? ERRCODE_INVALID_PARAMETER_VALUE : ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("velt_users_trigger: column \"%s\" (%s) is %s in a row of table %s",
					column, key, empty ? "empty" : "NULL",
					RelationGetRelationName(td->tg_relation)),
			 errhint("Velt needs an organization and a user ID for every user.")));
	pg_unreachable();
}

/* The same rule as the SQL functions: no control characters in IDs. */
static void
reject_control_characters(TriggerData *td, const char *column, const char *key,
						  const char *value, int len)
{
	/* the message is built only for a value that fails */
	if (velt_control_character_at(value, len) >= 0)
		velt_reject_control_characters(value, len,
									   psprintf("velt_users_trigger: column \"%s\" (%s) of table %s",
												column, key, RelationGetRelationName(td->tg_relation)),
									   NULL, NULL);
}

/* A document or folder: its value, or NULL when NULL, empty or unmapped. */
static char *
optional_scope(TupleTableSlot *slot, AttrNumber attnum)
{
	char	   *value = cstring_value(slot, attnum);

	return (value && value[0] != '\0') ? value : NULL;
}

/*
 * Whether a column holds the given text (NULL for NULL), read in place:
 * only plain inline text and varchar values qualify.
 */
static bool
column_is(TupleTableSlot *slot, AttrNumber attnum, const char *value)
{
	bool		isnull;
	Datum		d;
	Oid			type;
	struct varlena *v;

	if (attnum == 0)
		return value == NULL;
	d = slot_getattr(slot, attnum, &isnull);
	if (isnull || value == NULL)
		return isnull && value == NULL;
	type = TupleDescAttr(slot->tts_tupleDescriptor, attnum - 1)->atttypid;
	if (type != TEXTOID && type != VARCHAROID)
		return false;
	v = (struct varlena *) DatumGetPointer(d);
	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		return false;
	return VARSIZE_ANY_EXHDR(v) == strlen(value) &&
		memcmp(VARDATA_ANY(v), value, VARSIZE_ANY_EXHDR(v)) == 0;
}

/* The scope of the row in slot, made on first sight. */
static Scope *
scope_of_row(TriggerData *td, const ColumnMap *map, ScopeSet *set, TupleTableSlot *slot)
{
	char	   *org;

	/* rows of one statement mostly share a scope: skip the lookup then */
	if (set->last && column_is(slot, map->org, set->last->org) &&
		column_is(slot, map->document, set->last->document) &&
		column_is(slot, map->folder, set->last->folder))
		return set->last;

	org = cstring_value(slot, map->org);
	if (org == NULL || org[0] == '\0')
		reject_null(td, map->org_column, "organization", org != NULL);
	reject_control_characters(td, map->org_column, "organization", org, strlen(org));
	set->last = scope_lookup(set, org, optional_scope(slot, map->document),
							 optional_scope(slot, map->folder), true);
	if (set->last->document)
		reject_control_characters(td, map->document_column, "document", set->last->document,
								  strlen(set->last->document));
	if (set->last->folder)
		reject_control_characters(td, map->folder_column, "folder", set->last->folder,
								  strlen(set->last->folder));
	return set->last;
}

/* Adds the row in slot to its scope in set. */
static void
collect_row(TriggerData *td, const ColumnMap *map, ScopeSet *set, TupleTableSlot *slot)
{
	Scope	   *scope = scope_of_row(td, map, set, slot);
	bool		isnull;

	(void) slot_getattr(slot, map->fields[VELT_USER_ID], &isnull);
	if (isnull)
		reject_null(td, map->user_column, "user_id", false);
	scope_add_row(scope, slot, map);
	{
		struct varlena *id = (struct varlena *) DatumGetPointer(row_user_id(scope, scope->n - 1));

		if (VARSIZE_ANY_EXHDR(id) == 0)
			reject_null(td, map->user_column, "user_id", true);
		reject_control_characters(td, map->user_column, "user_id", VARDATA_ANY(id),
								  VARSIZE_ANY_EXHDR(id));
	}
}

/* Adds the one row of a row-level firing. */
static void
collect_tuple(TriggerData *td, const ColumnMap *map, ScopeSet *set, HeapTuple tuple)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(td->tg_relation),
													&TTSOpsHeapTuple);

	ExecStoreHeapTuple(tuple, slot, false);
	collect_row(td, map, set, slot);
	ExecDropSingleTupleTableSlot(slot);
}

/* Adds every row of a transition table. */
static void
collect_table(TriggerData *td, const ColumnMap *map, ScopeSet *set, Tuplestorestate *rows)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(td->tg_relation),
													&TTSOpsMinimalTuple);
	int			reader = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(rows, reader);
	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
		collect_row(td, map, set, slot);
	tuplestore_select_read_pointer(rows, 0);
	ExecDropSingleTupleTableSlot(slot);
}

/* ---------------------------------------------------------------------
 * Turning scopes into outbox operations
 * ---------------------------------------------------------------------
 */

/* Orders two text Datums bytewise (the order only has to be consistent). */
static int
compare_text(Datum a, Datum b)
{
	const char *pa = DatumGetPointer(a);
	const char *pb = DatumGetPointer(b);
	int			la = VARSIZE_ANY_EXHDR(pa);
	int			lb = VARSIZE_ANY_EXHDR(pb);
	int			cmp = memcmp(VARDATA_ANY(pa), VARDATA_ANY(pb), Min(la, lb));

	return cmp != 0 ? cmp : (la > lb) - (la < lb);
}

/* qsort_arg comparator: rows by user ID, then position. */
static int
compare_rows(const void *a, const void *b, void *arg)
{
	const Scope *scope = (const Scope *) arg;
	int			x = *(const int *) a;
	int			y = *(const int *) b;
	int			cmp = compare_text(row_user_id(scope, x), row_user_id(scope, y));

	return cmp != 0 ? cmp : (x > y) - (x < y);
}

/*
 * Sorts the scope's rows by user ID and marks, for each ID, its last row as
 * the one that counts.
 */
static void
sort_scope(Scope *scope)
{
	int			i;

	scope->order = palloc(sizeof(int) * Max(scope->n, 1));
	scope->keep = palloc(sizeof(bool) * Max(scope->n, 1));
	for (i = 0; i < scope->n; i++)
		scope->order[i] = i;
	qsort_arg(scope->order, scope->n, sizeof(int), compare_rows, scope);
	scope->kept = 0;
	for (i = 0; i < scope->n; i++)
	{
		bool		last_of_run = (i + 1 == scope->n) ||
			compare_text(row_user_id(scope, scope->order[i]),
						 row_user_id(scope, scope->order[i + 1])) != 0;

		scope->keep[scope->order[i]] = last_of_run;
		if (last_of_run)
			scope->kept++;
	}
}

/* Whether a sorted scope holds a user ID. */
static bool
scope_has(const Scope *scope, Datum uid)
{
	int			lo = 0;
	int			hi = scope->n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			cmp = compare_text(row_user_id(scope, scope->order[mid]), uid);

		if (cmp == 0)
			return true;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

/* The fixed data of a scope's operations, as jsonb. */
static Datum
scope_fixed(const Scope *scope)
{
	json_object *fixed = velt_jsonc_owned(json_object_new_object());

	json_object_object_add(fixed, "organizationId", json_object_new_string(scope->org));
	if (scope->document)
		json_object_object_add(fixed, "documentId", json_object_new_string(scope->document));
	if (scope->folder)
		json_object_object_add(fixed, "folderId", json_object_new_string(scope->folder));
	return velt_jsonc_to_jsonb(fixed);
}

/* One users/add operation with the scope's users, in first-seen order. */
static void
enqueue_adds(const Scope *scope)
{
	Datum	   *values = scope->values;
	bool	   *nulls = scope->nulls;
	int			dims[2] = {scope->kept, VELT_USER_NFIELDS};
	int			lbs[2] = {1, 1};

	if (scope->kept == 0)
		return;
	if (scope->kept < scope->n)
	{
		/* drop the earlier rows of repeated user IDs */
		int			i;
		int			n = 0;

		values = MemoryContextAllocHuge(CurrentMemoryContext,
										sizeof(Datum) * scope->kept * VELT_USER_NFIELDS);
		nulls = MemoryContextAllocHuge(CurrentMemoryContext,
									   sizeof(bool) * scope->kept * VELT_USER_NFIELDS);
		for (i = 0; i < scope->n; i++)
		{
			if (!scope->keep[i])
				continue;
			memcpy(&values[row_start(n)], &scope->values[row_start(i)],
				   sizeof(Datum) * VELT_USER_NFIELDS);
			memcpy(&nulls[row_start(n)], &scope->nulls[row_start(i)],
				   sizeof(bool) * VELT_USER_NFIELDS);
			n++;
		}
	}
	/* the IDs are the first column of item_values; ids stays empty */
	velt_outbox_insert(velt_endpoints[VELT_EP_ADD_USERS].path, scope->org, scope_fixed(scope), (Datum) 0,
					   PointerGetDatum(construct_empty_array(TEXTOID)),
					   PointerGetDatum(construct_md_array(values, nulls, 2, dims, lbs,
														  TEXTOID, -1, false, TYPALIGN_INT)));
}

/*
 * Records the users that left an old scope: every user of it, or, when
 * the rows were updated, only those no longer in that scope.  Whether each
 * is gone from the table, and so deleted, is up to removals.c.
 */
static void
record_removals(ScopeSet *old, ScopeSet *now, VeltRemovals *removals)
{
	ListCell   *lc;

	foreach(lc, old->scopes)
	{
		Scope	   *scope = lfirst(lc);
		Scope	   *still = now ? scope_lookup(now, scope->org, scope->document,
											   scope->folder, false) : NULL;
		const char *parts[VELT_KEY_NPARTS];
		int			i;

		parts[VELT_KEY_ORG] = scope->org;
		parts[VELT_KEY_SCOPE] = scope->document;
		parts[VELT_KEY_SUBSCOPE] = scope->folder;
		sort_scope(scope);
		for (i = 0; i < scope->n; i++)
		{
			Datum		uid = row_user_id(scope, scope->order[i]);

			if (!scope->keep[scope->order[i]])
				continue;
			if (still && scope_has(still, uid))
				continue;
			parts[VELT_KEY_ID] = TextDatumGetCString(uid);
			velt_removals_add(removals, parts);
		}
	}
}

/* The columns of a user's key, by VeltKeyPart, for removals.c. */
static void
key_columns(const ColumnMap *map, const char *columns[VELT_KEY_NPARTS])
{
	columns[VELT_KEY_ORG] = map->org_column;
	columns[VELT_KEY_SCOPE] = map->document_column;
	columns[VELT_KEY_SUBSCOPE] = map->folder_column;
	columns[VELT_KEY_ID] = map->user_column;
}

/* A trigger's column map, kept for the statement (a row trigger fires per row). */
typedef struct ColumnMapCache
{
	Oid			tgoid;
	ColumnMap	map;
} ColumnMapCache;

/*
 * The column map of the firing trigger, read (and checked) at its first
 * firing in the statement: the trigger's function info, and fn_extra with
 * it, lives as long as the statement, during which the table cannot change.
 *
 * Where each thing lives: the cache and the column names it quotes, in
 * flinfo->fn_mcxt (the statement's); the mapping they are read from, in
 * SPI's procedure context of this firing (gone at its SPI_finish); the
 * plan that reads it, for the backend's life.
 */
static const ColumnMap *
column_map(FunctionCallInfo fcinfo, TriggerData *td)
{
	ColumnMapCache *cache = (ColumnMapCache *) fcinfo->flinfo->fn_extra;

	if (cache == NULL || cache->tgoid != td->tg_trigger->tgoid)
	{
		MemoryContext cxt = fcinfo->flinfo->fn_mcxt;

		cache = MemoryContextAllocZero(cxt, sizeof(ColumnMapCache));
		read_column_map(td, &cache->map, cxt);
		cache->tgoid = td->tg_trigger->tgoid;
		fcinfo->flinfo->fn_extra = cache;
	}
	return &cache->map;
}

PG_FUNCTION_INFO_V1(velt_users_trigger);

Datum
velt_users_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const ColumnMap *map;
	ScopeSet	added;
	ScopeSet	removed;
	bool		statement;
	bool		inserting;
	bool		deleting;
	const char *columns[VELT_KEY_NPARTS];
	VeltRemovals *removals;
	ListCell   *lc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("velt_users_trigger must be an AFTER trigger")));
	statement = TRIGGER_FIRED_FOR_STATEMENT(td->tg_event);
	inserting = TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	deleting = TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event);

	SPI_connect();
	map = column_map(fcinfo, td);
	if (statement &&
		((inserting && td->tg_newtable == NULL) || (deleting && td->tg_oldtable == NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("velt_users_trigger FOR EACH STATEMENT needs its transition tables"),
				 errhint("Declare REFERENCING NEW TABLE AS ... (INSERT, UPDATE) and OLD TABLE AS ... (UPDATE, DELETE).")));

	scope_set_init(&added);
	scope_set_init(&removed);
	if (inserting)
	{
		if (statement)
			collect_table(td, map, &added, td->tg_newtable);
		else
			collect_tuple(td, map, &added,
						  TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple);
		foreach(lc, added.scopes)
			sort_scope(lfirst(lc));
	}
	if (deleting)
	{
		if (statement)
			collect_table(td, map, &removed, td->tg_oldtable);
		else
			collect_tuple(td, map, &removed, td->tg_trigtuple);
		/* an UPDATE removes users only from the scopes they left */
		key_columns(map, columns);
		removals = velt_removals_open(VELT_REMOVE_USERS, td->tg_relation, columns, statement);
		record_removals(&removed, inserting ? &added : NULL, removals);
		velt_removals_close(removals);
	}
	foreach(lc, added.scopes)
		enqueue_adds(lfirst(lc));

	SPI_finish();
	return PointerGetDatum(NULL);
}
