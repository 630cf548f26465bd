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
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "envelope.h"
#include "jsonc_pg.h"

/* A json-c object handed to a memory context (velt_jsonc_owned). */
typedef struct OwnedJson
{
	MemoryContextCallback callback;
	json_object *obj;
} OwnedJson;

/* Memory context reset callback: drops the owned json-c object. */
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

/* Raises the ERROR for json-c failing to allocate. */
static void
raise_out_of_memory(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory converting JSON")));
}

/*
 * A new json-c value for a jsonb value: a scalar, or an empty array or
 * object for a container (filled by the caller).  json-c represents JSON
 * null as a NULL pointer, so NULL is a valid result here and allocation
 * failures are raised instead of returned.
 */
static json_object *
new_jsonc_for(const JsonbValue *v)
{
	json_object *obj;

	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvBinary:
			obj = JsonContainerIsObject(v->val.binary.data) ? json_object_new_object() :
				json_object_new_array_ext(JsonContainerSize(v->val.binary.data));
			break;
		case jbvBool:
			obj = json_object_new_boolean(v->val.boolean);
			break;
		case jbvString:
			obj = json_object_new_string_len(v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			{
				char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out,
																		NumericGetDatum(v->val.numeric)));
				char	   *end;
				long long	integer;

				/* integers that fit stay integers; anything else keeps its exact text */
				errno = 0;
				integer = strtoll(text, &end, 10);
				if (*end == '\0' && errno == 0)
					obj = json_object_new_int64(integer);
				else
					obj = json_object_new_double_s(strtod(text, NULL), text);
				pfree(text);
			}
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
			return NULL;		/* keep the compiler quiet */
	}
	if (obj == NULL)
		raise_out_of_memory();
	return obj;
}

/* What a conversion from jsonb carries down its levels. */
typedef struct JsonbToJsonc
{
	StringInfoData key;			/* the current object key, NUL-terminated */
	const char *what;			/* names the value in the depth error; NULL
								 * when the depth was checked before */
} JsonbToJsonc;

/*
 * Fills the empty json-c array or object into, at nesting level depth,
 * with the members of container c.  Each child is attached before it is
 * filled, so the caller's owned root reaches everything built so far if
 * an error interrupts.
 */
static void
fill_from_container(JsonbToJsonc *conv, json_object *into, JsonbContainer *c, int depth)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbIteratorToken tok;
	JsonbValue	v;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		json_object *child;

		if (tok == WJB_KEY)
		{
			resetStringInfo(&conv->key);
			appendBinaryStringInfo(&conv->key, v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE && tok != WJB_ELEM)
			continue;
		if (v.type == jbvBinary && conv->what && depth + 1 > VELT_JSON_MAX_DEPTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s cannot be sent to Velt: it is nested deeper than %d levels",
							conv->what, VELT_JSON_MAX_DEPTH)));
		child = new_jsonc_for(&v);
		/* jsonb keys are unique: json-c need not look for an existing one */
		if (tok == WJB_VALUE ?
			json_object_object_add_ex(into, conv->key.data, child,
									  JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0 :
			json_object_array_add(into, child) != 0)
		{
			json_object_put(child);
			raise_out_of_memory();
		}
		if (v.type == jbvBinary)
		{
			check_stack_depth();
			fill_from_container(conv, child, v.val.binary.data, depth + 1);
		}
	}
}

/*
 * A json-c copy of container c, owned by CurrentMemoryContext; built
 * directly from the binary form (no text round trip).
 */
static json_object *
container_to_jsonc(JsonbContainer *c, const char *what)
{
	json_object *root;
	JsonbToJsonc conv;

	if (JsonContainerIsScalar(c))
	{
		JsonbValue	v;

		if (!JsonbExtractScalar(c, &v))
			elog(ERROR, "malformed scalar jsonb");
		/* NULL (JSON null) needs no owner */
		return velt_jsonc_owned(new_jsonc_for(&v));
	}
	root = JsonContainerIsObject(c) ? json_object_new_object() :
		json_object_new_array_ext(JsonContainerSize(c));
	if (root == NULL)
		raise_out_of_memory();
	velt_jsonc_owned(root);
	initStringInfo(&conv.key);
	conv.what = what;
	fill_from_container(&conv, root, c, 1);
	pfree(conv.key.data);
	return root;
}

