/*-------------------------------------------------------------------------
 *
 * databases.h
 *		Statements that need a database free of velt's worker, and
 *		CREATE EXTENSION velt waking the launcher.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_DATABASES_H
#define VELT_DATABASES_H

/*
 * From _PG_init while shared_preload_libraries is processed: installs the
 * ProcessUtility hook (DROP DATABASE, ALTER DATABASE ... RENAME and CREATE
 * DATABASE ... TEMPLATE stop the database's worker first; CREATE
 * EXTENSION velt wakes the launcher at COMMIT) and its commit callback.
 */
extern void velt_databases_register_hooks(void);

#endif							/* VELT_DATABASES_H */
