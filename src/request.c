/*-------------------------------------------------------------------------
 *
 * request.c
 *		Validating SQL arguments and building the request's data object.
 *
 * Everything a caller can get wrong is caught here, before any byte is
 * sent, with the argument name and the offending index in the message.
 * JSON array elements are numbered from 0 (as in users->0), SQL array
 * elements by their subscript (normally from 1).
 *
 * IDs (org, group_id, document, folder, and every item or filter ID) must
 * not contain control characters; see velt_reject_control_characters.  Velt
 * documents no length limit for them, so none is imposed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "json_c.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "envelope.h"
#include "jsonc_pg.h"
#include "request.h"

/*
 * How much of an ID a message quotes.  IDs have no length limit, and a
 * message that repeats a megabyte-long ID helps nobody and floods the log.
 */
#define ID_QUOTE_CHARS 64

/* The ID as a message quotes it: at most ID_QUOTE_CHARS characters. */
static const char *
id_for_message(const char *id)
{
	int			len = strlen(id);
	int			clip;

	if (pg_mbstrlen_with_len(id, len) <= ID_QUOTE_CHARS)
		return id;
	clip = pg_mbcharcliplen(id, len, ID_QUOTE_CHARS);
	return psprintf("%.*s...", clip, id);
}

/*
 * Refuses an ID that contains a control character (U+0001 to U+001F, or
 * U+007F; U+0000 cannot reach us, as neither text nor jsonb can hold it).
 *
 * Velt documents no character rules for these IDs, so velt refuses only
 * what is clearly a mistake: a tab or line break pasted with a value, or a
 * stray byte from a binary source.  Velt would store such an ID as given,
 * and the caller would then have a user or document that no one can type,
 * that prints wrongly in the console and in logs, and that a later call
 * with the clean ID does not find.  Checking here names the argument and
 * index before any request is sent or any operation queued.  Characters
 * above U+007F (C1 controls included) are left alone: they are legitimate
 * in names, and refusing them would be guessing at Velt's rules.
 *
 * index points to the element's index as shown to the user, or is NULL for
 * an argument that is not an array; field is the ID field of a JSON item,
 * or NULL.
 */
int
velt_control_character_at(const char *value, int len)
{
	int			i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) value[i];

		if (c < 0x20 || c == 0x7F)
			return i;
	}
	return -1;
}

void
velt_reject_control_characters(const char *value, int len, const char *arg,
							   const int *index, const char *field)
{
	int			i = velt_control_character_at(value, len);

	if (i >= 0)
	{
		unsigned char c = (unsigned char) value[i];
		int			position;

		/* as a character count, which is what the caller sees */
		position = pg_mbstrlen_with_len(value, i) + 1;
		if (index == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s contains a control character", arg),
					 errdetail("Character %d is U+%04X.", position, c),
					 errhint("IDs must not contain control characters (U+0000 to U+001F, U+007F) such as tabs and line breaks.")));
		else if (field == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] contains a control character", arg, *index),
					 errdetail("Character %d is U+%04X.", position, c),
					 errhint("IDs must not contain control characters (U+0000 to U+001F, U+007F) such as tabs and line breaks.")));
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] has a control character in \"%s\"", arg, *index, field),
					 errdetail("Character %d is U+%04X.", position, c),
					 errhint("IDs must not contain control characters (U+0000 to U+001F, U+007F) such as tabs and line breaks.")));
	}
}

typedef struct IdPosition
{
	const char *id;
	int			position;		/* as shown to the user */
} IdPosition;

/* qsort comparator: IdPositions by ID, then position. */
static int
compare_id_positions(const void *a, const void *b)
{
	const IdPosition *x = (const IdPosition *) a;
	const IdPosition *y = (const IdPosition *) b;
	int			cmp = strcmp(x->id, y->id);

	if (cmp != 0)
		return cmp;
	return (x->position > y->position) - (x->position < y->position);
}

/* Rejects an ID that appears twice, naming both positions. */
static void
reject_duplicate_ids(const VeltCall *call, const int *positions)
{
	IdPosition *sorted;
	const char *arg = call->endpoint->items_arg;
	int			i;

	if (call->nitems < 2)
		return;
	sorted = palloc(sizeof(IdPosition) * call->nitems);
	for (i = 0; i < call->nitems; i++)
	{
		sorted[i].id = call->ids[i];
		sorted[i].position = positions[i];
	}
	qsort(sorted, call->nitems, sizeof(IdPosition), compare_id_positions);
	for (i = 1; i < call->nitems; i++)
	{
		if (strcmp(sorted[i - 1].id, sorted[i].id) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] repeats the ID \"%s\" of %s[%d]",
							arg, sorted[i].position, id_for_message(sorted[i].id),
							arg, sorted[i - 1].position),
					 errdetail("Velt answers once per ID, so each ID may appear only once per call.")));
	}
	pfree(sorted);
}

