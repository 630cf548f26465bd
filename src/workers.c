/*-------------------------------------------------------------------------
 *
 * workers.c
 *		The shared table of delivery workers, and velt_workers over it.
 *
 * One slot per database that has (or had, or is about to have) a delivery
 * worker, max_worker_processes slots in all: no more workers could run.
 * Each slot has a spinlock; the launcher writes a slot's database, the
 * worker the rest.  Beside the slots: the launcher's latch (woken by
 * CREATE EXTENSION velt, DROP DATABASE and the like) and the holds, the
 * databases the launcher must not start a worker in for a while because
 * a statement is waiting for their sessions to end (see databases.c).
 * See workers.h for who calls what.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "catalog/pg_authid_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "workers.h"

/* How many DROP DATABASE (and the like) may hold databases at once. */
#define VELT_MAX_HOLDS 16

/*
 * A database the launcher must leave alone until the hold ends: one per
 * statement (backend) that holds it, so one statement's end does not end
 * another's hold on the same database.
 */
typedef struct VeltHold
{
	Oid			dboid;			/* InvalidOid: the entry is free */
	pid_t		pid;			/* the backend whose statement holds it */
	TimestampTz until;
} VeltHold;

typedef struct VeltWorkersShared
{
	slock_t		mutex;			/* guards the launcher's fields and holds */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	uint32		extension_generation;
	VeltHold	holds[VELT_MAX_HOLDS];
	int			nslots;
	VeltWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} VeltWorkersShared;

/* In shared memory, set up by velt_workers_shmem_init. */
static VeltWorkersShared *shared = NULL;

/* Whether this backend ends its holds when it exits. */
static bool exit_callback_registered = false;

/* The names velt_workers shows for each state. */
static const char *const state_names[] = {
	[VELT_WORKER_STOPPED] = "stopped",
	[VELT_WORKER_STARTING] = "starting",
	[VELT_WORKER_IDLE] = "idle",
	[VELT_WORKER_DELIVERING] = "delivering",
	[VELT_WORKER_PAUSED] = "paused",
	[VELT_WORKER_OUTAGE] = "outage",
	[VELT_WORKER_NO_EXTENSION] = "waiting for extension",
};

Size
velt_workers_shmem_size(void)
{
	return MAXALIGN(add_size(offsetof(VeltWorkersShared, slots),
							 mul_size(max_worker_processes, sizeof(VeltWorkerSlot))));
}

void
velt_workers_shmem_init(void)
{
	bool		found;
	int			i;

	shared = ShmemInitStruct("velt workers", velt_workers_shmem_size(), &found);
	if (found)
		return;
	memset(shared, 0, velt_workers_shmem_size());
	SpinLockInit(&shared->mutex);
	shared->nslots = max_worker_processes;
	for (i = 0; i < shared->nslots; i++)
	{
		SpinLockInit(&shared->slots[i].mutex);
		shared->slots[i].dboid = InvalidOid;
	}
}

bool
velt_workers_available(void)
{
	return shared != NULL;
}

int
velt_workers_count(void)
{
	return shared ? shared->nslots : 0;
}

VeltWorkerSlot *
velt_workers_slot(int i)
{
	Assert(shared && i >= 0 && i < shared->nslots);
	return &shared->slots[i];
}

void
velt_workers_set_launcher(pid_t pid, Latch *latch)
{
	SpinLockAcquire(&shared->mutex);
	shared->launcher_pid = pid;
	shared->launcher_latch = latch;
	SpinLockRelease(&shared->mutex);
}

void
velt_workers_wake_launcher(bool extension_created)
{
	Latch	   *latch;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	if (extension_created)
		shared->extension_generation++;
	latch = shared->launcher_latch;
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
}

uint32
velt_workers_extension_generation(void)
{
	uint32		generation;

	SpinLockAcquire(&shared->mutex);
	generation = shared->extension_generation;
	SpinLockRelease(&shared->mutex);
	return generation;
}

void
velt_workers_wake_database(Oid dboid)
{
	int			i = shared ? velt_workers_slot_of(dboid) : -1;
	VeltWorkerSlot *slot;
	Latch	   *latch;

	if (i < 0)
		return;
	slot = &shared->slots[i];
	SpinLockAcquire(&slot->mutex);
	latch = slot->dboid == dboid ? slot->latch : NULL;
	SpinLockRelease(&slot->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * Records this backend's hold on dboid until until, in its own entry, a
 * free or ended one, or else the one that ends first.
 */
static void
add_hold(Oid dboid, TimestampTz until)
{
	TimestampTz now = GetCurrentTimestamp();
	int			pick = 0;
	int			i;

	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < VELT_MAX_HOLDS; i++)
	{
		VeltHold   *h = &shared->holds[i];

		if ((h->dboid == dboid && h->pid == MyProcPid) ||
			h->dboid == InvalidOid || h->until <= now)
		{
			pick = i;
			break;
		}
		if (h->until < shared->holds[pick].until)
			pick = i;
	}
	shared->holds[pick].dboid = dboid;
	shared->holds[pick].pid = MyProcPid;
	shared->holds[pick].until = until;
	SpinLockRelease(&shared->mutex);
}

/* Ends this backend's holds: on dboid, or on every database if invalid. */
static void
end_holds(Oid dboid)
{
	int			i;

	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < VELT_MAX_HOLDS; i++)
	{
		VeltHold   *h = &shared->holds[i];

		if (h->pid == MyProcPid && (h->dboid == dboid || !OidIsValid(dboid)))
		{
			h->dboid = InvalidOid;
			h->pid = 0;
			h->until = 0;
		}
	}
	SpinLockRelease(&shared->mutex);
}

