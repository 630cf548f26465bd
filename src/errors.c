/*-------------------------------------------------------------------------
 *
 * errors.c
 *		SQLSTATEs for Velt's statuses and for transport failures.
 *
 * Velt names failures with gRPC status codes (Velt's REST API reference, error handling).  The
 * table below is the one docs/errors.md documents; keep them together.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "errors.h"

typedef struct StatusMapping
{
	const char *velt_status;
	long		http_status;	/* the canonical HTTP status for it */
	int			sqlstate;
} StatusMapping;

static const StatusMapping status_map[] = {
	{"INVALID_ARGUMENT", 400, ERRCODE_INVALID_PARAMETER_VALUE},
	{"OUT_OF_RANGE", 400, ERRCODE_INVALID_PARAMETER_VALUE},
	{"FAILED_PRECONDITION", 400, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE},
	{"UNAUTHENTICATED", 401, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION},
	{"PERMISSION_DENIED", 403, ERRCODE_INSUFFICIENT_PRIVILEGE},
	{"NOT_FOUND", 404, ERRCODE_UNDEFINED_OBJECT},
	{"ALREADY_EXISTS", 409, ERRCODE_DUPLICATE_OBJECT},
	{"ABORTED", 409, ERRCODE_T_R_SERIALIZATION_FAILURE},
	{"RESOURCE_EXHAUSTED", 429, ERRCODE_INSUFFICIENT_RESOURCES},
	{"UNIMPLEMENTED", 501, ERRCODE_FEATURE_NOT_SUPPORTED},
	{"CANCELLED", 499, ERRCODE_SYSTEM_ERROR},
	{"UNKNOWN", 500, ERRCODE_SYSTEM_ERROR},
	{"INTERNAL", 500, ERRCODE_SYSTEM_ERROR},
	{"DATA_LOSS", 500, ERRCODE_SYSTEM_ERROR},
	{"UNAVAILABLE", 503, ERRCODE_SYSTEM_ERROR},
	{"DEADLINE_EXCEEDED", 504, ERRCODE_SYSTEM_ERROR},
};

int
velt_sqlstate_for_answer(const char *velt_status, long http_status)
{
	size_t		i;

	if (velt_status != NULL)
	{
		for (i = 0; i < lengthof(status_map); i++)
		{
			if (strcmp(status_map[i].velt_status, velt_status) == 0)
				return status_map[i].sqlstate;
		}
	}
	/* unknown or missing status name: the first entry for the HTTP status */
	for (i = 0; i < lengthof(status_map); i++)
	{
		if (status_map[i].http_status == http_status)
			return status_map[i].sqlstate;
	}
	if (http_status >= 400 && http_status < 500)
		return ERRCODE_INVALID_PARAMETER_VALUE;
	return ERRCODE_SYSTEM_ERROR;
}

int
velt_sqlstate_for_transport(VeltTransportFailure failure)
{
	switch (failure)
	{
		case VELT_TRANSPORT_CONNECT:
		case VELT_TRANSPORT_TLS:
		case VELT_TRANSPORT_SETUP:
			return ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
		case VELT_TRANSPORT_TOO_LARGE:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case VELT_TRANSPORT_TIMEOUT:
		case VELT_TRANSPORT_BROKEN:
		case VELT_TRANSPORT_OK:
			break;
	}
	return ERRCODE_CONNECTION_FAILURE;
}
