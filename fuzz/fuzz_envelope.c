/*-------------------------------------------------------------------------
 *
 * fuzz_envelope.c
 *		libFuzzer harness for Velt answer parsing (src/envelope.c).
 *
 * Feeds arbitrary bytes to velt_envelope_parse and, for a result envelope
 * whose data is a map, reads every ID's outcome the way the extension
 * does.  Built outside PostgreSQL: envelope.c depends on json-c only.
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "envelope.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	VeltEnvelope env;
	char		reason[128];

	velt_envelope_parse((const char *) data, size, &env);
	if (env.kind == VELT_ENVELOPE_RESULT && env.data &&
		json_object_is_type(env.data, json_type_object))
	{
		json_object_object_foreach(env.data, key, value)
		{
			VeltItemOutcome outcome;

			(void) value;
			if (velt_item_outcome(env.data, key, &outcome, reason, sizeof(reason)) &&
				outcome.present)
			{
				/* touch what the extension reads */
				if (outcome.velt_id)
					(void) strlen(outcome.velt_id);
				if (outcome.message)
					(void) strlen(outcome.message);
			}
		}
	}
	/* a missing ID must be reported as absent, never crash */
	if (env.kind == VELT_ENVELOPE_RESULT)
	{
		VeltItemOutcome outcome;

		(void) velt_item_outcome(env.data, "no-such-id", &outcome, reason, sizeof(reason));
	}
	velt_envelope_free(&env);
	return 0;
}
