/*-------------------------------------------------------------------------
 *
 * launcher.h
 *		The launcher: one delivery worker per database of velt.databases.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_LAUNCHER_H
#define VELT_LAUNCHER_H

#include "postgres.h"

/*
 * From _PG_init while shared_preload_libraries is processed, after the
 * workers' settings are defined: registers the launcher, a background
 * worker the postmaster starts once recovery has finished (and again
 * after a crash).
 */
extern void velt_launcher_register(void);

/*
 * The launcher's entry point (bgw_function_name "velt_launcher_main"):
 * runs until the server stops it, starting and stopping the delivery
 * workers as launcher.c describes.
 */
extern PGDLLEXPORT void velt_launcher_main(Datum arg);

#endif							/* VELT_LAUNCHER_H */
