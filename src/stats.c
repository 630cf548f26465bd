/*-------------------------------------------------------------------------
 *
 * stats.c
 *		Cumulative statistics of velt's requests: counters in shared memory
 *		per endpoint and caller kind, the velt_stats view's function, its
 *		reset, and their file across a clean restart.
 *
 * One slot per catalog endpoint (plus one for other paths) and caller
 * kind, a fixed array set up at server start.  A slot is a row of 64-bit
 * words updated with atomic additions (a compare-and-swap loop for the
 * maximum), so counting takes no lock, allocates nothing and raises
 * nothing; it runs once per request attempt and once per answer, beside
 * an HTTP exchange that costs a thousand times more.  Request times also
 * go into a fixed log-scale histogram (four buckets per doubling from
 * 0.1 ms, so a percentile read from it is within about 9 % of the truth);
 * see docs/statistics.md.
 *
 * Like PostgreSQL's cumulative statistics, the counters survive a clean
 * restart and not a crash: the postmaster writes them to pg_stat/ when it
 * exits after a shutdown checkpoint, and reads the file back (and removes
 * it) when it sets up shared memory.  A file of another layout, endpoint
 * catalog or size is ignored with a LOG line.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <fcntl.h>
#include <unistd.h>

#include "access/xlog_internal.h"
#include "catalog/pg_control.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "settings.h"
#include "stats.h"

/* The words of one slot: the counters, the maximum, the histogram. */
typedef enum StatsWord
{
	W_CALLS,
	W_REQUESTS,
	W_ITEMS,
	W_SUCCESSES,
	W_FAILURES,
	W_TRANSPORT,
	W_CLIENT,
	W_RATE_LIMITED,
	W_SERVER,
	W_MALFORMED,
	W_RETRIES,
	W_BYTES_SENT,
	W_BYTES_RECEIVED,
	W_TOTAL_US,
	W_MAX_US,
	W_HIST						/* first of VELT_STATS_BUCKETS */
} StatsWord;

/* The histogram: bucket 0 below HIST_MIN_MS, then this many per doubling. */
#define HIST_MIN_MS 0.1
#define HIST_PER_DOUBLING 4
#define HIST_DOUBLINGS 20		/* up to 0.1 ms * 2^20, about 105 s */
#define VELT_STATS_BUCKETS (HIST_PER_DOUBLING * HIST_DOUBLINGS + 2)
#define SLOT_WORDS (W_HIST + VELT_STATS_BUCKETS)

#define NSLOTS (VELT_STATS_ENDPOINTS * VELT_STATS_CALLERS)

/* Times are counted in microseconds and shown in milliseconds. */
#define US_PER_MS 1000.0

/* The counters of the cluster. */
typedef struct VeltStatsShared
{
	pg_atomic_uint64 stats_reset;	/* a TimestampTz */
	pg_atomic_uint64 slots[NSLOTS][SLOT_WORDS];
} VeltStatsShared;

/* The file of a clean shutdown, under the data directory. */
#define STATS_FILE PGSTAT_STAT_PERMANENT_DIRECTORY "/velt_stats.stat"
#define STATS_FILE_TMP STATS_FILE ".tmp"
#define STATS_FILE_MAGIC 0x56535431 /* "VST1" */
#define STATS_FILE_LAYOUT 1		/* raise when the words of a slot change */

/* What the file says of the layout it was written with. */
typedef struct StatsFileHeader
{
	uint32		magic;
	uint32		layout;
	uint32		endpoints;
	uint32		callers;
	uint32		words;
	uint32		catalog_hash;	/* of the endpoints' paths, in order */
	int64		stats_reset;
} StatsFileHeader;

/* The SQL row: endpoint, caller, 13 counters, 5 times, stats_reset. */
#define STATS_COLUMNS 21

/* NULL unless velt was preloaded. */
static VeltStatsShared *stats = NULL;

