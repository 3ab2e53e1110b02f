"""OpenAI's ``response_format`` in local-engine terms: the JSON schema a local answer must match.

Daemon side only (no llama.cpp here): it checks the field's shape and hands the worker the schema as text,
which the worker turns into a sampling grammar (:mod:`edgeroute.engine.grammar`). ``json_object`` becomes
the schema of any object, so both modes take one path.
"""

from __future__ import annotations

import json
from typing import Any

from edgeroute import errors

JSON_OBJECT_SCHEMA = '{"type": "object"}'
"""What ``{"type": "json_object"}`` asks for: a JSON object, any keys."""


def _invalid(message: str) -> errors.InvalidRequest:
    return errors.InvalidRequest(f"response_format: {message}", param="response_format")


def json_schema_text(response_format: Any) -> str | None:
    """The schema a ``response_format`` asks for, as JSON text (key order kept: it is the order the model
    writes the properties in), or None for plain text. Raises :class:`errors.InvalidRequest` on a shape
    OpenAI would reject too."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise _invalid("expected an object such as {'type': 'json_schema', 'json_schema': {...}}")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return JSON_OBJECT_SCHEMA
    if kind != "json_schema":
        raise _invalid(f"type {kind!r} is not supported (text, json_object or json_schema)")
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        raise _invalid("json_schema must be an object with a 'schema'")
    schema = spec.get("schema")
    if schema is None:
        return JSON_OBJECT_SCHEMA
    if not isinstance(schema, dict):
        raise _invalid("json_schema.schema must be a JSON schema object")
    return json.dumps(schema, ensure_ascii=False)