/*
 * A required text argument.  is_id: it names something in Velt, so control
 * characters are refused too (access_type is a keyword Velt checks itself).
 */
static const char *
required_text(FunctionCallInfo fcinfo, int argno, const char *name, bool is_id)
{
	char	   *value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	value = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name)));
	if (is_id)
		velt_reject_control_characters(value, strlen(value), name, NULL, NULL);
	return value;
}

/* An optional ID argument (document, folder): NULL if not given. */
static const char *
optional_text(FunctionCallInfo fcinfo, int argno, const char *name)
{
	char	   *value;

	if (PG_ARGISNULL(argno))
		return NULL;
	value = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name),
				 errhint("Pass NULL to leave it out.")));
	velt_reject_control_characters(value, strlen(value), name, NULL, NULL);
	return value;
}

/*
 * A jsonb array of objects, each with a non-empty string ID field.  The
 * items stay jsonb (checked in place, converted to json-c a request at a
 * time by velt_call_append_item).
 */
static void
take_item_objects(FunctionCallInfo fcinfo, int argno, VeltCall *call)
{
	const VeltEndpoint *ep = call->endpoint;
	const char *arg = ep->items_arg;
	size_t		id_field_len = strlen(ep->id_field);
	Jsonb	   *jb;
	int		   *positions;
	int			i;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", arg)));
	jb = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON array of objects", arg)));
	if (JB_ROOT_COUNT(jb) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", arg)));

	call->items_jsonb = jb;
	call->nitems = (int) JB_ROOT_COUNT(jb);
	call->ids = palloc(sizeof(char *) * call->nitems);
	positions = palloc(sizeof(int) * call->nitems);

	for (i = 0; i < call->nitems; i++)
	{
		JsonbValue *item = getIthJsonbValueFromContainer(&jb->root, (uint32) i);
		JsonbValue	id_value;
		JsonbValue *id;

		if (item->type != jbvBinary || !JsonContainerIsObject(item->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] must be a JSON object", arg, i)));
		id = getKeyJsonValueFromContainer(item->val.binary.data, ep->id_field,
										  id_field_len, &id_value);
		if (id == NULL || id->type != jbvString || id->val.string.len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] must have a non-empty string \"%s\"",
							arg, i, ep->id_field)));
		velt_reject_control_characters(id->val.string.val, id->val.string.len,
									   arg, &i, ep->id_field);
		/* the array is one level; its items may nest the rest */
		if (velt_jsonb_depth(item->val.binary.data) + 1 > VELT_JSON_MAX_DEPTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] cannot be sent to Velt: %s would nest deeper than %d levels",
							arg, i, arg, VELT_JSON_MAX_DEPTH)));
		call->ids[i] = pnstrdup(id->val.string.val, id->val.string.len);
		/* a call of 100,000 items would keep 100,000 of these otherwise */
		pfree(item);
		positions[i] = i;
	}
	reject_duplicate_ids(call, positions);
}

void
velt_call_append_item(const VeltCall *call, int index, json_object *slice)
{
	json_object *item;

	if (call->items_jsonb != NULL)
	{
		velt_jsonb_element_append(slice, call->items_jsonb, index);
		return;
	}
	/* json-c items, or an ID-list call, whose items are its IDs */
	if (call->items != NULL)
		item = json_object_get(json_object_array_get_idx(call->items, index));
	else
		item = json_object_new_string(call->ids[index]);
	if (item == NULL || json_object_array_add(slice, item) != 0)
	{
		json_object_put(item);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building the request")));
	}
}

