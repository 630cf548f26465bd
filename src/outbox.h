/*-------------------------------------------------------------------------
 *
 * outbox.h
 *		Durable delivery at commit: enqueue, wake-up and drain.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_OUTBOX_H
#define VELT_OUTBOX_H

#include "postgres.h"

#include "request.h"

/* What one drain did, as velt_process_outbox reports it. */
typedef struct VeltDrainSummary
{
	int			requests;		/* HTTP requests sent */
	int64		delivered;		/* items Velt answered for */
	int64		failed;			/* items rejected or dead-lettered */
	int64		retried;		/* items scheduled for a later attempt */
	int			settled;		/* operations delivered or finally failed */
	double		seconds;
	TimestampTz next_due;		/* earliest next_attempt_at seen, or 0 */
} VeltDrainSummary;

/*
 * Writes a validated call to velt.outbox in the current transaction and
 * returns the operation's id.  The worker is woken when the transaction
 * commits.
 */
extern int64 velt_outbox_enqueue(const VeltCall *call);

/*
 * The same at a lower level, for callers that build the operation
 * themselves (the users trigger): fixed is jsonb; items a jsonb array or 0;
 * ids text[]; item_values 0 or a text[][] of one row per item holding
 * VELT_USER_FIELDS (NULL elements are left out of the item).
 */
extern int64 velt_outbox_insert(const char *endpoint_path, const char *org,
								Datum fixed, Datum items, Datum ids,
								Datum item_values);

/* Field names of item_values columns, for users/add operations. */
#define VELT_USER_NFIELDS 5
extern const char *const velt_user_fields[VELT_USER_NFIELDS];

/*
 * Delivers due operations in the current transaction (the caller has
 * SPI connected and a snapshot), bounded by max_items and max_seconds.
 */
extern void velt_outbox_drain(int max_items, double max_seconds,
							  VeltDrainSummary *summary);

/* Registers the commit-time wake-up (from _PG_init). */
extern void velt_outbox_register_wakeup(void);

/* Set by the worker module: how to wake the worker, or NULL. */
extern void (*velt_wake_worker_hook) (void);

#endif							/* VELT_OUTBOX_H */
