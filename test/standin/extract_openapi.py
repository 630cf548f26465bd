#!/usr/bin/python3
"""Extract the request-body schemas of Velt's OpenAPI spec into openapi_requests.json.

The stand-in (velt_standin.py) validates every request body against Velt's published OpenAPI
spec.  The spec itself lives outside this repository, so the part the stand-in needs is vendored
as an extract: for every path with a POST requestBody "application/json" schema, that schema,
plus the components/schemas entries it references (transitively; "$ref" strings are kept as they
are and resolve against the extract's root, which has "components").  Only validation facts are
kept (types, properties, required, enum, format, bounds, combinators, $ref, ...); all prose
(description, summary, title, example(s), externalDocs, x-* extensions) and every other keyword
that does not take part in validation is dropped.  The output is deterministic (indent 1,
trailing newline), so regenerating from the same spec changes nothing: the top level, the paths
and the component names are sorted, while inside a schema the keywords and properties keep the
spec's order.  That order is part of the contract: when a body has several errors at the same
depth, jsonschema's best_match (the message the stand-in answers) picks the first one met, so
sorting would change some error messages (e.g. "1 is not one of [...]" instead of "1 is not of
type 'string'" for a bad accessRole).

Usage (from the repository root; Debian's /usr/bin/python3 with python3-yaml):
    /usr/bin/python3 test/standin/extract_openapi.py [path/to/openapi.yaml]
The default spec is ../../../shared/velt-api/openapi.yaml relative to this script; the output
is always openapi_requests.json beside it.
"""

import hashlib
import json
import os
import sys

import yaml

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SPEC = os.path.normpath(
    os.path.join(SCRIPT_DIR, "..", "..", "..", "shared", "velt-api", "openapi.yaml"))
OUTPUT = os.path.join(SCRIPT_DIR, "openapi_requests.json")
REGENERATE = "/usr/bin/python3 test/standin/extract_openapi.py [path/to/openapi.yaml]"
COMPONENT_PREFIX = "#/components/schemas/"

# Keywords whose value is copied verbatim (a plain value, not a schema): the JSON Schema
# validation vocabulary (drafts 4 to 2020-12), format, the content vocabulary, the core
# identifiers that take part in "$ref" resolution, and OpenAPI 3.0's "nullable".
VALUE_KEYWORDS = frozenset((
    "type", "enum", "const", "required", "format", "nullable",
    "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern",
    "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
    "maxProperties", "minProperties", "dependentRequired",
    "contentEncoding", "contentMediaType",
    "$ref", "$dynamicRef", "$recursiveRef", "$id", "$anchor", "$dynamicAnchor",
    "$recursiveAnchor", "$schema",
))
# Keywords whose value is one schema.
SCHEMA_KEYWORDS = frozenset((
    "additionalProperties", "unevaluatedProperties", "propertyNames", "items",
    "additionalItems", "unevaluatedItems", "contains", "not", "if", "then", "else",
    "contentSchema",
))
# Keywords whose value is a list of schemas.
SCHEMA_LIST_KEYWORDS = frozenset(("allOf", "anyOf", "oneOf", "prefixItems"))
# Keywords whose value maps names (property names, patterns, definition names) to schemas.
SCHEMA_MAP_KEYWORDS = frozenset((
    "properties", "patternProperties", "dependentSchemas", "$defs", "definitions",
))
# Keywords dropped without comment: prose and annotations that never change a validation result.
KNOWN_DROPPED = frozenset((
    "description", "summary", "title", "example", "examples", "externalDocs", "$comment",
    "default", "deprecated", "readOnly", "writeOnly", "xml", "discriminator",
))


class ExtractError(Exception):
    pass


