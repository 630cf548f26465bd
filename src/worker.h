/*-------------------------------------------------------------------------
 *
 * worker.h
 *		The background worker that drains the outbox.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_WORKER_H
#define VELT_WORKER_H

#include "postgres.h"

/* Shared memory of the workers' state (asked for by shmem.c). */
extern Size velt_worker_shmem_size(void);

/* Finds or creates it (from shmem.c, under AddinShmemInitLock). */
extern void velt_worker_shmem_init(void);

/* From _PG_init while shared_preload_libraries is processed. */
extern void velt_worker_register(void);

#endif							/* VELT_WORKER_H */
