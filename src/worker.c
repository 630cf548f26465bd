/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The background worker that drains the outbox.
 *
 * With velt in shared_preload_libraries, one worker connects to the
 * database named by velt.database and delivers its outbox.  A transaction
 * that enqueued sets the worker's latch as it commits, so delivery starts
 * at once rather than at the next poll; without work the worker sleeps
 * until the next retry is due (or velt.worker_idle_ms).  Each round is its
 * own transaction: an error (Velt unreachable, missing credentials) is
 * logged, the transaction rolled back, and the worker carries on.  After
 * each round the worker reports its table statistics, as a backend does
 * after a statement: autovacuum counts the rows its DELETEs leave dead in
 * velt.outbox from those reports.
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
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "drain.h"
#include "outbox.h"
#include "settings.h"
#include "worker.h"

PGDLLEXPORT void velt_worker_main(Datum arg);

typedef struct VeltShared
{
	/* the worker's latch, or NULL while no worker runs */
	Latch	   *worker_latch;
} VeltShared;

/* In shared memory, set up by velt_worker_shmem_init. */
static VeltShared *shared = NULL;

/* How long the worker waits after a failed round. */
#define VELT_WORKER_ERROR_PAUSE_MS 5000
/* Shortest sleep when due work could not be taken. */
#define VELT_WORKER_MIN_SLEEP_MS 200
/* Bounds of one round, so settings reloads and shutdown are noticed. */
#define VELT_WORKER_ROUND_ITEMS 10000
#define VELT_WORKER_ROUND_SECONDS 10.0

Size
velt_worker_shmem_size(void)
{
	return MAXALIGN(sizeof(VeltShared));
}

void
velt_worker_shmem_init(void)
{
	bool		found;

	shared = ShmemInitStruct("velt", sizeof(VeltShared), &found);
	if (!found)
		shared->worker_latch = NULL;
}

/* Called at COMMIT of a transaction that enqueued. */
static void
wake_worker(void)
{
	Latch	   *latch;

	if (shared == NULL)
		return;
	latch = shared->worker_latch;
	if (latch != NULL)
		SetLatch(latch);
}

/* At the worker's exit: no latch to set any more. */
static void
forget_latch(int code, Datum arg)
{
	if (shared)
		shared->worker_latch = NULL;
}

void
velt_worker_register(void)
{
	BackgroundWorker worker;

	velt_wake_worker_hook = wake_worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "velt");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "velt_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "velt outbox worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "velt outbox worker");
	RegisterBackgroundWorker(&worker);
}

/* Whether velt is installed in the worker's database. */
static bool
extension_installed(void)
{
	int			rc = SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'velt'",
								 true, 1);

	return rc == SPI_OK_SELECT && SPI_processed == 1;
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

/*
 * One round in its own transaction.  Returns how long to sleep before the
 * next one (0: more work is due now).
 */
static long
deliver_round(void)
{
	VeltDrainSummary summary;
	long		sleep_ms = velt_worker_idle_ms;
	long		stats_ms;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "velt: delivering the outbox");

	if (extension_installed())
	{
		velt_outbox_drain(VELT_WORKER_ROUND_ITEMS, VELT_WORKER_ROUND_SECONDS, &summary);
		if (summary.settled > 0)
			sleep_ms = 0;		/* it made progress: there may be more */
		else if (summary.next_due != 0)
		{
			long		secs;
			int			usecs;

			TimestampDifference(GetCurrentTimestamp(), summary.next_due, &secs, &usecs);
			sleep_ms = Min(sleep_ms, secs * 1000 + usecs / 1000 + 1);
			/*
			 * Work that is due but waits (behind a retry, or locked by another
			 * drain) must not make the worker spin.
			 */
			sleep_ms = Max(sleep_ms, VELT_WORKER_MIN_SLEEP_MS);
		}
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	stats_ms = report_idle();
	return Min(sleep_ms, stats_ms);
}

/*
 * After a failed round: reports the error, rolls the transaction back (in
 * cxt) and returns how long to pause before carrying on.
 */
static long
recover_from_error(MemoryContext cxt)
{
	long		stats_ms;

	MemoryContextSwitchTo(cxt);
	EmitErrorReport();
	FlushErrorState();
	AbortCurrentTransaction();
	stats_ms = report_idle();
	return Min(VELT_WORKER_ERROR_PAUSE_MS, stats_ms);
}

void
velt_worker_main(Datum arg)
{
	MemoryContext worker_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(velt_database, NULL, 0);

	shared->worker_latch = MyLatch;
	on_shmem_exit(forget_latch, (Datum) 0);
	pgstat_report_appname("velt outbox worker");
	ereport(LOG,
			(errmsg("velt outbox worker started for database \"%s\"", velt_database)));

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
		PG_TRY();
		{
			sleep_ms = deliver_round();
		}
		PG_CATCH();
		{
			sleep_ms = recover_from_error(worker_cxt);
		}
		PG_END_TRY();
		MemoryContextReset(worker_cxt);

		if (sleep_ms > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}