int
velt_jsonb_depth(JsonbContainer *c)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	int			deepest = 0;

	if (JsonContainerIsScalar(c))
		return 0;
	it = JsonbIteratorInit(c);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if ((tok == WJB_VALUE || tok == WJB_ELEM) && v.type == jbvBinary)
		{
			int			child;

			check_stack_depth();
			child = velt_jsonb_depth(v.val.binary.data);
			deepest = Max(deepest, child);
		}
	}
	return deepest + 1;
}

json_object *
velt_jsonb_to_jsonc(Jsonb *jb, const char *what)
{
	return container_to_jsonc(&jb->root, what);
}

void
velt_jsonb_element_append(json_object *array, Jsonb *jb, int index)
{
	JsonbValue *v = getIthJsonbValueFromContainer(&jb->root, (uint32) index);
	json_object *element;

	if (v == NULL)
		elog(ERROR, "jsonb array has no element %d", index);
	element = new_jsonc_for(v);
	if (json_object_array_add(array, element) != 0)
	{
		json_object_put(element);
		raise_out_of_memory();
	}
	/* attached first, so the array's owner releases it if filling fails */
	if (v->type == jbvBinary)
	{
		JsonbToJsonc conv;

		initStringInfo(&conv.key);
		conv.what = NULL;
		fill_from_container(&conv, element, v->val.binary.data, 1);
		pfree(conv.key.data);
	}
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

/*
 * The most digits PostgreSQL's numeric holds before and after the decimal
 * point (the same on every supported version); jsonb stores numbers as
 * numeric, so a JSON number beyond them cannot be a jsonb number.
 */
#define VELT_NUMERIC_MAX_INTEGER_DIGITS 131072
#define VELT_NUMERIC_MAX_FRACTION_DIGITS 16383

/*
 * True if JSON number text (as Velt wrote it, valid JSON) fits numeric:
 * its value has at most VELT_NUMERIC_MAX_INTEGER_DIGITS digits before the
 * decimal point and VELT_NUMERIC_MAX_FRACTION_DIGITS after it.
 */
static bool
number_fits_numeric(const char *text)
{
	const char *p = text + (*text == '-');
	long		int_digits = (long) strspn(p, "0123456789");
	long		int_zeros = (long) strspn(p, "0");
	long		frac_digits = 0;
	long		frac_zeros = 0;
	long		exponent = 0;
	long		weight;
	const char *e;

	if (p[int_digits] == '.')
	{
		frac_digits = (long) strspn(p + int_digits + 1, "0123456789");
		frac_zeros = (long) strspn(p + int_digits + 1, "0");
	}
	if (int_zeros == int_digits && frac_zeros == frac_digits)
		return true;			/* zero, however written */
	e = strpbrk(p, "eE");
	if (e != NULL)
	{
		bool		negative = (e[1] == '-');

		for (e += (e[1] == '-' || e[1] == '+') ? 2 : 1; *e >= '0' && *e <= '9'; e++)
		{
			exponent = exponent * 10 + (*e - '0');
			if (exponent > 10L * VELT_NUMERIC_MAX_INTEGER_DIGITS)
				break;			/* far out of range either way */
		}
		if (negative)
			exponent = -exponent;
	}
	/* digits of the value before the point: from its first nonzero digit */
	weight = (int_digits > int_zeros ? int_digits - int_zeros : -frac_zeros) + exponent;
	return weight <= VELT_NUMERIC_MAX_INTEGER_DIGITS &&
		frac_digits - exponent <= VELT_NUMERIC_MAX_FRACTION_DIGITS;
}

/*
 * A json-c number as a jsonb value: numeric, or its text as a string when
 * it lies beyond numeric's range.
 */
static void
number_value(json_object *obj, JsonbValue *v)
{
	const char *text;

	/* json-c holds integers up to 2^64 - 1 (larger ones saturate there) */
	if (json_object_is_type(obj, json_type_int) &&
		json_object_get_int64(obj) < PG_INT64_MAX)
	{
		v->type = jbvNumeric;
		v->val.numeric = int64_to_numeric(json_object_get_int64(obj));
		return;
	}
	/* the number's own text: json-c keeps what Velt wrote */
	text = json_object_to_json_string(obj);
	if (!number_fits_numeric(text))
	{
		/* beyond numeric: its text, so the answer still reads */
		v->type = jbvString;
		v->val.string.len = strlen(text);
		v->val.string.val = (char *) text;
		return;
	}
	v->type = jbvNumeric;
	v->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
														 CStringGetDatum(text),
														 ObjectIdGetDatum(InvalidOid),
														 Int32GetDatum(-1)));
}

