/*-------------------------------------------------------------------------
 *
 * flight.c
 *		Requests in flight: one engine that keeps several exchanges going
 *		on the backend's multi handle.
 *
 * The engine fills the free slots (up to the plan's) with flights: first
 * the waiting ones that are due (a retry whose backoff has passed, one
 * that waited for a rate-limit token), then new ones the plan offers.  It
 * waits on the multi handle until a transfer finishes or the next waiting
 * flight is due, applies the one retry policy of exchange.c to each answer
 * (velt_exchange_after_attempt), and hands finished flights back.  Which
 * flight may start when is the plan's business: this file knows no order.
 *
 * Rate limit: each attempt takes a token of the cluster's limit
 * (ratelimit.c) without sleeping; with none left the flight waits as a
 * retry does, and one that gets none within velt.timeout_ms finishes as
 * rate-limited.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "flight.h"
#include "http.h"
#include "ratelimit.h"
#include "settings.h"

/* The engine's state during velt_flights_run. */
typedef struct Engine
{
	const VeltFlightPlan *plan;
	VeltFlight *slot_flight[VELT_HTTP_MAX_SLOTS];	/* NULL: free */
	int			slots;
	int			in_flight;
	VeltFlight **waiting;		/* VELT_FLIGHT_WAITING, in the order they
								 * began to wait */
	int			nwaiting;
	int			maxwaiting;
} Engine;

/* What an attempt to start a flight did. */
typedef enum StartOutcome
{
	START_SENT,					/* the slot is taken */
	START_NO_TOKEN,				/* the rate limit has no token yet */
	START_FAILED				/* no token within velt.timeout_ms */
} StartOutcome;

/* Adds f to the waiting flights. */
static void
add_waiting(Engine *e, VeltFlight *f)
{
	if (e->nwaiting == e->maxwaiting)
	{
		e->maxwaiting *= 2;
		e->waiting = repalloc(e->waiting, sizeof(VeltFlight *) * e->maxwaiting);
	}
	e->waiting[e->nwaiting++] = f;
	f->phase = VELT_FLIGHT_WAITING;
}

/* Removes the i-th waiting flight, keeping the others in order. */
static VeltFlight *
take_waiting(Engine *e, int i)
{
	VeltFlight *f = e->waiting[i];

	memmove(&e->waiting[i], &e->waiting[i + 1], sizeof(VeltFlight *) * (e->nwaiting - i - 1));
	e->nwaiting--;
	return f;
}

/*
 * Hands a finished or dropped flight back to its owner, in its context,
 * and deletes that context if the owner is done with it.
 */
static void
hand_back(Engine *e, VeltFlight *f, VeltFlightPhase phase)
{
	MemoryContext old = MemoryContextSwitchTo(f->cxt);
	bool		release;

	f->phase = phase;
	release = e->plan->finished(e->plan->arg, f);
	MemoryContextSwitchTo(old);
	if (release)
	{
		MemoryContextDelete(f->cxt);
		f->cxt = NULL;
	}
}

/*
 * Starts f's next attempt on slot, or, when the cluster's rate limit has
 * no token yet, makes it wait (or finishes it past velt.timeout_ms).
 */
static StartOutcome
start_flight(Engine *e, VeltFlight *f, int slot, TimestampTz now)
{
	long		token_ms = velt_ratelimit_try();

	if (token_ms > 0)
	{
		if (f->token_since == 0)
			f->token_since = now;
		if ((now - f->token_since) / 1000 + token_ms > velt_timeout_ms)
		{
			MemoryContext old = MemoryContextSwitchTo(f->cxt);

			velt_exchange_rate_limited(&f->ex);
			MemoryContextSwitchTo(old);
			hand_back(e, f, VELT_FLIGHT_FINISHED);
			return START_FAILED;
		}
		f->not_before = TimestampTzPlusMilliseconds(now, token_ms);
		add_waiting(e, f);
		return START_NO_TOKEN;
	}
	f->token_since = 0;
	velt_exchange_attempt_begins(&f->ex);
	velt_http_start(slot, &f->req);
	f->phase = VELT_FLIGHT_IN_FLIGHT;
	e->slot_flight[slot] = f;
	e->in_flight++;
	return START_SENT;
}

