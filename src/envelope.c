/*-------------------------------------------------------------------------
 *
 * envelope.c
 *		Reading Velt's answers with json-c (no PostgreSQL dependency).
 *
 * Velt wraps every answer: {"result": {"status", "message", "data"}} on
 * success and {"error": {"message", "status", "details"?}} on failure.
 * Batch writes answer with "data" as a map from the caller's IDs to
 * {"success", "id"?, "message", ...}.  Anything else is reported as invalid
 * with a reason a person can act on; nothing here trusts the answer's shape.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

/*
 * The reasons below are written into fixed-size buffers with snprintf; a
 * reason cut short is still a reason, so its result is not checked.
 */

/*
 * Integers beyond 64 bits.
 *
 * JSON puts no limit on a number's size, and Velt's answers are valid JSON
 * whatever numbers they hold.  json-c before 0.17 saturates an integer
 * outside [-2^63, 2^64 - 1] at that bound; 0.17 and later refuse the whole
 * text ("number expected").  So that every json-c reads every answer, and
 * reads it the same way, each such integer literal outside a string is
 * handed to json-c with "e0" after its digits: a floating-point literal of
 * the same value, which every json-c version accepts and keeps as written.
 * Once parsed, the kept text loses the "e0" again, so the number reads
 * back exactly as Velt wrote it (as its text; its C double is rounded).
 */

/* The suffix that makes an integer literal a floating-point one. */
#define WIDEN_SUFFIX "e0"
#define WIDEN_SUFFIX_LEN 2

/* True if integer literal digits[0..n) (sign apart) is outside json-c 0.17+'s range. */
static bool
integer_beyond_json_c(const char *digits, size_t n, bool negative)
{
	const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
	size_t		limit_len = strlen(limit);

	if (n > 1 && digits[0] == '0')
		return false;			/* not JSON; json-c reports it */
	if (n != limit_len)
		return n > limit_len;
	return memcmp(digits, limit, n) > 0;
}

/*
 * Returns the offset just past the string whose opening quote is at
 * text[open] (len if it does not end).  Strings are most of an answer, so
 * this jumps from quote to quote with memchr; a quote preceded by an odd
 * number of backslashes is escaped.
 */
static size_t
string_end(const char *text, size_t len, size_t open)
{
	size_t		from = open + 1;

	while (from < len)
	{
		const char *quote = memchr(text + from, '"', len - from);
		size_t		at;
		size_t		backslashes = 0;

		if (quote == NULL)
			break;
		at = (size_t) (quote - text);
		while (at - backslashes > open + 1 && text[at - backslashes - 1] == '\\')
			backslashes++;
		if (backslashes % 2 == 0)
			return at + 1;
		from = at + 1;
	}
	return len;
}

/*
 * Returns the offset just past the next integer literal at or after from
 * (which must be outside a string) that json-c cannot hold, or len if none.
 */
static size_t
next_wide_integer(const char *text, size_t len, size_t from)
{
	size_t		i = from;

	while (i < len)
	{
		char		c = text[i];

		if (c == '"')
			i = string_end(text, len, i);
		else if (c == '-' || (c >= '0' && c <= '9'))
		{
			bool		negative = (c == '-');
			size_t		digits;

			if (negative)
				i++;
			digits = i;
			while (i < len && text[i] >= '0' && text[i] <= '9')
				i++;
			if (i < len && (text[i] == '.' || text[i] == 'e' || text[i] == 'E'))
				continue;		/* a fraction or exponent: json-c holds it */
			if (integer_beyond_json_c(text + digits, i - digits, negative))
				return i;
		}
		else
			i++;
	}
	return len;
}

/*
 * A malloc'd copy of text with WIDEN_SUFFIX after every integer json-c
 * cannot hold, its length in *out_len; NULL if there is none (or, with
 * *out_len set to 0, if memory ran out).
 */
