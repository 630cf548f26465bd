/*-------------------------------------------------------------------------
 *
 * envelope.h
 *		Reading Velt's answers: the envelope and the per-ID result map.
 *
 * Plain C on top of json-c, with no PostgreSQL dependency, so the parser
 * can be built and tested (or fuzzed) outside the server.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_ENVELOPE_H
#define VELT_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "json_c.h"

typedef enum VeltEnvelopeKind
{
	VELT_ENVELOPE_RESULT,		/* {"result": {...}} */
	VELT_ENVELOPE_ERROR,		/* {"error": {...}} */
	VELT_ENVELOPE_INVALID		/* anything else */
} VeltEnvelopeKind;

typedef struct VeltEnvelope
{
	VeltEnvelopeKind kind;
	json_object *root;			/* owned: release with velt_envelope_free */
	json_object *result;		/* borrowed: the "result" object */
	json_object *data;			/* borrowed: result.data, NULL if absent or null */
	const char *message;		/* result.message or error.message, or NULL */
	const char *error_status;	/* error.status (or error.code), or NULL */
	json_object *details;		/* borrowed: error.details, or NULL */
	char		invalid_reason[160];	/* why the answer is not an envelope */
} VeltEnvelope;

/* Outcome of one ID in a per-ID result map. */
typedef struct VeltItemOutcome
{
	bool		present;		/* Velt said something about this ID */
	int			success;		/* 1 true, 0 false, -1 absent */
	const char *velt_id;		/* item's "id" (string or number), or NULL */
	const char *message;		/* item's "message", or NULL */
	json_object *item;			/* borrowed: the item object */
} VeltItemOutcome;

/* Depth limit handed to json-c; deeper documents are rejected. */
#define VELT_JSON_MAX_DEPTH 256

/*
 * Parses an answer body.  Returns the kind; on VELT_ENVELOPE_INVALID,
 * invalid_reason says why.  The root is owned by the envelope in every case.
 */
extern VeltEnvelopeKind velt_envelope_parse(const char *body, size_t len,
											VeltEnvelope *env);
extern void velt_envelope_free(VeltEnvelope *env);

/*
 * Reads the outcome for one ID from result.data.  Returns false, with a
 * reason, when the item is present but not shaped as Velt documents it.
 */
extern bool velt_item_outcome(json_object *data, const char *id,
							  VeltItemOutcome *out,
							  char *reason, size_t reason_size);

/* Parses JSON text with our depth limit; NULL on error with a reason. */
extern json_object *velt_json_parse(const char *text, size_t len,
									char *reason, size_t reason_size);

#endif							/* VELT_ENVELOPE_H */
