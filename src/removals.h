/*-------------------------------------------------------------------------
 *
 * removals.h
 *		The keys a statement took away from rows of a table, and the
 *		deletes they become once the table is read back.
 *
 * A trigger that sees a key leave a row (a DELETE, or an UPDATE that
 * changed the organization, the scope or the ID) does not know whether the
 * key is gone: another row of the same statement may have taken it (a
 * renumbering, a swap), or already hold it under a deferred unique key.
 * So it does not enqueue the delete itself; it records the key here, and
 * the key is looked up in the table once the statement's triggers have
 * fired: a key no row holds any more becomes a delete in the outbox, and a
 * key some row still holds is left alone (the trigger that gave it to that
 * row enqueued its add).  The words are those of outbox.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_REMOVALS_H
#define VELT_REMOVALS_H

#include "postgres.h"

#include "utils/rel.h"

/* Which trigger function's keys: what a key is made of, what deletes it. */
typedef enum VeltRemovalKind
{
	VELT_REMOVE_USERS,			/* organization, document, folder, user */
	VELT_REMOVE_MEMBERS,		/* organization, group, user */
	VELT_REMOVE_DOCUMENTS,		/* organization, document */
	VELT_REMOVE_NKINDS
} VeltRemovalKind;

/*
 * The parts of a key, in this order.  A part the kind does not have, or
 * the trigger does not map, is NULL; NULL and empty are the same part.
 */
typedef enum VeltKeyPart
{
	VELT_KEY_ORG,
	VELT_KEY_SCOPE,				/* users: document; members: group */
	VELT_KEY_SUBSCOPE,			/* users: folder */
	VELT_KEY_ID,
	VELT_KEY_NPARTS
} VeltKeyPart;

typedef struct VeltRemovals VeltRemovals;

/*
 * The removals of one firing of a trigger of the given kind on rel, whose
 * key parts are in the named columns (NULL: not mapped; the ID column is
 * required).  Called inside the SECURITY DEFINER trigger function: the
 * keys are later looked up, and their deletes written, as the current
 * user (the function's owner).
 *
 * With at_once (a statement-level firing, which sees the whole statement)
 * velt_removals_close resolves the keys.  Otherwise (a row-level firing)
 * the keys join those of the same trigger's other firings in the
 * statement, and are resolved when the statement's AFTER triggers have all
 * fired (the end of its ExecutorFinish); a firing outside any
 * ExecutorFinish (COPY, a deferred constraint trigger at commit) resolves
 * its keys at once, at close.
 */
extern VeltRemovals *velt_removals_open(VeltRemovalKind kind, Relation rel,
										const char *const columns[VELT_KEY_NPARTS],
										bool at_once);

/* Records a key; parts by VeltKeyPart.  A key without an ID is ignored. */
extern void velt_removals_add(VeltRemovals *removals,
							  const char *const parts[VELT_KEY_NPARTS]);

/* Ends the firing: resolves the keys now, or leaves them to the statement's end. */
extern void velt_removals_close(VeltRemovals *removals);

/* Installs the end-of-statement hook and the transaction callbacks (from _PG_init). */
extern void velt_removals_register_hooks(void);

/*
 * Raises unless relid and every relation it takes rows from (partitions,
 * inheritance children) is a table, partitioned table or materialized
 * view: a foreign table would be read through its server with the
 * reader's user mapping, which for velt is the extension owner's.  who
 * names the caller in the message.
 */
extern void velt_check_local_relations(Oid relid, const char *who);

#endif							/* VELT_REMOVALS_H */
