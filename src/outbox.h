/*-------------------------------------------------------------------------
 *
 * outbox.h
 *		Durable delivery at commit: the outbox's words, enqueue and wake-up.
 *
 * Glossary: the words the outbox code (outbox.c, drain.c, triggers.c) uses,
 * each in this one sense.
 *
 *	operation	One row of velt.outbox: one endpoint call for one
 *				organization, written by the enqueuing transaction and
 *				delivered, retried, rejected or dead-lettered as a whole.
 *	item		One element of an operation's list (a user, a group, a bare
 *				ID), named by its ID; Velt answers each item on its own.
 *	target		The organization an operation belongs to (velt.outbox.target):
 *				the unit of ordering and of the drains' advisory locks.
 *	fixed		An operation's fixed data: the members of the request's
 *				"data" besides the items (organizationId, documentId, ...),
 *				the same in every request that carries its items.
 *	scope		The organization, document and folder of a user row; the
 *				users trigger writes one operation per scope.
 *	piece		A run of one operation's items, at most velt.batch_size,
 *				that travels in one request.
 *	batch		One request's worth of pieces with the same endpoint and
 *				fixed data, at most velt.batch_size items.
 *	round		One take-coalesce-send-settle pass of a drain over the
 *				operations due; a drain runs rounds until it reaches
 *				max_items or max_seconds.
 *	settle		To write what a round did: delete delivered operations,
 *				schedule retried ones, mark final failures, and record
 *				every ID's outcome in velt.outcomes.
 *	dead letter	An operation that failed in a retryable way
 *				velt.max_attempts times: state 'dead', kept in velt.outbox,
 *				its unanswered items recorded as failed.  (One Velt refused
 *				for good is 'rejected'.)
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_OUTBOX_H
#define VELT_OUTBOX_H

#include "postgres.h"

#include "request.h"

/*
 * The item layout of a users/add operation written by the users trigger:
 * velt.outbox.item_values holds one row per user with these columns, in
 * this order, the user ID first.  velt--1.0.sql documents the same order
 * for velt.outbox.item_values; the two must match.
 */
typedef enum VeltUserField
{
	VELT_USER_ID,
	VELT_USER_NAME,
	VELT_USER_EMAIL,
	VELT_USER_PHOTO_URL,
	VELT_USER_ROLE,
	VELT_USER_NFIELDS
} VeltUserField;

/* What a column of the layout is called. */
typedef struct VeltUserFieldName
{
	const char *member;			/* the user object's member in Velt's API */
	const char *trigger_key;	/* the key of velt_users_trigger's key=column
								 * argument that maps it */
} VeltUserFieldName;

/* Indexed by VeltUserField. */
extern const VeltUserFieldName velt_user_fields[VELT_USER_NFIELDS];

/*
 * Writes a validated call to velt.outbox in the current transaction and
 * returns the operation's id.  A call whose items are organizations
 * (VELT_OUTBOX_PER_ORGANIZATION) becomes one operation per organization,
 * in their order; the first one's id is returned.  The worker is woken
 * when the transaction commits.
 */
extern int64 velt_outbox_enqueue(const VeltCall *call);

/*
 * The same at a lower level, for callers that build the operation
 * themselves (the users trigger): fixed is jsonb; items a jsonb array or 0;
 * ids text[]; item_values 0 or a text[][] of one row per item in the
 * velt_user_fields layout (NULL elements are left out of the item).
 */
extern int64 velt_outbox_insert(const char *endpoint_path, const char *org,
								Datum fixed, Datum items, Datum ids,
								Datum item_values);

/*
 * Writes a velt_enqueue_request operation: path (as velt_request takes it)
 * with data as its whole "data", ordered alone within the organization
 * data names in "organizationId" (or with the other requests that name
 * none).  Returns the operation's id.
 */
extern int64 velt_outbox_enqueue_request(const char *path, json_object *data);

/* Registers the commit-time wake-up (from _PG_init). */
extern void velt_outbox_register_wakeup(void);

/* Set by the worker module: how to wake the worker, or NULL. */
extern void (*velt_wake_worker_hook) (void);

#endif							/* VELT_OUTBOX_H */
