/*-------------------------------------------------------------------------
 *
 * ratelimit.h
 *		One request rate for the whole cluster (velt.max_requests_per_second).
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_RATELIMIT_H
#define VELT_RATELIMIT_H

#include "postgres.h"

/* Shared memory the bucket needs (asked for from the shmem_request_hook). */
extern Size velt_ratelimit_shmem_size(void);

/* Finds or creates the bucket (from the shmem_startup_hook, under AddinShmemInitLock). */
extern void velt_ratelimit_shmem_init(void);

/*
 * Waits for the right to send one request: a token of the cluster's
 * bucket, and the end of any pause a 429 started.  Returns true at once
 * when the limit is off (velt.max_requests_per_second = 0, or velt not
 * preloaded).  Returns false, without waiting, when the wait would end
 * more than max_wait_ms after the call began.  Interruptible.
 */
extern bool velt_ratelimit_acquire(long max_wait_ms);

/*
 * The same without waiting: takes a token and returns 0, or returns the
 * milliseconds until one may be there.  For callers that drive other
 * requests meanwhile.
 */
extern long velt_ratelimit_try(void);

/*
 * Velt answered 429 with Retry-After: no process sends before then (when
 * the limit is on).
 */
extern void velt_ratelimit_pause(long retry_after_s);

#endif							/* VELT_RATELIMIT_H */