/* The flight a free slot should take now (a due waiting one first), or NULL. */
static VeltFlight *
next_flight(Engine *e, TimestampTz now)
{
	int			i;
	VeltFlight *f;

	for (i = 0; i < e->nwaiting; i++)
		if (e->waiting[i]->not_before <= now)
			return take_waiting(e, i);
	f = e->plan->next(e->plan->arg);
	if (f)
	{
		f->phase = VELT_FLIGHT_NEW;
		f->token_since = 0;
	}
	return f;
}

/* Gives every free slot a flight, while the rate limit has tokens. */
static void
fill_slots(Engine *e, TimestampTz now)
{
	int			slot;

	for (slot = 0; slot < e->slots; slot++)
	{
		StartOutcome outcome = START_FAILED;
		VeltFlight *f;

		if (e->slot_flight[slot] != NULL)
			continue;
		while (outcome == START_FAILED && (f = next_flight(e, now)) != NULL)
			outcome = start_flight(e, f, slot, now);
		if (outcome != START_SENT)
			return;
	}
}

/* Once the plan halts, flights still waiting for a first attempt are dropped. */
static void
drop_unsent(Engine *e)
{
	int			i = 0;

	if (e->plan->halted == NULL || !e->plan->halted(e->plan->arg))
		return;
	while (i < e->nwaiting)
	{
		if (e->waiting[i]->ex.attempts == 0)
			hand_back(e, take_waiting(e, i), VELT_FLIGHT_DROPPED);
		else
			i++;
	}
}

/*
 * Milliseconds until the next waiting flight is due (rounded up); -1 if
 * none waits or no slot is free for it (then only a transfer can finish
 * first).
 */
static long
next_wait_ms(Engine *e, TimestampTz now)
{
	long		wait_ms = -1;
	int			i;

	if (e->in_flight >= e->slots)
		return -1;
	for (i = 0; i < e->nwaiting; i++)
	{
		long		ms = Max((long) ((e->waiting[i]->not_before - now + 999) / 1000), 0L);

		wait_ms = wait_ms < 0 ? ms : Min(wait_ms, ms);
	}
	return wait_ms;
}

/* Reads the answer that arrived on slot: finished, or waiting for a retry. */
static void
answer_arrived(Engine *e, int slot, VeltHttpResponse *resp)
{
	VeltFlight *f = e->slot_flight[slot];
	MemoryContext old;
	long		delay_ms;
	bool		done;

	if (f == NULL)
		elog(ERROR, "velt: an HTTP answer arrived for no request in flight");
	e->slot_flight[slot] = NULL;
	e->in_flight--;
	old = MemoryContextSwitchTo(f->cxt);
	/* the answer lives in the slot's buffer, which the next request reuses */
	if (resp->body_len > 0)
		resp->body = pnstrdup(resp->body, resp->body_len);
	f->ex.http = *resp;
	done = velt_exchange_after_attempt(&f->ex, f->max_retries, &delay_ms);
	MemoryContextSwitchTo(old);
	if (done)
		hand_back(e, f, VELT_FLIGHT_FINISHED);
	else
	{
		f->not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay_ms);
		add_waiting(e, f);
	}
}

/* The engine's loop: until nothing is in flight, waiting or offered. */
static void
drive(Engine *e)
{
	for (;;)
	{
		VeltHttpResponse resp;
		TimestampTz now = GetCurrentTimestamp();
		long		wait_ms;
		int			done;

		drop_unsent(e);
		fill_slots(e, now);
		if (e->plan->tick)
			e->plan->tick(e->plan->arg);
		wait_ms = next_wait_ms(e, now);
		if (e->in_flight == 0 && e->nwaiting == 0)
			return;
		done = velt_http_wait(&resp, wait_ms);
		if (done >= 0)
			answer_arrived(e, done, &resp);
	}
}

void
velt_flights_run(const VeltFlightPlan *plan)
{
	Engine		e;

	memset(&e, 0, sizeof(e));
	e.plan = plan;
	e.slots = Max(1, Min(plan->slots, VELT_HTTP_MAX_SLOTS));
	e.maxwaiting = 16;
	e.waiting = palloc(sizeof(VeltFlight *) * e.maxwaiting);

	PG_TRY();
	{
		drive(&e);
	}
	PG_CATCH();
	{
		/* an ERROR anywhere in the loop: no transfer may stay attached */
		velt_http_abort();
		PG_RE_THROW();
	}
	PG_END_TRY();
	pfree(e.waiting);
}
