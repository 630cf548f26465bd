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
 * jsonb to json-c (owned by CurrentMemoryContext).  what names the value in
 * error messages.
 */
extern json_object *velt_jsonb_to_jsonc(Jsonb *jb, const char *what);

/* json-c to a jsonb Datum in CurrentMemoryContext. */
extern Datum velt_jsonc_to_jsonb(json_object *obj);

/* The compact JSON text of obj; owned by obj. */
extern const char *velt_jsonc_text(json_object *obj, size_t *len);

#endif							/* VELT_JSONC_PG_H */
