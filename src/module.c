/*-------------------------------------------------------------------------
 *
 * module.c
 *		Module entry point: settings, the commit-time wake-up, the
 *		end-of-statement hook of the trigger functions and, when
 *		preloaded, the launcher of the outbox workers and the hook that
 *		stops a worker before DROP DATABASE.
 *
 * velt should be in shared_preload_libraries: a setting found in
 * postgresql.conf before the module is loaded exists only as a placeholder,
 * and PostgreSQL shows placeholders to every role, secrets included.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "databases.h"
#include "launcher.h"
#include "outbox.h"
#include "removals.h"
#include "settings.h"
#include "shmem.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	velt_define_settings();
	velt_outbox_register_wakeup();
	velt_removals_register_hooks();
	if (process_shared_preload_libraries_in_progress)
	{
		/* the worker reads its settings from the start */
		velt_define_worker_settings();
		velt_shmem_register();
		velt_worker_register();
		velt_launcher_register();
		velt_databases_register_hooks();
	}
	/* after every velt.* setting is defined: refuse unknown ones */
	MarkGUCPrefixReserved("velt");
}