/* A one-dimensional text[] of non-NULL, non-empty IDs. */
static void
take_item_ids(FunctionCallInfo fcinfo, int argno, VeltCall *call)
{
	const char *arg = call->endpoint->items_arg;
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(argno);
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	int			lower;
	int		   *positions;
	int			i;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", arg)));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &count);
	if (count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", arg)));
	lower = ARR_LBOUND(array)[0];

	call->nitems = count;
	call->ids = palloc(sizeof(char *) * count);
	positions = palloc(sizeof(int) * count);
	for (i = 0; i < count; i++)
	{
		char	   *id;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s[%d] is NULL", arg, lower + i)));
		id = TextDatumGetCString(elems[i]);
		if (id[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] is empty", arg, lower + i)));
		positions[i] = lower + i;
		velt_reject_control_characters(id, strlen(id), arg, &positions[i], NULL);
		call->ids[i] = id;
	}
	reject_duplicate_ids(call, positions);
}

/* True if key is set by one of the endpoint's arguments. */
static bool
key_owned_by_argument(const VeltEndpoint *ep, const char *key)
{
	int			i;

	if (ep->items_key && strcmp(key, ep->items_key) == 0)
		return true;
	if (ep->filter_key &&
		(strcmp(key, ep->filter_key) == 0 || strcmp(key, "pageToken") == 0))
		return true;
	for (i = 0; i < VELT_MAX_ARGS && ep->args[i] != VELT_ARG_END; i++)
	{
		const char *owned = velt_arg_data_key(ep->args[i]);

		if (owned && strcmp(owned, key) == 0)
			return true;
	}
	return false;
}

void
velt_merge_options(json_object *data, Jsonb *jb, const VeltEndpoint *ep)
{
	json_object *options;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object")));
	options = velt_jsonb_to_jsonc(jb, "options");
	{
		json_object_object_foreach(options, key, value)
		{
			if (ep ? key_owned_by_argument(ep, key) : json_object_object_get_ex(data, key, NULL))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("options must not set \"%s\"", key),
						 ep ? errdetail("%s sets \"%s\" from its own arguments.", ep->sql_name, key)
						 : errdetail("data already sets \"%s\".", key)));
			json_object_object_add(data, key, json_object_get(value));
		}
	}
}

/* Sets obj[key] to a string; out of memory is an ERROR. */
static void
add_string(json_object *obj, const char *key, const char *value)
{
	if (json_object_object_add(obj, key, json_object_new_string(value)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building the request")));
}

/* What velt_call_from_args learns from the arguments before the end. */
typedef struct ArgsSeen
{
	const char *document;		/* NULL: not given */
	const char *folder;
	bool		delete_all;
	bool		has_delete_all; /* the endpoint has a delete_all argument */
	int			ids_argno;		/* -1: no ID list argument */
	int			options_argno;	/* -1: no options argument */
} ArgsSeen;

/* Reads argument argno, of the given role, into call or seen. */
static void
take_argument(FunctionCallInfo fcinfo, int argno, VeltArgRole role,
			  VeltCall *call, ArgsSeen *seen)
{
	const char *name = velt_arg_name(role);

	switch (role)
	{
		case VELT_ARG_ORG:
		case VELT_ARG_GROUP:
			add_string(call->fixed, velt_arg_data_key(role),
					   required_text(fcinfo, argno, name, true));
			break;
		case VELT_ARG_DOCUMENT:
			seen->document = optional_text(fcinfo, argno, name);
			break;
		case VELT_ARG_FOLDER:
			seen->folder = optional_text(fcinfo, argno, name);
			break;
		case VELT_ARG_ITEM_OBJECTS:
			take_item_objects(fcinfo, argno, call);
			break;
		case VELT_ARG_ITEM_IDS:
			/* read after delete_all, which decides whether it may be NULL */
			seen->ids_argno = argno;
			break;
		case VELT_ARG_DELETE_ALL:
			seen->has_delete_all = true;
			seen->delete_all = !PG_ARGISNULL(argno) && PG_GETARG_BOOL(argno);
			break;
		case VELT_ARG_DISABLED:
			if (PG_ARGISNULL(argno))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("%s must not be NULL", name)));
			json_object_object_add(call->fixed, velt_arg_data_key(role),
								   json_object_new_boolean(PG_GETARG_BOOL(argno)));
			break;
		case VELT_ARG_ACCESS_TYPE:
			add_string(call->fixed, velt_arg_data_key(role),
					   required_text(fcinfo, argno, name, false));
			break;
		case VELT_ARG_FILTER_IDS:
			/* NULL: no filter, everything is read */
			if (!PG_ARGISNULL(argno))
				take_item_ids(fcinfo, argno, call);
			break;
		case VELT_ARG_MAX_ITEMS:
			if (!PG_ARGISNULL(argno))
			{
				call->max_items = PG_GETARG_INT32(argno);
				if (call->max_items < 1)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("max_items must be at least 1"),
							 errhint("Pass NULL to read everything.")));
			}
			break;
		case VELT_ARG_OPTIONS:
			seen->options_argno = argno;
			break;
		case VELT_ARG_END:
			break;
	}
}

