/*-------------------------------------------------------------------------
 *
 * stats.h
 *		Cumulative statistics of velt's requests (the velt_stats view), in
 *		shared memory, per endpoint and caller kind.
 *
 * Every process that sends (backends, the background worker, pg_cron
 * jobs) goes through one request engine, so the counting happens in three
 * places only: where a request attempt ends (exchange.c), where the
 * per-ID outcomes of an answer are read (api.c), and where a call or a
 * delivered operation is recognised (api.c, reads.c, drain.c).  Counting
 * never allocates and never raises: it is atomic additions into a fixed
 * array, a no-op when velt was not preloaded.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_STATS_H
#define VELT_STATS_H

#include "postgres.h"

#include "endpoints.h"

/* Who sent a request: a synchronous SQL function, or an outbox drain. */
typedef enum VeltStatsCaller
{
	VELT_STATS_CALL = 0,		/* the default of every exchange */
	VELT_STATS_DRAIN,			/* worker, pg_cron or velt_process_outbox */
	VELT_STATS_CALLERS
} VeltStatsCaller;

/* The row of requests to paths outside the catalog (velt_request). */
#define VELT_STATS_OTHER_ENDPOINT VELT_EP_COUNT
#define VELT_STATS_ENDPOINTS (VELT_EP_COUNT + 1)

/* How one request attempt ended. */
typedef enum VeltStatsOutcome
{
	VELT_STATS_ANSWERED,		/* a 2xx answer velt could use */
	VELT_STATS_TRANSPORT,		/* no HTTP answer */
	VELT_STATS_CLIENT_ERROR,	/* 4xx but 429, or a 2xx error envelope */
	VELT_STATS_RATE_LIMITED,	/* 429 */
	VELT_STATS_SERVER_ERROR,	/* 5xx */
	VELT_STATS_MALFORMED		/* an answer not understood */
} VeltStatsOutcome;

/* Shared memory of the counters (from the shmem_request_hook). */
extern Size velt_stats_shmem_size(void);

/*
 * Finds or creates the counters (from the shmem_startup_hook, under
 * AddinShmemInitLock).  In the postmaster it also reads back the file a
 * clean shutdown wrote, and arranges for the next clean shutdown to write
 * it.
 */
extern void velt_stats_shmem_init(void);

/*
 * The statistics row of an endpoint path as an exchange gets it ("users/add",
 * "v1/users/add"): the catalog's endpoint, or VELT_STATS_OTHER_ENDPOINT.
 */
extern int	velt_stats_endpoint_of_path(const char *path);

/* The same for a catalog row, or one the drain made for velt_enqueue_request. */
extern int	velt_stats_endpoint_of(const VeltEndpoint *ep);

/* One SQL call (caller CALL) or one delivered operation (caller DRAIN). */
extern void velt_stats_count_call(int endpoint, VeltStatsCaller caller);

/*
 * One request attempt that ended (answered or not) after ms milliseconds;
 * retried says whether it repeated an earlier attempt of the same request.
 */
extern void velt_stats_count_attempt(int endpoint, VeltStatsCaller caller,
									 VeltStatsOutcome outcome, bool retried,
									 uint64 bytes_sent, uint64 bytes_received,
									 double ms);

/*
 * The per-ID outcomes of one finished request: items IDs, successes of
 * them answered with success true (the rest are failures).
 */
extern void velt_stats_count_items(int endpoint, VeltStatsCaller caller,
								   uint64 items, uint64 successes);

/* An answer whose per-ID results were not shaped as documented. */
extern void velt_stats_count_malformed(int endpoint, VeltStatsCaller caller);

#endif							/* VELT_STATS_H */
