/*-------------------------------------------------------------------------
 *
 * jsonc_pg.c
 *		json-c objects inside PostgreSQL: ownership and jsonb conversion.
 *
 * json-c allocates with malloc, which PostgreSQL's error recovery knows
 * nothing about.  Tying each object to a memory context through a reset
 * callback makes the ordinary context cleanup (normal or after an ERROR)
 * release it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_c.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "envelope.h"
#include "jsonc_pg.h"

typedef struct OwnedJson
{
	MemoryContextCallback callback;
	json_object *obj;
} OwnedJson;

static void
release_owned_json(void *arg)
{
	OwnedJson  *owned = (OwnedJson *) arg;

	json_object_put(owned->obj);
	owned->obj = NULL;
}

json_object *
velt_jsonc_owned(json_object *obj)
{
	OwnedJson  *owned;

	if (obj == NULL)
		return NULL;
	/* allocation may fail: then release the object before raising */
	owned = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(OwnedJson),
									   MCXT_ALLOC_NO_OOM);
	if (owned == NULL)
	{
		json_object_put(obj);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	owned->obj = obj;
	owned->callback.func = release_owned_json;
	owned->callback.arg = owned;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &owned->callback);
	return obj;
}

json_object *
velt_jsonb_to_jsonc(Jsonb *jb, const char *what)
{
	char	   *text;
	json_object *obj;
	char		reason[160];

	text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	obj = velt_json_parse(text, strlen(text), reason, sizeof(reason));
	pfree(text);
	if (obj == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cannot be sent to Velt: %s", what, reason),
				 errhint("Nesting deeper than %d levels is not accepted.", VELT_JSON_MAX_DEPTH)));
	return velt_jsonc_owned(obj);
}

const char *
velt_jsonc_text(json_object *obj, size_t *len)
{
	const char *text;

	text = json_object_to_json_string_length(obj,
											 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
											 len);
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory serializing JSON")));
	return text;
}

Datum
velt_jsonc_to_jsonb(json_object *obj)
{
	size_t		len;
	const char *text = velt_jsonc_text(obj, &len);

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
}
