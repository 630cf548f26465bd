/*-------------------------------------------------------------------------
 *
 * flight.h
 *		Requests in flight: one engine that keeps several exchanges going
 *		on the backend's multi handle, for every caller that has more than
 *		one request to send.
 *
 * A flight is one exchange (exchange.h) driven by the engine: started on a
 * free slot when its owner's plan offers it, retried after the wait the one
 * retry policy asks for (kept here rather than slept), made to wait for a
 * token of the cluster's rate limit, and handed back to its owner once
 * finished.  What may start when (input order, pages of a slice in order,
 * the outbox's per-ID order) is the owner's decision, through its plan.
 *
 * The callers: a write call of several requests (api.c), the slices of a
 * filtered read (reads.c) and the outbox drain (drain.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_FLIGHT_H
#define VELT_FLIGHT_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "exchange.h"

/* Where a flight stands; set by the engine. */
typedef enum VeltFlightPhase
{
	VELT_FLIGHT_NEW,			/* offered by the plan, not yet started */
	VELT_FLIGHT_WAITING,		/* due at not_before (a retry, a token) */
	VELT_FLIGHT_IN_FLIGHT,
	VELT_FLIGHT_FINISHED,		/* ex says how it went */
	VELT_FLIGHT_DROPPED			/* the plan halted before its first attempt */
} VeltFlightPhase;

/*
 * One request.  The owner fills cxt and max_retries, and prepares ex
 * and req with velt_exchange_prepare (in cxt) before offering it; the
 * engine owns the rest.  An owner embeds it as the first member of its
 * own record of the request, and casts a flight handed back to that.
 */
typedef struct VeltFlight
{
	MemoryContext cxt;			/* its answer is copied here; current while
								 * the engine reads it and hands it back */
	VeltExchange ex;
	VeltHttpRequest req;
	int			max_retries;	/* attempts beyond the first, at once */

	VeltFlightPhase phase;
	TimestampTz not_before;		/* VELT_FLIGHT_WAITING: next attempt */
	TimestampTz token_since;	/* waiting for a rate-limit token since, or 0 */
} VeltFlight;

/*
 * What the engine asks the owner.  next and finished are required; halted
 * and tick may be NULL.
 */
typedef struct VeltFlightPlan
{
	void	   *arg;
	int			slots;			/* most in flight at once, 1 to
								 * VELT_HTTP_MAX_SLOTS */

	/* The next flight that may start now, or NULL for none at the moment. */
	VeltFlight *(*next) (void *arg);

	/*
	 * A flight is finished (phase FINISHED: ex says how) or dropped (phase
	 * DROPPED); called with flight->cxt current.  May change what next
	 * offers.  Returns true when the owner keeps nothing in flight->cxt:
	 * the engine then deletes it (and sets it NULL) once back out.
	 */
	bool		(*finished) (void *arg, VeltFlight *flight);

	/*
	 * Whether the owner wants nothing new started: a flight still waiting
	 * for its first attempt is then dropped.  Retries of started ones go on.
	 */
	bool		(*halted) (void *arg);

	/* Called once per pass of the loop, in the caller's context. */
	void		(*tick) (void *arg);
} VeltFlightPlan;

/*
 * Runs the plan until nothing is in flight, nothing waits and next offers
 * nothing.  Returns in the caller's memory context.  An ERROR anywhere
 * (cancel, statement_timeout, a callback's) detaches every transfer
 * before it propagates.
 */
extern void velt_flights_run(const VeltFlightPlan *plan);

#endif							/* VELT_FLIGHT_H */
