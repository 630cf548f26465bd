/*-------------------------------------------------------------------------
 *
 * reads.h
 *		Velt's get endpoints as row sets.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_READS_H
#define VELT_READS_H

#include "postgres.h"

#include "fmgr.h"

#include "endpoints.h"

/* The body of every velt_get_* function. */
extern Datum velt_read_endpoint(FunctionCallInfo fcinfo, const VeltEndpoint *ep);

#endif							/* VELT_READS_H */
