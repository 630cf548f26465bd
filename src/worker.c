/*-------------------------------------------------------------------------
 *
 * worker.c
 *		A delivery worker: drains one database's outbox.
 *
 * The launcher (launcher.c) starts one such dynamic background worker per
 * database it delivers, with the worker's slot in the shared table
 * (workers.h) as its argument.  A transaction that enqueued sets the
 * latch of its own database's worker as it commits, so delivery starts at
 * once rather than at the next poll; without work the worker sleeps until
 * the next retry is due (or velt.worker_idle_ms).  Each round is its own
 * transaction: an error (missing credentials, say) is logged, the
 * transaction rolled back, and the worker carries on.  After each round
 * the worker reports its table statistics, as a backend does after a
 * statement: autovacuum counts the rows its DELETEs leave dead in
 * velt.outbox from those reports.
 *
 * The worker logs changes of state, never single requests: started and
 * stopped, an outage beginning and ending, a round that dead-lettered
 * operations, delivery paused and resumed (velt.pause_delivery).  Its
 * slot shows its state and counters in velt_workers.  Without velt
 * installed in its database it exits, marked "waiting for extension",
 * and the launcher starts it again after CREATE EXTENSION velt.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "drain.h"
#include "outbox.h"
#include "pg_compat.h"
#include "settings.h"
#include "worker.h"
#include "workers.h"

/* How long the worker waits after a failed round. */
#define VELT_WORKER_ERROR_PAUSE_MS 5000
/* Shortest sleep when due work could not be taken. */
#define VELT_WORKER_MIN_SLEEP_MS 200
/* Bounds of one round, so settings reloads and shutdown are noticed. */
#define VELT_WORKER_ROUND_ITEMS 10000
#define VELT_WORKER_ROUND_SECONDS 10.0

/* This worker's slot in the shared table, and its database's name. */
static VeltWorkerSlot *my_slot = NULL;
static char my_dbname[NAMEDATALEN];

/* Whether "started" was logged (so "stopped" is too). */
static bool announced = false;
/* Whether this process found velt missing (the slot then says so). */
static bool found_no_extension = false;
/* Whether delivery is paused (velt.pause_delivery), as last logged. */
static bool paused = false;
/* Whether Velt is unavailable, as last logged, and since when. */
static bool in_outage = false;
static TimestampTz outage_since = 0;

/* Called at COMMIT of a transaction that enqueued: wakes its database's worker. */
static void
wake_worker(void)
{
	velt_workers_wake_database(MyDatabaseId);
}

void
velt_worker_register(void)
{
	velt_wake_worker_hook = wake_worker;
}

/* Sets the state velt_workers shows. */
static void
set_state(VeltWorkerState state)
{
	SpinLockAcquire(&my_slot->mutex);
	my_slot->state = state;
	SpinLockRelease(&my_slot->mutex);
}

/* Records an error for velt_workers (never a secret: see the callers). */
static void
set_error(const char *text)
{
	SpinLockAcquire(&my_slot->mutex);
	strlcpy(my_slot->last_error, text, sizeof(my_slot->last_error));
	my_slot->last_error_at = GetCurrentTimestamp();
	SpinLockRelease(&my_slot->mutex);
}

/* At the worker's exit: logs it and leaves the slot without a process. */
static void
detach_slot(int code, Datum arg)
{
	if (announced)
		ereport(LOG,
				(errmsg("velt outbox worker stopped for database \"%s\"", my_dbname)));
	SpinLockAcquire(&my_slot->mutex);
	if (my_slot->pid == MyProcPid)
	{
		my_slot->pid = 0;
		my_slot->latch = NULL;
		my_slot->next_wakeup_at = 0;
		my_slot->state = found_no_extension ? VELT_WORKER_NO_EXTENSION : VELT_WORKER_STOPPED;
	}
	SpinLockRelease(&my_slot->mutex);
}

/*
 * Takes slot i for this process, its counters afresh, if the ticket is
 * the slot's latest and no other process holds it.  Returns the database
 * to connect to, or InvalidOid if the slot is not (or no longer) ours.
 */
static Oid
attach_slot(int i, const VeltWorkerTicket *ticket)
{
	bool		ours;

	my_slot = velt_workers_slot(i);
	SpinLockAcquire(&my_slot->mutex);
	ours = my_slot->dboid == ticket->dboid && my_slot->generation == ticket->generation &&
		my_slot->pid == 0 && OidIsValid(ticket->dboid);
	if (ours)
	{
		strlcpy(my_dbname, my_slot->dbname, sizeof(my_dbname));
		my_slot->pid = MyProcPid;
		my_slot->latch = MyLatch;
		my_slot->state = VELT_WORKER_STARTING;
		my_slot->started_at = GetCurrentTimestamp();
		my_slot->last_round_at = 0;
		my_slot->next_wakeup_at = 0;
		my_slot->rounds = 0;
		my_slot->items_delivered = 0;
		my_slot->dead_letters = 0;
	}
	SpinLockRelease(&my_slot->mutex);
	if (!ours)
		return InvalidOid;
	before_shmem_exit(detach_slot, (Datum) 0);
	return ticket->dboid;
}

