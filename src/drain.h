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
 * Delivers due operations in the current transaction (the caller has
 * SPI connected and a snapshot), bounded by max_items and max_seconds.
 * Returns in the caller's memory context.
 */
extern void velt_outbox_drain(int max_items, double max_seconds,
							  VeltDrainSummary *summary);

#endif							/* VELT_DRAIN_H */