static char *
widen_integers(const char *text, size_t len, size_t *out_len)
{
	size_t		at = next_wide_integer(text, len, 0);
	size_t		from = 0;
	size_t		n = 0;
	char	   *copy;

	*out_len = len;
	if (at == len)
		return NULL;
	/* a widened integer has at least 19 digits: room for every suffix */
	copy = malloc(len + (len / 19 + 1) * WIDEN_SUFFIX_LEN + 1);
	if (copy == NULL)
	{
		*out_len = 0;
		return NULL;
	}
	while (at < len)
	{
		memcpy(copy + n, text + from, at - from);
		n += at - from;
		memcpy(copy + n, WIDEN_SUFFIX, WIDEN_SUFFIX_LEN);
		n += WIDEN_SUFFIX_LEN;
		from = at;
		at = next_wide_integer(text, len, at);
	}
	memcpy(copy + n, text + from, len - from);
	n += len - from;
	copy[n] = '\0';
	*out_len = n;
	return copy;
}

/* Gives every number widened by widen_integers its own text back. */
static bool
unwiden_integers(json_object *obj)
{
	switch (json_object_get_type(obj))
	{
		case json_type_double:
			{
				const char *text = json_object_to_json_string(obj);
				size_t		n = strlen(text);
				char	   *kept;

				if (n <= WIDEN_SUFFIX_LEN ||
					strcmp(text + n - WIDEN_SUFFIX_LEN, WIDEN_SUFFIX) != 0 ||
					strcspn(text, ".eE") != n - WIDEN_SUFFIX_LEN)
					return true;
				kept = strndup(text, n - WIDEN_SUFFIX_LEN);
				if (kept == NULL)
					return false;
				json_object_set_serializer(obj, json_object_userdata_to_json_string,
										   kept, json_object_free_userdata);
				return true;
			}
		case json_type_object:
			{
				json_object_object_foreach(obj, key, value)
				{
					(void) key;
					if (!unwiden_integers(value))
						return false;
				}
				return true;
			}
		case json_type_array:
			for (size_t i = 0; i < json_object_array_length(obj); i++)
				if (!unwiden_integers(json_object_array_get_idx(obj, i)))
					return false;
			return true;
		default:
			return true;
	}
}

/* Checks that only whitespace follows the value at text[end..len). */
static bool
only_whitespace_after(const char *text, size_t len, size_t end,
					  char *reason, size_t reason_size)
{
	for (; end < len; end++)
	{
		char		c = text[end];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
		{
			(void) snprintf(reason, reason_size, "unexpected data after the JSON value at byte %zu", end);
			return false;
		}
	}
	return true;
}

json_object *
velt_json_parse(const char *text, size_t len, char *reason, size_t reason_size)
{
	json_tokener *tok;
	json_object *obj;
	enum json_tokener_error err;
	size_t		end;
	size_t		wide_len;
	char	   *wide = widen_integers(text, len, &wide_len);

	if ((wide == NULL && wide_len != len) ||
		(tok = json_tokener_new_ex(VELT_JSON_MAX_DEPTH)) == NULL)
	{
		(void) snprintf(reason, reason_size, "out of memory");
		free(wide);
		return NULL;
	}
	if (wide != NULL)
	{
		text = wide;
		len = wide_len;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int) len);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);

	if (err == json_tokener_continue || (obj == NULL && err == json_tokener_success))
	{
		(void) snprintf(reason, reason_size, "the JSON text ends early");
		json_object_put(obj);
		obj = NULL;
	}
	else if (err != json_tokener_success)
	{
		(void) snprintf(reason, reason_size, "invalid JSON at byte %zu: %s",
						end, json_tokener_error_desc(err));
		obj = NULL;
	}
	else if (!only_whitespace_after(text, len, end, reason, reason_size))
	{
		json_object_put(obj);
		obj = NULL;
	}
	else if (wide != NULL && !unwiden_integers(obj))
	{
		(void) snprintf(reason, reason_size, "out of memory");
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	free(wide);
	return obj;
}

/* obj[key] if it is a string, else NULL. */
static const char *
string_member(json_object *obj, const char *key)
{
	json_object *member;

	if (json_object_object_get_ex(obj, key, &member) &&
		json_object_is_type(member, json_type_string))
		return json_object_get_string(member);
	return NULL;
}

/* Marks the envelope invalid for reason and returns that kind. */
static VeltEnvelopeKind
invalid(VeltEnvelope *env, const char *reason)
{
	env->kind = VELT_ENVELOPE_INVALID;
	(void) snprintf(env->invalid_reason, sizeof(env->invalid_reason), "%s", reason);
	return env->kind;
}

