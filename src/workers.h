/*-------------------------------------------------------------------------
 *
 * workers.h
 *		The shared table of delivery workers: one slot per database.
 *
 * The launcher (launcher.c) owns the table's shape: it gives a slot to
 * each database it delivers and takes it back when the database is no
 * longer listed.  A delivery worker (worker.c) fills in its own slot: its
 * latch (set at COMMIT by a transaction of its database that enqueued),
 * its state and counters, which the view velt_workers shows.  Backends
 * read it to wake a worker and, in databases.c, to stop one before
 * PostgreSQL waits for a database's sessions to end.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_WORKERS_H
#define VELT_WORKERS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/spin.h"

/* What a delivery worker is doing, as velt_workers shows it. */
typedef enum VeltWorkerState
{
	VELT_WORKER_STOPPED,		/* no process (yet, or any more) */
	VELT_WORKER_STARTING,		/* connected, before its first round */
	VELT_WORKER_IDLE,			/* asleep between rounds */
	VELT_WORKER_DELIVERING,		/* in a round */
	VELT_WORKER_PAUSED,			/* velt.pause_delivery is on */
	VELT_WORKER_OUTAGE,			/* asleep, and the last round found Velt
								 * unavailable */
	VELT_WORKER_NO_EXTENSION	/* velt is not installed: exited until
								 * CREATE EXTENSION velt */
} VeltWorkerState;

/* Longest last_error kept (endpoint, status and message). */
#define VELT_WORKER_ERROR_LEN 256

/* One database's delivery worker. */
typedef struct VeltWorkerSlot
{
	slock_t		mutex;			/* guards everything below */
	/* written by the launcher */
	Oid			dboid;			/* InvalidOid: the slot is free */
	char		dbname[NAMEDATALEN];
	uint32		generation;		/* raised at each worker the launcher
								 * starts: only that worker may attach */
	uint32		extension_generation;	/* velt_workers_extension_generation()
										 * when that worker was started */
	/* written by the worker */
	pid_t		pid;			/* 0: no process */
	Latch	   *latch;			/* NULL: no process */
	VeltWorkerState state;
	TimestampTz started_at;
	TimestampTz last_round_at;
	TimestampTz last_error_at;
	TimestampTz next_wakeup_at;
	int64		rounds;
	int64		items_delivered;
	int64		dead_letters;
	char		last_error[VELT_WORKER_ERROR_LEN];
	bool		missing_logged; /* "velt is not installed" was logged, and
								 * no worker of the slot found velt since */
} VeltWorkerSlot;

/* Shared memory of the table (asked for by shmem.c). */
extern Size velt_workers_shmem_size(void);

/* Finds or creates it (from shmem.c, under AddinShmemInitLock). */
extern void velt_workers_shmem_init(void);

/* Whether the table exists: velt is preloaded. */
extern bool velt_workers_available(void);

/* How many slots there are (max_worker_processes), and slot i. */
extern int	velt_workers_count(void);
extern VeltWorkerSlot *velt_workers_slot(int i);

/*
 * The slot of database dboid (InvalidOid: a free slot), or -1.  A slot
 * changes database only in the launcher, so the launcher may rely on the
 * answer; other processes check the slot's dboid again under its lock.
 */
extern int	velt_workers_slot_of(Oid dboid);

/* The launcher's process and latch, or 0 and NULL when it stops. */
extern void velt_workers_set_launcher(pid_t pid, Latch *latch);

/*
 * Sets the launcher's latch; with extension_created, also tells it that
 * CREATE EXTENSION velt committed somewhere, so it retries the databases
 * whose worker found no extension.  Does nothing without the table.
 */
extern void velt_workers_wake_launcher(bool extension_created);

/* How often the launcher was told of CREATE EXTENSION velt. */
extern uint32 velt_workers_extension_generation(void);

/* Sets the latch of the worker of database dboid, if one runs. */
extern void velt_workers_wake_database(Oid dboid);

/* What the launcher passes a worker it starts (bgw_extra). */
typedef struct VeltWorkerTicket
{
	Oid			dboid;
	uint32		generation;
} VeltWorkerTicket;

/*
 * Before a statement that needs database dboid free of other sessions:
 * if the database has a slot, holds the launcher off it for at most
 * hold_ms, asks its worker to exit (SIGTERM), wakes the launcher and
 * returns true; otherwise does nothing and returns false.
 */
extern bool velt_workers_stop_database(Oid dboid, int hold_ms);

/*
 * After such a statement ended (done or failed): ends this backend's hold
 * on dboid (another statement's hold on it stays) and wakes the launcher,
 * which starts the worker again if the database is still to be delivered
 * and no longer held.  A backend that exits ends its holds too.
 */
extern void velt_workers_release_database(Oid dboid);

/*
 * When the hold on database dboid ends, or 0 if it is not held (or the
 * hold is over at now).
 */
extern TimestampTz velt_workers_held_until(Oid dboid, TimestampTz now);

#endif							/* VELT_WORKERS_H */