def strip_schema(schema, where, unknown):
    """A copy of schema with only validation keywords; unknown keywords are noted in unknown."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        raise ExtractError("%s: a schema must be an object or a boolean" % where)
    result = {}
    for key, value in schema.items():
        here = "%s/%s" % (where, key)
        if key in VALUE_KEYWORDS:
            result[key] = value
        elif key in SCHEMA_KEYWORDS:
            if isinstance(value, list):   # "items" as a tuple (drafts 4 to 2019-09)
                result[key] = [strip_schema(item, "%s/%d" % (here, index), unknown)
                               for index, item in enumerate(value)]
            else:
                result[key] = strip_schema(value, here, unknown)
        elif key in SCHEMA_LIST_KEYWORDS:
            result[key] = [strip_schema(item, "%s/%d" % (here, index), unknown)
                           for index, item in enumerate(value)]
        elif key in SCHEMA_MAP_KEYWORDS:
            result[key] = {name: strip_schema(item, "%s/%s" % (here, name), unknown)
                           for name, item in value.items()}
        elif key == "dependencies":       # draft 7: a schema or a list of property names
            result[key] = {name: item if isinstance(item, list)
                           else strip_schema(item, "%s/%s" % (here, name), unknown)
                           for name, item in value.items()}
        elif key not in KNOWN_DROPPED and not key.startswith("x-"):
            unknown.add(key)
    return result


def references(schema):
    """Every "$ref" string anywhere inside schema (a stripped schema: only keywords remain)."""
    found = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            elif key not in ("enum", "const", "required", "dependentRequired"):
                found.extend(references(value))
    elif isinstance(schema, list):
        for item in schema:
            found.extend(references(item))
    return found


def component_name(ref):
    """The components/schemas name a "$ref" points at; only such references are supported."""
    if not ref.startswith(COMPONENT_PREFIX) or "/" in ref[len(COMPONENT_PREFIX):]:
        raise ExtractError("unsupported $ref %r (only %sNAME)" % (ref, COMPONENT_PREFIX))
    return ref[len(COMPONENT_PREFIX):].replace("~1", "/").replace("~0", "~")


def extract(spec, spec_bytes):
    """The extract (a JSON-ready dict) of the parsed spec; raises ExtractError."""
    unknown = set()
    requests = {}
    for path, operations in sorted((spec.get("paths") or {}).items()):
        try:
            schema = (operations["post"]["requestBody"]["content"]["application/json"]
                      ["schema"])
        except (KeyError, TypeError):
            continue
        requests[path] = strip_schema(schema, "paths/%s/post" % path, unknown)
    if not requests:
        raise ExtractError("the spec has no POST requestBody application/json schema")
    available = ((spec.get("components") or {}).get("schemas")) or {}
    schemas = {}
    pending = [ref for schema in requests.values() for ref in references(schema)]
    while pending:
        name = component_name(pending.pop())
        if name in schemas:
            continue
        if name not in available:
            raise ExtractError("$ref to missing components/schemas/%s" % name)
        schemas[name] = strip_schema(available[name], "components/schemas/" + name, unknown)
        pending.extend(references(schemas[name]))
    if unknown:
        print("extract_openapi: note: dropped keywords that are not validation keywords: %s"
              % ", ".join(sorted(unknown)), file=sys.stderr)
    info = spec.get("info") or {}
    # Keys in sorted order here; json.dumps must not sort (see the banner).
    return {
        "_source": {
            "note": "Generated by extract_openapi.py from Velt's OpenAPI spec; do not edit.",
            "openapi": spec.get("openapi"),
            "regenerate": REGENERATE,
            "sha256": hashlib.sha256(spec_bytes).hexdigest(),
            "title": info.get("title"),
            "version": info.get("version"),
        },
        "components": {"schemas": {name: schemas[name] for name in sorted(schemas)}},
        "requests": requests,
    }


def main(argv):
    """Read the spec named in argv (or the default), write OUTPUT; the exit status."""
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("usage: %s" % REGENERATE, file=sys.stderr)
        return 2
    spec_path = argv[0] if argv else DEFAULT_SPEC
    try:
        with open(spec_path, "rb") as stream:
            spec_bytes = stream.read()
        spec = yaml.load(spec_bytes, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if not isinstance(spec, dict):
            raise ExtractError("not an OpenAPI document")
        result = extract(spec, spec_bytes)
    except (OSError, yaml.YAMLError, ExtractError) as error:
        print("extract_openapi: %s: %s" % (spec_path, error), file=sys.stderr)
        return 1
    text = json.dumps(result, indent=1, ensure_ascii=False) + "\n"
    temporary = "%s.tmp.%d" % (OUTPUT, os.getpid())
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, OUTPUT)
    print("extract_openapi: %d request schemas, %d component schemas -> %s"
          % (len(result["requests"]), len(result["components"]["schemas"]),
             os.path.relpath(OUTPUT)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
