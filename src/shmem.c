/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		Asks for and sets up the shared memory of every velt module.
 *
 * Each module that keeps state across processes exports a size function
 * (asked for from shmem_request_hook) and an init function (called from
 * shmem_startup_hook under AddinShmemInitLock).  This file is the one list
 * of them, so that adding shared state is one line here and no module
 * chains PostgreSQL's hooks itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "ratelimit.h"
#include "shmem.h"
#include "stats.h"
#include "workers.h"

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Asks for every module's shared memory (shmem_request_hook). */
static void
velt_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(velt_workers_shmem_size());
	RequestAddinShmemSpace(velt_ratelimit_shmem_size());
	RequestAddinShmemSpace(velt_stats_shmem_size());
}

/* Finds or creates every module's shared state (shmem_startup_hook). */
static void
velt_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	velt_workers_shmem_init();
	velt_ratelimit_shmem_init();
	velt_stats_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

void
velt_shmem_register(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = velt_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = velt_shmem_startup;
}