static const char *const caller_names[VELT_STATS_CALLERS] = {"call", "drain"};

Size
velt_stats_shmem_size(void)
{
	return MAXALIGN(sizeof(VeltStatsShared));
}

/* Sets every counter to zero and stats_reset to now. */
static void
zero_counters(void)
{
	int			s;
	int			w;

	for (s = 0; s < NSLOTS; s++)
		for (w = 0; w < SLOT_WORDS; w++)
			pg_atomic_write_u64(&stats->slots[s][w], 0);
	pg_atomic_write_u64(&stats->stats_reset, (uint64) GetCurrentTimestamp());
}

/* A hash of the catalog's endpoint paths, so a reordered catalog shows. */
static uint32
catalog_hash(void)
{
	uint32		h = 0;
	int			i;

	for (i = 0; i < VELT_EP_COUNT; i++)
		h = hash_combine(h, hash_bytes((const unsigned char *) velt_endpoints[i].path,
									   (int) strlen(velt_endpoints[i].path)));
	return h;
}

/* The header of a file written now. */
static void
file_header(StatsFileHeader *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = STATS_FILE_MAGIC;
	h->layout = STATS_FILE_LAYOUT;
	h->endpoints = VELT_STATS_ENDPOINTS;
	h->callers = VELT_STATS_CALLERS;
	h->words = SLOT_WORDS;
	h->catalog_hash = catalog_hash();
}

/*
 * Reads the counters a clean shutdown wrote, then removes the file, so a
 * crash later starts from zero.  A file that does not match is ignored.
 */
static void
load_counters(void)
{
	FILE	   *f = AllocateFile(STATS_FILE, PG_BINARY_R);
	StatsFileHeader want;
	StatsFileHeader got;
	uint64		words[SLOT_WORDS];
	uint32		trailer = 0;
	int			s;
	int			w;

	if (f == NULL)
		return;					/* none: a first start, or after a crash */
	file_header(&want);
	if (fread(&got, sizeof(got), 1, f) != 1 ||
		got.magic != want.magic || got.layout != want.layout ||
		got.endpoints != want.endpoints || got.callers != want.callers ||
		got.words != want.words || got.catalog_hash != want.catalog_hash)
	{
		ereport(LOG,
				(errmsg("velt: ignoring statistics file \"%s\": written by another version of velt",
						STATS_FILE)));
		goto done;
	}
	for (s = 0; s < NSLOTS; s++)
	{
		if (fread(words, sizeof(words), 1, f) != 1)
			break;
		for (w = 0; w < SLOT_WORDS; w++)
			pg_atomic_write_u64(&stats->slots[s][w], words[w]);
	}
	if (s < NSLOTS || fread(&trailer, sizeof(trailer), 1, f) != 1 ||
		trailer != STATS_FILE_MAGIC)
	{
		ereport(LOG,
				(errmsg("velt: ignoring statistics file \"%s\": it is truncated", STATS_FILE)));
		zero_counters();
		goto done;
	}
	pg_atomic_write_u64(&stats->stats_reset, (uint64) got.stats_reset);
done:
	FreeFile(f);
	unlink(STATS_FILE);
}

/*
 * Whether the server shut down cleanly: pg_control says so once the
 * shutdown checkpoint is written, which an immediate shutdown skips.
 */
static bool
shut_down_cleanly(void)
{
	ControlFileData control;
	pg_crc32c	crc;
	int			fd = OpenTransientFile(XLOG_CONTROL_FILE, O_RDONLY | PG_BINARY);
	bool		read_ok;

	if (fd < 0)
		return false;
	read_ok = read(fd, &control, sizeof(control)) == (ssize_t) sizeof(control);
	CloseTransientFile(fd);
	if (!read_ok)
		return false;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &control, offsetof(ControlFileData, crc));
	FIN_CRC32C(crc);
	return EQ_CRC32C(crc, control.crc) &&
		(control.state == DB_SHUTDOWNED || control.state == DB_SHUTDOWNED_IN_RECOVERY);
}