/* At a backend's exit (a FATAL skips the statement's end): its holds end. */
static void
end_holds_at_exit(int code, Datum arg)
{
	end_holds(InvalidOid);
}

int
velt_workers_slot_of(Oid dboid)
{
	int			i;

	for (i = 0; i < velt_workers_count(); i++)
	{
		VeltWorkerSlot *slot = &shared->slots[i];
		bool		match;

		SpinLockAcquire(&slot->mutex);
		match = slot->dboid == dboid;
		SpinLockRelease(&slot->mutex);
		if (match)
			return i;
	}
	return -1;
}

bool
velt_workers_stop_database(Oid dboid, int hold_ms)
{
	int			i = shared ? velt_workers_slot_of(dboid) : -1;
	VeltWorkerSlot *slot;
	pid_t		pid;

	if (i < 0)
		return false;
	/* the hold first: the launcher must not start what we stop */
	if (!exit_callback_registered)
	{
		before_shmem_exit(end_holds_at_exit, (Datum) 0);
		exit_callback_registered = true;
	}
	add_hold(dboid, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), hold_ms));
	slot = &shared->slots[i];
	SpinLockAcquire(&slot->mutex);
	pid = slot->dboid == dboid ? slot->pid : 0;
	SpinLockRelease(&slot->mutex);
	if (pid > 0)
		(void) kill(pid, SIGTERM);
	velt_workers_wake_launcher(false);
	return true;
}

void
velt_workers_release_database(Oid dboid)
{
	if (shared == NULL)
		return;
	end_holds(dboid);
	velt_workers_wake_launcher(false);
}

TimestampTz
velt_workers_held_until(Oid dboid, TimestampTz now)
{
	TimestampTz until = 0;
	int			i;

	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < VELT_MAX_HOLDS; i++)
		if (shared->holds[i].dboid == dboid && shared->holds[i].until > now)
			until = Max(until, shared->holds[i].until);
	SpinLockRelease(&shared->mutex);
	return until;
}

/* The columns of velt.workers(), in order. */
enum
{
	COL_DATABASE,
	COL_PID,
	COL_STATE,
	COL_STARTED_AT,
	COL_LAST_ROUND_AT,
	COL_ROUNDS,
	COL_ITEMS_DELIVERED,
	COL_DEAD_LETTERS,
	COL_LAST_ERROR,
	COL_LAST_ERROR_AT,
	COL_NEXT_WAKEUP_AT,
	NCOLS
};

/* A timestamp column: NULL while never set. */
static void
set_time(Datum *values, bool *nulls, int col, TimestampTz t)
{
	values[col] = TimestampTzGetDatum(t);
	nulls[col] = t == 0;
}

/*
 * One row of velt.workers() from a copy of a slot in use.  The last error
 * of another database's worker (it may quote that database's data) shows
 * only to members of pg_read_all_stats, as pg_stat_activity shows other
 * sessions' queries.
 */
static void
slot_row(const VeltWorkerSlot *s, bool see_errors, Datum *values, bool *nulls)
{
	memset(nulls, 0, sizeof(bool) * NCOLS);
	values[COL_DATABASE] = CStringGetTextDatum(s->dbname);
	values[COL_PID] = Int32GetDatum(s->pid);
	nulls[COL_PID] = s->pid == 0;
	values[COL_STATE] = CStringGetTextDatum(state_names[s->state]);
	set_time(values, nulls, COL_STARTED_AT, s->started_at);
	set_time(values, nulls, COL_LAST_ROUND_AT, s->last_round_at);
	values[COL_ROUNDS] = Int64GetDatum(s->rounds);
	values[COL_ITEMS_DELIVERED] = Int64GetDatum(s->items_delivered);
	values[COL_DEAD_LETTERS] = Int64GetDatum(s->dead_letters);
	values[COL_LAST_ERROR] = CStringGetTextDatum(s->last_error);
	nulls[COL_LAST_ERROR] = s->last_error[0] == '\0' ||
		(s->dboid != MyDatabaseId && !see_errors);
	set_time(values, nulls, COL_LAST_ERROR_AT, s->last_error_at);
	set_time(values, nulls, COL_NEXT_WAKEUP_AT, s->next_wakeup_at);
}

PG_FUNCTION_INFO_V1(velt_workers);

/*
 * velt.workers(): one row per database in the table, in slot order; no
 * rows without velt preloaded.
 */
Datum
velt_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		see_errors = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < velt_workers_count(); i++)
	{
		VeltWorkerSlot copy;
		Datum		values[NCOLS];
		bool		nulls[NCOLS];

		SpinLockAcquire(&shared->slots[i].mutex);
		copy = shared->slots[i];
		SpinLockRelease(&shared->slots[i].mutex);
		if (copy.dboid == InvalidOid)
			continue;
		slot_row(&copy, see_errors, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
