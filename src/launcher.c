/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		The launcher: one delivery worker per database of velt.databases.
 *
 * Registered at preload, the launcher connects to no database (as the
 * autovacuum launcher does: it reads only the shared catalog pg_database)
 * and keeps one dynamic delivery worker (worker.c) running for each
 * database that velt.databases lists (or velt.database, when the list is
 * empty; "*" means every database that allows connections, templates
 * aside).  It starts the missing ones, stops those of databases no longer
 * listed, and starts again, after VELT_WORKER_RESTART_PAUSE_MS, a worker
 * that died, so a crash loop does not spin.  It looks again on SIGHUP,
 * whenever a worker starts or stops (bgw_notify_pid), when a backend wakes
 * it (CREATE EXTENSION velt, DROP DATABASE: databases.c), and every
 * VELT_LAUNCHER_RESCAN_MS.  A worker that found no extension in its
 * database is started again after CREATE EXTENSION velt (anywhere) or
 * every VELT_LAUNCHER_EXTENSION_RECHECK_MS, and a database held by DROP
 * DATABASE (and the like) not before the statement ends.
 *
 * Each pass first decides, per database, what to do (decide_action),
 * then does it (the launcher's table of handles and the shared table are
 * written only by act_on and free_unwanted).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

#include "launcher.h"
#include "settings.h"
#include "workers.h"

/* How often the launcher looks at pg_database without being woken. */
#define VELT_LAUNCHER_RESCAN_MS 30000

/*
 * How often it looks again, unasked, at databases whose worker found no
 * velt: CREATE EXTENSION velt wakes it, so this is only a safety net, and
 * each look costs a connection per such database.
 */
#define VELT_LAUNCHER_EXTENSION_RECHECK_MS 600000
/* Pause before a worker that stopped is started again. */
#define VELT_WORKER_RESTART_PAUSE_MS 5000
/* Seconds before the postmaster starts a launcher that died again. */
#define VELT_LAUNCHER_RESTART_S 5

/* A database to deliver. */
typedef struct WantedDb
{
	Oid			oid;
	char		name[NAMEDATALEN];
} WantedDb;

/* What the launcher knows of slot i beyond the shared table. */
typedef struct LauncherEntry
{
	BackgroundWorkerHandle *handle; /* NULL: no worker of ours runs */
	TimestampTz stopped_at;		/* when its worker last stopped, or 0 */
} LauncherEntry;

/* What to do about one wanted database. */
typedef enum LaunchAction
{
	LAUNCH_NOTHING,				/* running, or waiting for a later pass */
	LAUNCH_START
} LaunchAction;

static LauncherEntry *entries = NULL;
static bool start_failure_logged = false;

void
velt_launcher_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = VELT_LAUNCHER_RESTART_S;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "velt");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "velt_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "velt launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "velt launcher");
	RegisterBackgroundWorker(&worker);
}

/* The names velt.databases (or velt.database) lists; NIL for "*". */
static List *
listed_names(bool *all)
{
	const char *setting = (velt_databases && velt_databases[0]) ? velt_databases : NULL;
	List	   *names = NIL;

	*all = false;
	if (setting == NULL)
		return (velt_database && velt_database[0]) ? list_make1(pstrdup(velt_database)) : NIL;
	/* checked when set (check_databases): it splits */
	(void) SplitGUCList(pstrdup(setting), ',', &names);
	if (list_length(names) == 1 && strcmp(linitial(names), "*") == 0)
	{
		*all = true;
		return NIL;
	}
	return names;
}

/* Whether a pg_database row is one to deliver. */
static bool
database_wanted(Form_pg_database db, bool all, List *names)
{
	ListCell   *lc;

	if (!db->datallowconn)
		return false;
	/* a database half dropped (PostgreSQL marks it so) */
	if (db->datconnlimit == DATCONNLIMIT_INVALID_DB)
		return false;
	if (all)
		return !db->datistemplate;
	foreach(lc, names)
		if (strcmp(lfirst(lc), NameStr(db->datname)) == 0)
			return true;
	return false;
}

/*
 * The databases to deliver, from pg_database, in cxt; their number in
 * *count.
 */
static WantedDb *
wanted_databases(MemoryContext cxt, int *count)
{
	bool		all;
	List	   *names;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	WantedDb   *wanted = MemoryContextAllocZero(cxt, sizeof(WantedDb) * velt_workers_count());
	int			n = 0;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	names = listed_names(&all);
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (n >= velt_workers_count() || !database_wanted(db, all, names))
			continue;
		wanted[n].oid = db->oid;
		strlcpy(wanted[n].name, NameStr(db->datname), NAMEDATALEN);
		n++;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	*count = n;
	return wanted;
}

/* Notes the workers that stopped since the last pass. */
static void
note_stopped(TimestampTz now)
{
	int			i;

	for (i = 0; i < velt_workers_count(); i++)
	{
		pid_t		pid;

		if (entries[i].handle == NULL ||
			GetBackgroundWorkerPid(entries[i].handle, &pid) != BGWH_STOPPED)
			continue;
		pfree(entries[i].handle);
		entries[i].handle = NULL;
		entries[i].stopped_at = now;
	}
}

