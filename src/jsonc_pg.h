/*-------------------------------------------------------------------------
 *
 * jsonc_pg.h
 *		json-c objects inside PostgreSQL: ownership and jsonb conversion.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_JSONC_PG_H
#define VELT_JSONC_PG_H

#include "postgres.h"

#include "json_c.h"

#include "utils/jsonb.h"

/*
 * Hands a json-c object to CurrentMemoryContext: it is released (one
 * json_object_put) when that context is reset or deleted, including by an
 * ERROR's cleanup.  Returns obj.  Every json-c object velt creates goes
 * through this, so none outlives an ERROR.
 */
extern json_object *velt_jsonc_owned(json_object *obj);

/*
 * jsonb to json-c (owned by CurrentMemoryContext), converted from the
 * binary form.  Nesting deeper than VELT_JSON_MAX_DEPTH levels is refused
 * (22023); what names the value in that message.
 */
extern json_object *velt_jsonb_to_jsonc(Jsonb *jb, const char *what);

/*
 * Appends element index of jsonb array jb to json-c array, converted; no
 * depth check (validation did that).
 */
extern void velt_jsonb_element_append(json_object *array, Jsonb *jb, int index);

/* Levels of nesting of a container (a scalar is 0, [] or {} is 1). */
extern int	velt_jsonb_depth(JsonbContainer *c);

/*
 * json-c to a jsonb Datum in CurrentMemoryContext, built directly (no text
 * round trip).  The _checked form returns false if a string holds a NUL
 * character (jsonb cannot store one); the other raises 22P05 for it.
 */
extern bool velt_jsonc_to_jsonb_checked(json_object *obj, Datum *result);
extern Datum velt_jsonc_to_jsonb(json_object *obj);

/* The compact JSON text of obj; owned by obj. */
extern const char *velt_jsonc_text(json_object *obj, size_t *len);

#endif							/* VELT_JSONC_PG_H */