/* Writes the counters and the trailer to f; false on a write error. */
static bool
write_counters(FILE *f)
{
	StatsFileHeader h;
	uint64		words[SLOT_WORDS];
	uint32		trailer = STATS_FILE_MAGIC;
	int			s;
	int			w;

	file_header(&h);
	h.stats_reset = (int64) pg_atomic_read_u64(&stats->stats_reset);
	if (fwrite(&h, sizeof(h), 1, f) != 1)
		return false;
	for (s = 0; s < NSLOTS; s++)
	{
		for (w = 0; w < SLOT_WORDS; w++)
			words[w] = pg_atomic_read_u64(&stats->slots[s][w]);
		if (fwrite(words, sizeof(words), 1, f) != 1)
			return false;
	}
	return fwrite(&trailer, sizeof(trailer), 1, f) == 1;
}

/*
 * The postmaster exits (on_shmem_exit): after a clean shutdown the
 * counters go to the file; after a crash or an immediate shutdown nothing
 * is written, as PostgreSQL's own statistics are then discarded too.
 */
static void
save_counters(int code, Datum arg)
{
	FILE	   *f;

	if (code != 0 || stats == NULL || !shut_down_cleanly())
		return;
	f = AllocateFile(STATS_FILE_TMP, PG_BINARY_W);
	if (f == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("velt: could not write statistics file \"%s\": %m", STATS_FILE_TMP)));
		return;
	}
	if (!write_counters(f) || FreeFile(f) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("velt: could not write statistics file \"%s\": %m", STATS_FILE_TMP)));
		unlink(STATS_FILE_TMP);
		return;
	}
	(void) durable_rename(STATS_FILE_TMP, STATS_FILE, LOG);
}

void
velt_stats_shmem_init(void)
{
	bool		found;
	int			s;
	int			w;

	stats = ShmemInitStruct("velt statistics", sizeof(VeltStatsShared), &found);
	if (found)
		return;
	pg_atomic_init_u64(&stats->stats_reset, 0);
	for (s = 0; s < NSLOTS; s++)
		for (w = 0; w < SLOT_WORDS; w++)
			pg_atomic_init_u64(&stats->slots[s][w], 0);
	zero_counters();
	if (!IsUnderPostmaster)
	{
		/* the postmaster: at start (and after a crash), and at exit */
		load_counters();
		on_shmem_exit(save_counters, (Datum) 0);
	}
}

/* ---------------------------------------------------------------------
 * Counting
 * ---------------------------------------------------------------------
 */

int
velt_stats_endpoint_of_path(const char *path)
{
	int			i;

	/* a path that names its version is the same endpoint */
	if (strncmp(path, "v1/", 3) == 0 || strncmp(path, "v2/", 3) == 0)
		path += 3;
	for (i = 0; i < VELT_EP_COUNT; i++)
		if (strcmp(velt_endpoints[i].path, path) == 0)
			return i;
	return VELT_STATS_OTHER_ENDPOINT;
}

int
velt_stats_endpoint_of(const VeltEndpoint *ep)
{
	if (ep >= &velt_endpoints[0] && ep < &velt_endpoints[VELT_EP_COUNT])
		return (int) (ep - velt_endpoints);
	return velt_stats_endpoint_of_path(ep->path);
}

/* The words of a slot, or NULL when velt was not preloaded. */
static pg_atomic_uint64 *
slot_of(int endpoint, VeltStatsCaller caller)
{
	if (stats == NULL || endpoint < 0 || endpoint >= VELT_STATS_ENDPOINTS ||
		caller < 0 || caller >= VELT_STATS_CALLERS)
		return NULL;
	return stats->slots[endpoint * VELT_STATS_CALLERS + caller];
}

/*
 * The words of a slot to count in, or NULL when velt was not preloaded or
 * velt.track_stats is off.
 */