VeltEnvelopeKind
velt_envelope_parse(const char *body, size_t len, VeltEnvelope *env)
{
	json_object *member;

	memset(env, 0, sizeof(*env));
	if (len == 0)
		return invalid(env, "the answer is empty");

	env->root = velt_json_parse(body, len, env->invalid_reason,
								sizeof(env->invalid_reason));
	if (env->root == NULL)
	{
		env->kind = VELT_ENVELOPE_INVALID;
		return env->kind;
	}
	if (!json_object_is_type(env->root, json_type_object))
		return invalid(env, "the answer is not a JSON object");

	if (json_object_object_get_ex(env->root, "error", &member))
	{
		if (!json_object_is_type(member, json_type_object))
			return invalid(env, "\"error\" is not an object");
		env->kind = VELT_ENVELOPE_ERROR;
		env->message = string_member(member, "message");
		env->error_status = string_member(member, "status");
		if (json_object_object_get_ex(member, "details", &env->details) &&
			json_object_is_type(env->details, json_type_null))
			env->details = NULL;
		if (env->error_status == NULL)
			env->error_status = string_member(member, "code");
		return env->kind;
	}

	if (json_object_object_get_ex(env->root, "result", &member))
	{
		json_object *data;

		if (!json_object_is_type(member, json_type_object))
			return invalid(env, "\"result\" is not an object");
		env->kind = VELT_ENVELOPE_RESULT;
		env->result = member;
		env->message = string_member(member, "message");
		if (json_object_object_get_ex(member, "data", &data) &&
			!json_object_is_type(data, json_type_null))
			env->data = data;
		return env->kind;
	}

	/*
	 * GDPR delete answers unwrapped: {"status": "success", "message",
	 * "data", "statusCode": 202}.  Read it as a result.
	 */
	if (json_object_object_get_ex(env->root, "statusCode", &member) &&
		json_object_is_type(member, json_type_int) &&
		json_object_get_int(member) >= 200 && json_object_get_int(member) < 300 &&
		string_member(env->root, "status") != NULL &&
		strcmp(string_member(env->root, "status"), "success") == 0)
	{
		json_object *data;

		env->kind = VELT_ENVELOPE_RESULT;
		env->result = env->root;
		env->message = string_member(env->root, "message");
		if (json_object_object_get_ex(env->root, "data", &data) &&
			!json_object_is_type(data, json_type_null))
			env->data = data;
		return env->kind;
	}

	return invalid(env, "the answer has neither \"result\" nor \"error\"");
}

void
velt_envelope_free(VeltEnvelope *env)
{
	if (env->root)
		json_object_put(env->root);
	env->root = NULL;
	env->result = NULL;
	env->data = NULL;
	env->message = NULL;
	env->error_status = NULL;
	env->details = NULL;
}

bool
velt_item_outcome(json_object *data, const char *id, VeltItemOutcome *out,
				  char *reason, size_t reason_size)
{
	json_object *item;
	json_object *member;

	memset(out, 0, sizeof(*out));
	out->success = -1;

	if (data == NULL || !json_object_object_get_ex(data, id, &item) ||
		json_object_is_type(item, json_type_null))
		return true;

	if (!json_object_is_type(item, json_type_object))
	{
		(void) snprintf(reason, reason_size, "the result for this ID is not an object");
		return false;
	}
	out->present = true;
	out->item = item;

	if (json_object_object_get_ex(item, "success", &member) &&
		!json_object_is_type(member, json_type_null))
	{
		if (!json_object_is_type(member, json_type_boolean))
		{
			(void) snprintf(reason, reason_size, "\"success\" is not a boolean");
			return false;
		}
		out->success = json_object_get_boolean(member) ? 1 : 0;
	}

	if (json_object_object_get_ex(item, "id", &member) &&
		!json_object_is_type(member, json_type_null))
	{
		if (!json_object_is_type(member, json_type_string) &&
			!json_object_is_type(member, json_type_int) &&
			!json_object_is_type(member, json_type_double))
		{
			(void) snprintf(reason, reason_size, "\"id\" is neither a string nor a number");
			return false;
		}
		out->velt_id = json_object_get_string(member);
	}

	if (json_object_object_get_ex(item, "message", &member) &&
		!json_object_is_type(member, json_type_null))
	{
		if (!json_object_is_type(member, json_type_string))
		{
			(void) snprintf(reason, reason_size, "\"message\" is not a string");
			return false;
		}
		out->message = json_object_get_string(member);
	}
	return true;
}