/* Whether velt is installed in the worker's database. */
static bool
extension_installed(void)
{
	int			rc = SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'velt'",
								 true, 1);

	return rc == SPI_OK_SELECT && SPI_processed == 1;
}

/* Whether velt is installed, asked in a transaction of its own. */
static bool
extension_installed_now(void)
{
	bool		installed;

	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	installed = extension_installed();
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return installed;
}

/*
 * Without velt in the database: says so once (not again at each retry of
 * the launcher's) and exits; the launcher starts the worker again after
 * CREATE EXTENSION velt.
 */
static velt_noreturn void
exit_without_extension(void)
{
	bool		first;

	found_no_extension = true;
	SpinLockAcquire(&my_slot->mutex);
	first = !my_slot->missing_logged;
	my_slot->missing_logged = true;
	my_slot->state = VELT_WORKER_NO_EXTENSION;
	SpinLockRelease(&my_slot->mutex);
	if (first)
		ereport(LOG,
				(errmsg("velt is not installed in database \"%s\": its outbox worker waits for CREATE EXTENSION velt",
						my_dbname)));
	proc_exit(0);
}

/*
 * Reports the worker idle and flushes its table statistics, as a backend
 * does between statements, so that autovacuum sees the rows its DELETEs
 * and UPDATEs left dead in velt.outbox while the worker runs.  Returns the
 * most the worker may sleep before statistics still pending (flushed at
 * most once a second) must be flushed, or LONG_MAX if none are.
 */
static long
report_idle(void)
{
	long		pending_ms = pgstat_report_stat(false);

	pgstat_report_activity(STATE_IDLE, NULL);
	return pending_ms > 0 ? pending_ms : LONG_MAX;
}

/* How long to sleep after a round that did what summary says. */
static long
sleep_after(const VeltDrainSummary *summary)
{
	long		sleep_ms = velt_worker_idle_ms;
	long		secs;
	int			usecs;

	if (summary->settled > 0)
		return 0;				/* it made progress: there may be more */
	if (summary->next_due == 0)
		return sleep_ms;
	TimestampDifference(GetCurrentTimestamp(), summary->next_due, &secs, &usecs);
	sleep_ms = Min(sleep_ms, secs * 1000 + usecs / 1000 + 1);

	/*
	 * Work that is due but waits (behind a retry, or locked by another
	 * drain) must not make the worker spin.
	 */
	return Max(sleep_ms, VELT_WORKER_MIN_SLEEP_MS);
}

/*
 * One round in its own transaction, what it did in summary.  Returns
 * false, having done nothing, if velt is no longer installed.
 */
static bool
deliver_round(VeltDrainSummary *summary)
{
	bool		installed;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "velt: delivering the outbox");

	installed = extension_installed();
	if (installed)
		velt_outbox_drain(VELT_WORKER_ROUND_ITEMS, VELT_WORKER_ROUND_SECONDS, summary);

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return installed;
}

/*
 * Logs what a round changed: an outage beginning (the round's requests
 * all found Velt unavailable) or ending (Velt answered one), and the
 * operations it dead-lettered.  A round that sent nothing changes nothing.
 */
static void
log_round(const VeltDrainSummary *summary, TimestampTz now)
{
	if (!in_outage && summary->unavailable > 0 && summary->answered == 0)
	{
		in_outage = true;
		outage_since = now;
		ereport(LOG,
				(errmsg("velt: Velt is unavailable to the outbox worker of database \"%s\"",
						my_dbname),
				 errdetail("%d request(s) of the round failed, the last with: %s",
						   summary->unavailable, summary->last_failure)));
	}
	else if (in_outage && summary->answered > 0)
	{
		in_outage = false;
		ereport(LOG,
				(errmsg("velt: Velt answers the outbox worker of database \"%s\" again",
						my_dbname),
				 errdetail("The outage lasted %ld s.",
						   (long) ((now - outage_since) / USECS_PER_SEC))));
	}
	if (summary->dead_letters > 0)
		ereport(LOG,
				(errmsg("velt: %d outbox operation(s) dead-lettered in database \"%s\"",
						summary->dead_letters, my_dbname),
				 errdetail("The first, operation " INT64_FORMAT " (%s), failed with: %s",
						   summary->first_dead_id, summary->first_dead_endpoint,
						   summary->first_dead_error)));
}

