/*-------------------------------------------------------------------------
 *
 * worker.h
 *		A delivery worker: drains one database's outbox.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_WORKER_H
#define VELT_WORKER_H

#include "postgres.h"

/*
 * From _PG_init while shared_preload_libraries is processed: a transaction
 * that enqueued wakes its database's worker at COMMIT.  The workers
 * themselves are started by the launcher (launcher.h).
 */
extern void velt_worker_register(void);

/*
 * The worker's entry point (bgw_function_name "velt_worker_main"); arg is
 * its slot in the shared table (workers.h), whose database it delivers.
 */
extern PGDLLEXPORT void velt_worker_main(Datum arg);

#endif							/* VELT_WORKER_H */