/*
 * The process of slot i's worker when this launcher has no handle on it
 * (an earlier launcher started it, then died), or 0.
 */
static pid_t
orphan_pid(int i)
{
	VeltWorkerSlot *slot = velt_workers_slot(i);
	pid_t		pid;

	if (entries[i].handle != NULL)
		return 0;
	SpinLockAcquire(&slot->mutex);
	pid = slot->pid;
	SpinLockRelease(&slot->mutex);
	return pid;
}

/* Whether dboid is among the wanted. */
static bool
is_wanted(Oid dboid, const WantedDb *wanted, int nwanted)
{
	int			i;

	for (i = 0; i < nwanted; i++)
		if (wanted[i].oid == dboid)
			return true;
	return false;
}

/*
 * Stops the workers of databases no longer wanted (or held), and frees
 * the slots of those no longer wanted once their worker is gone.
 */
static void
free_unwanted(const WantedDb *wanted, int nwanted, TimestampTz now)
{
	int			i;

	for (i = 0; i < velt_workers_count(); i++)
	{
		VeltWorkerSlot *slot = velt_workers_slot(i);
		Oid			dboid;
		bool		keep;
		pid_t		orphan;

		SpinLockAcquire(&slot->mutex);
		dboid = slot->dboid;
		SpinLockRelease(&slot->mutex);
		if (dboid == InvalidOid)
			continue;
		keep = is_wanted(dboid, wanted, nwanted);
		if (keep && velt_workers_held_until(dboid, now) == 0)
			continue;
		orphan = orphan_pid(i);
		if (entries[i].handle)
			TerminateBackgroundWorker(entries[i].handle);
		else if (orphan > 0)
			(void) kill(orphan, SIGTERM);
		else if (!keep)
		{
			SpinLockAcquire(&slot->mutex);
			slot->dboid = InvalidOid;
			SpinLockRelease(&slot->mutex);
			entries[i].stopped_at = 0;
		}
	}
}

/*
 * Decides what to do about wanted database slot i (its worker stopped or
 * never started); *wake_at is lowered to when to look again.  retry_all:
 * this pass also retries databases without the extension.
 */
static LaunchAction
decide_action(int i, Oid dboid, bool retry_all, TimestampTz now, TimestampTz *wake_at)
{
	VeltWorkerSlot *slot = velt_workers_slot(i);
	VeltWorkerState state;
	uint32		started_generation;
	TimestampTz until;

	if (entries[i].handle != NULL || orphan_pid(i) != 0)
		return LAUNCH_NOTHING;
	until = velt_workers_held_until(dboid, now);
	if (until != 0)
	{
		*wake_at = Min(*wake_at, until);
		return LAUNCH_NOTHING;
	}
	SpinLockAcquire(&slot->mutex);
	state = slot->state;
	started_generation = slot->extension_generation;
	SpinLockRelease(&slot->mutex);
	/* again at the recheck, or if velt was created after the worker looked */
	if (state == VELT_WORKER_NO_EXTENSION)
		return (retry_all || started_generation != velt_workers_extension_generation()) ?
			LAUNCH_START : LAUNCH_NOTHING;
	if (entries[i].stopped_at != 0)
	{
		TimestampTz after = TimestampTzPlusMilliseconds(entries[i].stopped_at,
														VELT_WORKER_RESTART_PAUSE_MS);

		if (now < after)
		{
			*wake_at = Min(*wake_at, after);
			return LAUNCH_NOTHING;
		}
	}
	return LAUNCH_START;
}

/* A free slot, given to db (its state and counters cleared), or -1. */
static int
take_slot(const WantedDb *db)
{
	int			i = velt_workers_slot_of(InvalidOid);
	VeltWorkerSlot *slot;

	if (i < 0)
		return -1;
	slot = velt_workers_slot(i);
	SpinLockAcquire(&slot->mutex);
	slot->dboid = db->oid;
	strlcpy(slot->dbname, db->name, sizeof(slot->dbname));
	slot->state = VELT_WORKER_STOPPED;
	slot->started_at = slot->last_round_at = slot->last_error_at = slot->next_wakeup_at = 0;
	slot->rounds = slot->items_delivered = slot->dead_letters = 0;
	slot->last_error[0] = '\0';
	slot->missing_logged = false;
	SpinLockRelease(&slot->mutex);
	entries[i].handle = NULL;
	entries[i].stopped_at = 0;
	return i;
}

/* Keeps slot i's name up to date after ALTER DATABASE ... RENAME. */
static void
refresh_name(int i, const WantedDb *db)
{
	VeltWorkerSlot *slot = velt_workers_slot(i);

	SpinLockAcquire(&slot->mutex);
	if (strcmp(slot->dbname, db->name) != 0)
		strlcpy(slot->dbname, db->name, sizeof(slot->dbname));
	SpinLockRelease(&slot->mutex);
}

/*
 * A new ticket for slot i's next worker: only the worker holding it may
 * attach to the slot, so a worker an earlier launcher registered (and
 * that has not attached yet) cannot share the slot with this one.
 */