/* Adds the document or folder the call is scoped to, if any (not both). */
static void
add_scope(VeltCall *call, const ArgsSeen *seen)
{
	if (seen->document && seen->folder)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("document and folder cannot both be given"),
				 errhint("Velt scopes a call to the organization, one document or one folder.")));
	if (seen->document)
		add_string(call->fixed, velt_arg_data_key(VELT_ARG_DOCUMENT), seen->document);
	if (seen->folder)
		add_string(call->fixed, velt_arg_data_key(VELT_ARG_FOLDER), seen->folder);
}

/* Reads the ID list argument, or sets deleteAll in its stead. */
static void
take_ids_or_delete_all(FunctionCallInfo fcinfo, const VeltEndpoint *ep,
					   VeltCall *call, const ArgsSeen *seen)
{
	const char *arg = ep->items_arg;
	int			argno = seen->ids_argno;

	if (seen->delete_all && !PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delete_all cannot be combined with %s", arg),
				 errhint("Pass %s => NULL to remove every member.", arg)));
	if (seen->delete_all)
		json_object_object_add(call->fixed, velt_arg_data_key(VELT_ARG_DELETE_ALL),
							   json_object_new_boolean(1));
	else if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", arg),
				 seen->has_delete_all ? errhint("Pass delete_all => true to remove every member.") : 0));
	else
		take_item_ids(fcinfo, argno, call);
}

void
velt_call_from_args(FunctionCallInfo fcinfo, const VeltEndpoint *ep,
					VeltCall *call)
{
	ArgsSeen	seen;
	int			argno;

	memset(call, 0, sizeof(*call));
	memset(&seen, 0, sizeof(seen));
	seen.ids_argno = -1;
	seen.options_argno = -1;
	call->endpoint = ep;
	call->fixed = velt_jsonc_owned(json_object_new_object());
	if (call->fixed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building the request")));

	for (argno = 0; argno < VELT_MAX_ARGS && ep->args[argno] != VELT_ARG_END; argno++)
		take_argument(fcinfo, argno, ep->args[argno], call, &seen);

	add_scope(call, &seen);
	if (seen.ids_argno >= 0)
		take_ids_or_delete_all(fcinfo, ep, call, &seen);
	if (seen.options_argno >= 0 && !PG_ARGISNULL(seen.options_argno))
		velt_merge_options(call->fixed, PG_GETARG_JSONB_P(seen.options_argno), ep);
}

/* ---------------------------------------------------------------------
 * velt_request
 * ---------------------------------------------------------------------
 */

/* Longest path velt_request accepts, and the most a message quotes of one. */
#define VELT_MAX_API_PATH 200

/*
 * A path for velt_request: relative, made of letters, digits and "/_.-",
 * without empty or ".." segments.
 */
static bool
valid_api_path(const char *path)
{
	const char *p;

	if (path[0] == '\0' || path[0] == '/' || strstr(path, "//") || strstr(path, ".."))
		return false;
	for (p = path; *p; p++)
	{
		if (!isalnum((unsigned char) *p) && *p != '/' && *p != '_' && *p != '-' && *p != '.')
			return false;
	}
	return true;
}

const char *
velt_request_from_args(FunctionCallInfo fcinfo, json_object **data)
{
	char	   *path;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("path must not be NULL")));
	path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	/* the message quotes no more than the longest valid path */
	if (strlen(path) > VELT_MAX_API_PATH || !valid_api_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path \"%.*s%s\" is not an API path",
						pg_mbcliplen(path, strlen(path), VELT_MAX_API_PATH),
						path, strlen(path) > VELT_MAX_API_PATH ? "..." : ""),
				 errhint("Give the path after the version, such as 'users/get', or with it, such as 'v1/users/get'.")));
	if (PG_ARGISNULL(1))
		*data = velt_jsonc_owned(json_object_new_object());
	else
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(1);

		if (!JB_ROOT_IS_OBJECT(jb))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("data must be a JSON object")));
		*data = velt_jsonb_to_jsonc(jb, "data");
	}
	if (!PG_ARGISNULL(2))
		velt_merge_options(*data, PG_GETARG_JSONB_P(2), NULL);
	return path;
}
