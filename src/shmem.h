/*-------------------------------------------------------------------------
 *
 * shmem.h
 *		velt's shared memory: one place asks for it and sets it up.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_SHMEM_H
#define VELT_SHMEM_H

/*
 * From _PG_init while shared_preload_libraries is processed: installs the
 * shmem request and startup hooks that size and set up every module's
 * shared state (the rate limit, the workers' table, ...).  Without
 * preloading, no module has shared state and each says what it does then.
 */
extern void velt_shmem_register(void);

#endif							/* VELT_SHMEM_H */