static VeltWorkerTicket
issue_ticket(int i, const WantedDb *db)
{
	VeltWorkerSlot *slot = velt_workers_slot(i);
	VeltWorkerTicket ticket;

	SpinLockAcquire(&slot->mutex);
	slot->generation++;
	ticket.dboid = db->oid;
	ticket.generation = slot->generation;
	SpinLockRelease(&slot->mutex);
	return ticket;
}

/* Registers the delivery worker of slot i; false if there is no room. */
static bool
start_worker(int i, const WantedDb *db)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	VeltWorkerTicket ticket = issue_ticket(i, db);
	/* read before the worker looks for velt, so a later CREATE shows */
	uint32		extension_generation = velt_workers_extension_generation();
	VeltWorkerSlot *slot = velt_workers_slot(i);

	StaticAssertStmt(sizeof(VeltWorkerTicket) <= BGW_EXTRALEN,
					 "a ticket fits in bgw_extra");
	memset(&worker, 0, sizeof(worker));
	memcpy(worker.bgw_extra, &ticket, sizeof(ticket));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher does */
	worker.bgw_notify_pid = MyProcPid;
	worker.bgw_main_arg = Int32GetDatum(i);
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "velt");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "velt_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "velt outbox worker for database %s", db->name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "velt outbox worker");
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return false;
	/* only a worker that runs has looked for velt since */
	SpinLockAcquire(&slot->mutex);
	slot->extension_generation = extension_generation;
	SpinLockRelease(&slot->mutex);
	entries[i].handle = handle;
	return true;
}

/*
 * Starts the worker of db (slot i, or a new slot if i < 0).  A failure
 * (no slot, max_worker_processes reached) is logged once until a start
 * succeeds, and tried again after the restart pause.
 */
static void
act_on(int i, const WantedDb *db, TimestampTz now, TimestampTz *wake_at)
{
	if (i < 0)
		i = take_slot(db);
	if (i >= 0 && start_worker(i, db))
	{
		start_failure_logged = false;
		return;
	}
	if (i >= 0)
		entries[i].stopped_at = now;
	*wake_at = Min(*wake_at, TimestampTzPlusMilliseconds(now, VELT_WORKER_RESTART_PAUSE_MS));
	if (!start_failure_logged)
		ereport(WARNING,
				(errmsg("velt launcher could not start the outbox worker for database \"%s\"",
						db->name),
				 errhint("Raise max_worker_processes: velt needs one for its launcher and one per database it delivers.")));
	start_failure_logged = true;
}

/*
 * One pass: stops what is no longer wanted and starts what is missing.
 * Returns when the launcher must look again at the latest.
 */
static TimestampTz
launcher_pass(MemoryContext cxt, bool retry_all, TimestampTz now)
{
	int			nwanted;
	WantedDb   *wanted = wanted_databases(cxt, &nwanted);
	TimestampTz wake_at = TimestampTzPlusMilliseconds(now, VELT_LAUNCHER_RESCAN_MS);
	int			w;

	note_stopped(now);
	free_unwanted(wanted, nwanted, now);
	for (w = 0; w < nwanted; w++)
	{
		int			i = velt_workers_slot_of(wanted[w].oid);

		if (i >= 0)
			refresh_name(i, &wanted[w]);
		if (i < 0 || decide_action(i, wanted[w].oid, retry_all, now, &wake_at) == LAUNCH_START)
			act_on(i, &wanted[w], now, &wake_at);
	}
	return wake_at;
}

/* At the launcher's exit: no latch to set any more. */
static void
forget_launcher(int code, Datum arg)
{
	velt_workers_set_launcher(0, NULL);
}

void
velt_launcher_main(Datum arg)
{
	MemoryContext pass_cxt;
	TimestampTz next_rescan = 0;
	TimestampTz next_recheck = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("velt launcher");

	entries = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(LauncherEntry) * velt_workers_count());
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "velt launcher",
									 ALLOCSET_DEFAULT_SIZES);
	velt_workers_set_launcher(MyProcPid, MyLatch);
	on_shmem_exit(forget_launcher, (Datum) 0);
	ereport(LOG, (errmsg("velt launcher started")));

	for (;;)
	{
		TimestampTz now;
		TimestampTz wake_at;
		bool		retry_all = false;
		long		secs;
		int			usecs;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		now = GetCurrentTimestamp();
		if (now >= next_rescan)
			next_rescan = TimestampTzPlusMilliseconds(now, VELT_LAUNCHER_RESCAN_MS);
		/* CREATE EXTENSION is seen per slot (decide_action), this is the net */
		if (now >= next_recheck)
		{
			retry_all = true;
			next_recheck = TimestampTzPlusMilliseconds(now, VELT_LAUNCHER_EXTENSION_RECHECK_MS);
		}
		wake_at = launcher_pass(pass_cxt, retry_all, now);
		MemoryContextReset(pass_cxt);

		TimestampDifference(GetCurrentTimestamp(), Min(wake_at, next_rescan), &secs, &usecs);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(secs * 1000 + usecs / 1000, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
