/*-------------------------------------------------------------------------
 *
 * drain.h
 *		Delivering the outbox: take, coalesce, send, settle.
 *
 * The words (operation, item, target, fixed, piece, batch, round, settle,
 * dead letter) are defined once, in the glossary of outbox.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_DRAIN_H
#define VELT_DRAIN_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* Longest failure text a summary keeps (endpoint, status, message). */
#define VELT_DRAIN_TEXT_LEN 256

/*
 * What one drain did, as velt_process_outbox reports it and the worker
 * logs and shows it (velt_workers).
 */
typedef struct VeltDrainSummary
{
	int			requests;		/* HTTP requests sent */
	int64		delivered;		/* items Velt answered for */
	int64		failed;			/* items rejected or dead-lettered */
	int64		retried;		/* items scheduled for a later attempt */
	int			settled;		/* operations delivered or finally failed */
	double		seconds;
	TimestampTz next_due;		/* earliest next_attempt_at seen, or 0 */
	bool		paused;			/* velt.pause_delivery: nothing was done */

	/* whether Velt was there: see "Outages" in docs/outbox.md */
	int			answered;		/* requests Velt answered (2xx, or refused
								 * for good) */
	int			unavailable;	/* requests worth a later attempt: no
								 * answer, 5xx, 429 after the retries */
	char		last_failure[VELT_DRAIN_TEXT_LEN];	/* the last of those */

	/* dead letters: operations that used up velt.max_attempts */
	int			dead_letters;
	int64		first_dead_id;	/* the first one's id, endpoint, error */
	char		first_dead_endpoint[VELT_DRAIN_TEXT_LEN];
	char		first_dead_error[VELT_DRAIN_TEXT_LEN];
} VeltDrainSummary;

/*
 * Delivers due operations in the current transaction (the caller has
 * SPI connected and a snapshot), bounded by max_items and max_seconds.
 * With velt.pause_delivery on it does nothing and sets summary->paused.
 * Returns in the caller's memory context.
 */
extern void velt_outbox_drain(int max_items, double max_seconds,
							  VeltDrainSummary *summary);

#endif							/* VELT_DRAIN_H */
