# velt: the Velt REST API as PostgreSQL functions (PGXS build).

EXTENSION = velt
DATA = velt--1.0.sql velt--1.0--1.1.sql velt--1.1--1.2.sql
MODULE_big = velt
# every C file of src/ is one object of the module
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard $(srcdir)/src/*.c)))

PG_CONFIG ?= pg_config

# libcurl and json-c come from pkg-config so a non-default prefix works too.
CURL_CFLAGS := $(shell pkg-config --cflags libcurl)
CURL_LIBS := $(shell pkg-config --libs libcurl)
JSONC_CFLAGS := $(shell pkg-config --cflags json-c)
JSONC_LIBS := $(shell pkg-config --libs json-c)

# The extension's version, from the control file (its one home), for the
# User-Agent; read before PGXS, which expands PG_CPPFLAGS when included.
VELT_CONTROL := $(dir $(lastword $(MAKEFILE_LIST)))velt.control
VELT_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(VELT_CONTROL))

PG_CPPFLAGS = -I$(srcdir)/src $(CURL_CFLAGS) $(JSONC_CFLAGS) -DVELT_VERSION='"$(VELT_VERSION)"'
PG_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = $(CURL_LIBS) $(JSONC_LIBS)

# The pg_regress files, in the order they run: one cluster, one database
# (contrib_regression), one stand-in shared by all.  Order matters where
# a comment says so; elsewhere each file starts from standin_reset().
REGRESS = \
	setup \
	users \
	groups \
	input_checks \
	malformed_calls \
	errors \
	retries \
	concurrent_requests \
	http_connections \
	fault_matrix \
	cancel \
	settings \
	secrets \
	secrets_file \
	privileges \
	upgrade \
	trigger_sync_call \
	keepalive_memory \
	organizations \
	documents \
	users_get_update \
	folders \
	permissions \
	gdpr \
	velt_request \
	rate_limit \
	stats \
	outbox \
	outbox_commit_order \
	outbox_durable_writes \
	outbox_twin_faults \
	reconcile \
	outbox_trigger_functions \
	trigger_row_errors \
	documents_trigger \
	trigger_moved_ids \
	background_worker \
	workers \
	operations \
	pg_cron
# setup: first, always: creates the extension and the helpers (try(),
#   test_users(), standin*()) every other file uses.
# upgrade: creates and drops its own database (velt_upgrade).
# rate_limit: changes velt.max_requests_per_second with ALTER SYSTEM and
#   resets it before it ends.
# background_worker: creates velt_worker, the database the worker delivers
#   (velt.database in the test cluster).
# workers: right after background_worker: changes velt.databases,
#   velt.pause_delivery and velt.max_attempts with ALTER SYSTEM, resets
#   them and waits until only velt_worker's worker runs again.
# operations: runs every command of docs/operations.md; empties this
#   database's outbox; changes velt.secrets_file, velt.pause_delivery and
#   velt.max_requests_per_second with ALTER SYSTEM and resets them.
# pg_cron: last: its job drains this database's outbox once a minute from
#   then on, which would race the outbox checks of any file after it.
REGRESS_OPTS = --load-extension=dblink
# concurrency specs (pg_isolation_regress), run by installcheck after REGRESS
ISOLATION = outbox_concurrency

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies; the headers are few, so any change
# rebuilds every object rather than risk mixing struct layouts.
$(OBJS): $(wildcard $(srcdir)/src/*.h) $(srcdir)/velt.control