/* Puts a round's counters, state and next wake-up in the slot. */
static void
record_round(const VeltDrainSummary *summary, TimestampTz now, long sleep_ms)
{
	SpinLockAcquire(&my_slot->mutex);
	my_slot->rounds++;
	my_slot->items_delivered += summary->delivered;
	my_slot->dead_letters += summary->dead_letters;
	my_slot->last_round_at = now;
	if (summary->unavailable > 0)
	{
		strlcpy(my_slot->last_error, summary->last_failure, sizeof(my_slot->last_error));
		my_slot->last_error_at = now;
	}
	my_slot->state = in_outage ? VELT_WORKER_OUTAGE : VELT_WORKER_IDLE;
	my_slot->next_wakeup_at = TimestampTzPlusMilliseconds(now, Min(sleep_ms, INT_MAX));
	SpinLockRelease(&my_slot->mutex);
}

/* A round, then what it changed.  Returns how long to sleep (0: go on). */
static long
run_round(void)
{
	VeltDrainSummary summary = {0};
	TimestampTz now;
	long		sleep_ms;
	long		stats_ms;

	set_state(VELT_WORKER_DELIVERING);
	if (!deliver_round(&summary))
		exit_without_extension();
	stats_ms = report_idle();
	now = GetCurrentTimestamp();
	sleep_ms = Min(sleep_after(&summary), stats_ms);
	log_round(&summary, now);
	record_round(&summary, now, sleep_ms);
	return sleep_ms;
}

/*
 * After a failed round: reports the error, rolls the transaction back (in
 * cxt), keeps its message for velt_workers and returns how long to pause
 * before carrying on.
 */
static long
recover_from_error(MemoryContext cxt)
{
	ErrorData  *edata;
	long		stats_ms;
	long		sleep_ms;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	EmitErrorReport();
	FlushErrorState();
	AbortCurrentTransaction();
	stats_ms = report_idle();
	sleep_ms = Min(VELT_WORKER_ERROR_PAUSE_MS, stats_ms);
	set_error(edata->message);
	SpinLockAcquire(&my_slot->mutex);
	my_slot->state = in_outage ? VELT_WORKER_OUTAGE : VELT_WORKER_IDLE;
	my_slot->next_wakeup_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), sleep_ms);
	SpinLockRelease(&my_slot->mutex);
	return sleep_ms;
}

/*
 * Follows velt.pause_delivery: logs a change and shows the state.
 * Returns whether delivery is paused.
 */
static bool
check_pause(void)
{
	if (velt_pause_delivery == paused)
		return paused;
	paused = velt_pause_delivery;
	ereport(LOG,
			(errmsg(paused ? "velt: delivery paused in database \"%s\" (velt.pause_delivery is on)"
					: "velt: delivery resumed in database \"%s\"", my_dbname)));
	if (paused)
	{
		SpinLockAcquire(&my_slot->mutex);
		my_slot->state = VELT_WORKER_PAUSED;
		my_slot->next_wakeup_at = 0;
		SpinLockRelease(&my_slot->mutex);
	}
	return paused;
}

/* Connects to the slot's database and checks that velt is there. */
static void
start_worker(int slot_index)
{
	Oid			dboid;
	char	   *appname;
	VeltWorkerTicket ticket;

	memcpy(&ticket, MyBgworkerEntry->bgw_extra, sizeof(ticket));
	dboid = attach_slot(slot_index, &ticket);
	/* the slot went to another worker, or a DROP DATABASE waits for us */
	if (dboid == InvalidOid || velt_workers_held_until(dboid, GetCurrentTimestamp()) != 0)
		proc_exit(0);
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	appname = psprintf("velt outbox worker %s", my_dbname);
	pgstat_report_appname(appname);
	pfree(appname);
	if (!extension_installed_now())
		exit_without_extension();
	SpinLockAcquire(&my_slot->mutex);
	my_slot->missing_logged = false;
	SpinLockRelease(&my_slot->mutex);
	announced = true;
	ereport(LOG,
			(errmsg("velt outbox worker started for database \"%s\"", my_dbname)));
}

void
velt_worker_main(Datum arg)
{
	MemoryContext worker_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	start_worker(DatumGetInt32(arg));

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "velt worker",
									   ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		volatile long sleep_ms; /* set by both PG_TRY branches */

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		MemoryContextSwitchTo(worker_cxt);
		if (check_pause())
			sleep_ms = velt_worker_idle_ms;
		else
		{
			PG_TRY();
			{
				sleep_ms = run_round();
			}
			PG_CATCH();
			{
				sleep_ms = recover_from_error(worker_cxt);
			}
			PG_END_TRY();
		}
		MemoryContextReset(worker_cxt);

		if (sleep_ms > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}