/*
 * Pushes obj onto the jsonb being built, as a value of kind tok (WJB_VALUE
 * or WJB_ELEM); *last is what the last push returned, which for the
 * outermost container is the finished value.  Returns false if a string
 * holds a NUL character, which jsonb cannot store.
 */
static bool
push_jsonc(JsonbParseState **state, json_object *obj, JsonbIteratorToken tok,
		   JsonbValue **last)
{
	JsonbValue	v;

	switch (json_object_get_type(obj))
	{
		case json_type_null:
			v.type = jbvNull;
			break;
		case json_type_boolean:
			v.type = jbvBool;
			v.val.boolean = json_object_get_boolean(obj);
			break;
		case json_type_int:
		case json_type_double:
			number_value(obj, &v);
			break;
		case json_type_string:
			v.type = jbvString;
			v.val.string.len = json_object_get_string_len(obj);
			v.val.string.val = (char *) json_object_get_string(obj);
			if (memchr(v.val.string.val, '\0', v.val.string.len) != NULL)
				return false;
			break;
		case json_type_object:
			check_stack_depth();
			pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			{
				json_object_object_foreach(obj, key, value)
				{
					JsonbValue	k;

					k.type = jbvString;
					k.val.string.val = key;
					k.val.string.len = strlen(key);
					pushJsonbValue(state, WJB_KEY, &k);
					if (!push_jsonc(state, value, WJB_VALUE, last))
						return false;
				}
			}
			*last = pushJsonbValue(state, WJB_END_OBJECT, NULL);
			return true;
		case json_type_array:
			{
				size_t		n = json_object_array_length(obj);
				size_t		i;

				check_stack_depth();
				pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
				for (i = 0; i < n; i++)
					if (!push_jsonc(state, json_object_array_get_idx(obj, i), WJB_ELEM, last))
						return false;
				*last = pushJsonbValue(state, WJB_END_ARRAY, NULL);
				return true;
			}
	}
	*last = pushJsonbValue(state, tok, &v);
	return true;
}

bool
velt_jsonc_to_jsonb_checked(json_object *obj, Datum *result)
{
	JsonbParseState *state = NULL;
	JsonbValue *last = NULL;
	json_type	type = json_object_get_type(obj);

	if (type == json_type_object || type == json_type_array)
	{
		if (!push_jsonc(&state, obj, WJB_ELEM, &last))
			return false;
	}
	else
	{
		/* jsonb stores a scalar as a one-element "raw scalar" array */
		JsonbValue	array;

		array.type = jbvArray;
		array.val.array.rawScalar = true;
		array.val.array.nElems = 1;
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, &array);
		if (!push_jsonc(&state, obj, WJB_ELEM, &last))
			return false;
		last = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	*result = JsonbPGetDatum(JsonbValueToJsonb(last));
	return true;
}

Datum
velt_jsonc_to_jsonb(json_object *obj)
{
	Datum		result;

	if (!velt_jsonc_to_jsonb_checked(obj, &result))
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("JSON from Velt contains a NUL character (\\u0000), which jsonb cannot store")));
	return result;
}
