/*-------------------------------------------------------------------------
 *
 * errors.h
 *		SQLSTATEs for Velt's statuses and for transport failures.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_ERRORS_H
#define VELT_ERRORS_H

#include "http.h"

/*
 * SQLSTATE for an error answer: by Velt's gRPC-style status name when it is
 * one we know, else by the HTTP status.
 */
extern int	velt_sqlstate_for_answer(const char *velt_status, long http_status);

/* SQLSTATE (class 08 or 54) for an exchange that got no usable answer. */
extern int	velt_sqlstate_for_transport(VeltTransportFailure failure);

#endif							/* VELT_ERRORS_H */
