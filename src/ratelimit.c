/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *		One request rate for the whole cluster: a token bucket in shared
 *		memory.
 *
 * Velt limits requests per API key, and every backend, the background
 * worker and pg_cron jobs of a cluster share one key; each backing off on
 * its own after a 429 still lets the others run into the limit.  With
 * velt.max_requests_per_second above 0, every attempt of every request
 * first takes a token from one bucket in shared memory.  The bucket fills
 * at that rate and holds at most one second's worth, so a burst after a
 * quiet spell is as large as the rate.  A 429 with Retry-After pauses the
 * bucket until then: no process sends before the time Velt named.
 *
 * Waiting is a latch wait of at most VELT_RATELIMIT_POLL_MS at a time with
 * CHECK_FOR_INTERRUPTS after each, so cancel, statement_timeout and
 * shutdown stop it promptly; the caller bounds it (velt.timeout_ms).  The
 * spinlock guards a few arithmetic operations only.
 *
 * The bucket exists only when velt is in shared_preload_libraries; without
 * it the setting has no effect (docs/install.md says so).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "ratelimit.h"
#include "settings.h"

/* Longest single sleep while waiting for a token or a pause to end. */
#define VELT_RATELIMIT_POLL_MS 10

/* The cluster's bucket, in shared memory. */
typedef struct VeltRateBucket
{
	slock_t		mutex;
	double		tokens;			/* whole ones may be taken */
	TimestampTz refilled_at;	/* when tokens was last brought up to date;
								 * 0 before the first request */
	TimestampTz paused_until;	/* no request before this (a 429) */
} VeltRateBucket;

/* NULL unless velt was preloaded. */
static VeltRateBucket *bucket = NULL;

Size
velt_ratelimit_shmem_size(void)
{
	return MAXALIGN(sizeof(VeltRateBucket));
}

void
velt_ratelimit_shmem_init(void)
{
	bool		found;

	bucket = ShmemInitStruct("velt rate limit", sizeof(VeltRateBucket), &found);
	if (!found)
	{
		SpinLockInit(&bucket->mutex);
		bucket->tokens = 0;
		bucket->refilled_at = 0;
		bucket->paused_until = 0;
	}
}

/* Takes a token if one is there (returns 0), else the milliseconds to wait. */
static long
try_take(int rate, TimestampTz now)
{
	long		wait_ms = 0;

	SpinLockAcquire(&bucket->mutex);
	if (bucket->paused_until > now)
		wait_ms = (long) ((bucket->paused_until - now + 999) / 1000);
	else
	{
		/* a bucket never used (or idle a second) is full */
		double		idle_s = bucket->refilled_at == 0 ? 1.0 :
			(double) (now - bucket->refilled_at) / USECS_PER_SEC;

		bucket->tokens = Min((double) rate, bucket->tokens + Max(idle_s, 0.0) * rate);
		/* another process may have read a later clock */
		bucket->refilled_at = Max(bucket->refilled_at, now);
		if (bucket->tokens >= 1.0)
			bucket->tokens -= 1.0;
		else
			wait_ms = (long) ceil((1.0 - bucket->tokens) * 1000.0 / rate);
	}
	SpinLockRelease(&bucket->mutex);
	return wait_ms;
}

bool
velt_ratelimit_acquire(long max_wait_ms)
{
	TimestampTz start;

	if (bucket == NULL || velt_max_requests_per_second <= 0)
		return true;
	start = GetCurrentTimestamp();
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		wait_ms = try_take(velt_max_requests_per_second, now);

		if (wait_ms == 0)
			return true;
		if ((now - start) / 1000 + wait_ms > max_wait_ms)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(wait_ms, VELT_RATELIMIT_POLL_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

long
velt_ratelimit_try(void)
{
	if (bucket == NULL || velt_max_requests_per_second <= 0)
		return 0;
	return try_take(velt_max_requests_per_second, GetCurrentTimestamp());
}

void
velt_ratelimit_pause(long retry_after_s)
{
	TimestampTz until;

	if (bucket == NULL || velt_max_requests_per_second <= 0 || retry_after_s <= 0)
		return;
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), retry_after_s * 1000);
	SpinLockAcquire(&bucket->mutex);
	if (until > bucket->paused_until)
		bucket->paused_until = until;
	SpinLockRelease(&bucket->mutex);
}
