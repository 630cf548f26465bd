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
#include <string.h>

#include "envelope.h"

/*
 * The reasons below are written into fixed-size buffers with snprintf; a
 * reason cut short is still a reason, so its result is not checked.
 */

json_object *
velt_json_parse(const char *text, size_t len, char *reason, size_t reason_size)
{
	json_tokener *tok;
	json_object *obj;
	enum json_tokener_error err;
	size_t		end;

	tok = json_tokener_new_ex(VELT_JSON_MAX_DEPTH);
	if (tok == NULL)
	{
		(void) snprintf(reason, reason_size, "out of memory");
		return NULL;
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
	else
	{
		/* only whitespace may follow the value */
		for (; end < len; end++)
		{
			char		c = text[end];

			if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			{
				(void) snprintf(reason, reason_size, "unexpected data after the JSON value at byte %zu", end);
				json_object_put(obj);
				obj = NULL;
				break;
			}
		}
	}
	json_tokener_free(tok);
	return obj;
}

static const char *
string_member(json_object *obj, const char *key)
{
	json_object *member;

	if (json_object_object_get_ex(obj, key, &member) &&
		json_object_is_type(member, json_type_string))
		return json_object_get_string(member);
	return NULL;
}

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