static pg_atomic_uint64 *
counting_slot(int endpoint, VeltStatsCaller caller)
{
	if (!velt_track_stats)
		return NULL;
	return slot_of(endpoint, caller);
}

/* The histogram bucket of a request time. */
static int
bucket_of(double ms)
{
	double		b;

	if (!(ms >= HIST_MIN_MS))
		return 0;
	b = floor(log2(ms / HIST_MIN_MS) * HIST_PER_DOUBLING);
	return 1 + (int) Min(b, (double) (VELT_STATS_BUCKETS - 2));
}

/* Raises the slot's maximum to us if it is below. */
static void
raise_max(pg_atomic_uint64 *word, uint64 us)
{
	uint64		seen = pg_atomic_read_u64(word);

	while (us > seen && !pg_atomic_compare_exchange_u64(word, &seen, us))
		;
}

void
velt_stats_count_call(int endpoint, VeltStatsCaller caller)
{
	pg_atomic_uint64 *slot = counting_slot(endpoint, caller);

	if (slot)
		pg_atomic_fetch_add_u64(&slot[W_CALLS], 1);
}

/* The counter of an attempt's outcome, or -1 for an answer velt used. */
static int
outcome_word(VeltStatsOutcome outcome)
{
	switch (outcome)
	{
		case VELT_STATS_TRANSPORT:
			return W_TRANSPORT;
		case VELT_STATS_CLIENT_ERROR:
			return W_CLIENT;
		case VELT_STATS_RATE_LIMITED:
			return W_RATE_LIMITED;
		case VELT_STATS_SERVER_ERROR:
			return W_SERVER;
		case VELT_STATS_MALFORMED:
			return W_MALFORMED;
		case VELT_STATS_ANSWERED:
			break;
	}
	return -1;
}

void
velt_stats_count_attempt(int endpoint, VeltStatsCaller caller,
						 VeltStatsOutcome outcome, bool retried,
						 uint64 bytes_sent, uint64 bytes_received, double ms)
{
	pg_atomic_uint64 *slot = counting_slot(endpoint, caller);
	uint64		us = ms > 0 ? (uint64) (ms * US_PER_MS) : 0;
	int			word = outcome_word(outcome);

	if (slot == NULL)
		return;
	pg_atomic_fetch_add_u64(&slot[W_REQUESTS], 1);
	if (word >= 0)
		pg_atomic_fetch_add_u64(&slot[word], 1);
	if (retried)
		pg_atomic_fetch_add_u64(&slot[W_RETRIES], 1);
	pg_atomic_fetch_add_u64(&slot[W_BYTES_SENT], bytes_sent);
	pg_atomic_fetch_add_u64(&slot[W_BYTES_RECEIVED], bytes_received);
	pg_atomic_fetch_add_u64(&slot[W_TOTAL_US], us);
	raise_max(&slot[W_MAX_US], us);
	pg_atomic_fetch_add_u64(&slot[W_HIST + bucket_of(ms)], 1);
}

void
velt_stats_count_items(int endpoint, VeltStatsCaller caller, uint64 items,
					   uint64 successes)
{
	pg_atomic_uint64 *slot = counting_slot(endpoint, caller);

	if (slot == NULL)
		return;
	pg_atomic_fetch_add_u64(&slot[W_ITEMS], items);
	pg_atomic_fetch_add_u64(&slot[W_SUCCESSES], successes);
	pg_atomic_fetch_add_u64(&slot[W_FAILURES], items - Min(successes, items));
}

void
velt_stats_count_malformed(int endpoint, VeltStatsCaller caller)
{
	pg_atomic_uint64 *slot = counting_slot(endpoint, caller);

	if (slot)
		pg_atomic_fetch_add_u64(&slot[W_MALFORMED], 1);
}

/* ---------------------------------------------------------------------
 * The view and its reset
 * ---------------------------------------------------------------------
 */

