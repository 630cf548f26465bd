/*-------------------------------------------------------------------------
 *
 * module.c
 *		Module entry point: defines velt's settings.
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

#include "outbox.h"
#include "settings.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	velt_define_settings();
	velt_outbox_register_wakeup();
}
