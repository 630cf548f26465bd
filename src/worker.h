/*-------------------------------------------------------------------------
 *
 * worker.h
 *		The background worker that drains the outbox.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_WORKER_H
#define VELT_WORKER_H

/* From _PG_init while shared_preload_libraries is processed. */
extern void velt_worker_register(void);

#endif							/* VELT_WORKER_H */