/*
 * The p-th fraction's request time from a slot's histogram: the geometric
 * middle of the bucket that holds it, never above the maximum seen.
 */
static double
percentile_ms(const uint64 *words, double p)
{
	uint64		n = words[W_REQUESTS];
	uint64		rank = (uint64) ceil(p * (double) n);
	uint64		seen = 0;
	double		max_ms = (double) words[W_MAX_US] / US_PER_MS;
	int			b;

	for (b = 0; b < VELT_STATS_BUCKETS; b++)
	{
		seen += words[W_HIST + b];
		if (seen >= Max(rank, 1))
			break;
	}
	if (b == 0)
		return Min(max_ms, HIST_MIN_MS / 2);
	if (b >= VELT_STATS_BUCKETS - 1)
		return max_ms;
	return Min(max_ms, HIST_MIN_MS * pow(2.0, ((double) b - 0.5) / HIST_PER_DOUBLING));
}

/* Puts one slot's row into the result, unless every counter is zero. */
static void
put_slot(ReturnSetInfo *rsinfo, int endpoint, int caller, const uint64 *words)
{
	Datum		values[STATS_COLUMNS];
	bool		nulls[STATS_COLUMNS];
	int			col = 0;
	int			w;
	bool		any = false;

	for (w = 0; w < W_MAX_US; w++)
		any = any || words[w] != 0;
	if (!any)
		return;
	memset(nulls, 0, sizeof(nulls));
	values[col++] = CStringGetTextDatum(endpoint == VELT_STATS_OTHER_ENDPOINT ?
										"request" : velt_endpoints[endpoint].path);
	values[col++] = CStringGetTextDatum(caller_names[caller]);
	for (w = W_CALLS; w < W_TOTAL_US; w++)
		values[col++] = Int64GetDatum((int64) words[w]);
	values[col++] = Float8GetDatum((double) words[W_TOTAL_US] / US_PER_MS);
	values[col++] = Float8GetDatum((double) words[W_MAX_US] / US_PER_MS);
	values[col++] = Float8GetDatum(percentile_ms(words, 0.50));
	values[col++] = Float8GetDatum(percentile_ms(words, 0.95));
	values[col++] = Float8GetDatum(percentile_ms(words, 0.99));
	values[col++] = TimestampTzGetDatum((TimestampTz) pg_atomic_read_u64(&stats->stats_reset));
	Assert(col == STATS_COLUMNS);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Refuses to report when there are no counters to report. */
static void
require_preloaded(const char *function)
{
	if (stats == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs velt in shared_preload_libraries", function),
				 errdetail("velt keeps its statistics in shared memory, which only a preloaded library can have."),
				 errhint("Add velt to shared_preload_libraries and restart the server.")));
}

PG_FUNCTION_INFO_V1(velt_stats);

/* velt_stats(): one row per endpoint and caller kind with a count. */
Datum
velt_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		words[SLOT_WORDS];
	int			e;
	int			c;
	int			w;

	require_preloaded("velt_stats");
	InitMaterializedSRF(fcinfo, 0);
	for (e = 0; e < VELT_STATS_ENDPOINTS; e++)
		for (c = 0; c < VELT_STATS_CALLERS; c++)
		{
			pg_atomic_uint64 *slot = slot_of(e, (VeltStatsCaller) c);

			for (w = 0; w < SLOT_WORDS; w++)
				words[w] = pg_atomic_read_u64(&slot[w]);
			put_slot(rsinfo, e, c, words);
		}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(velt_stats_reset);

/* velt_stats_reset(): every counter to zero; returns the new stats_reset. */
Datum
velt_stats_reset(PG_FUNCTION_ARGS)
{
	require_preloaded("velt_stats_reset");
	zero_counters();
	PG_RETURN_TIMESTAMPTZ((TimestampTz) pg_atomic_read_u64(&stats->stats_reset));
}
