"""Structured output between the two APIs: a JSON schema the answer must match.

Internally the request carries it as OpenAI's ``response_format`` in ``ChatRequest.extra`` (the local
engine turns that into a sampling grammar). Anthropic clients ask in ``output_config.format`` (or the
beta's ``output_format``): ``{"type": "json_schema", "schema": {...}}``. Without this translation, a
client that asked one API for JSON would get prose from a model behind the other.
"""

from __future__ import annotations

from typing import Any

from edgeroute import errors

SCHEMA_NAME = "output"  # OpenAI requires a name; Anthropic's format has none


def _invalid(field: str, message: str) -> errors.InvalidRequest:
    return errors.InvalidRequest(f"{field}: {message}", param=field)


def response_format_of(output_config: Any, output_format: Any) -> dict[str, Any] | None:
    """The internal ``response_format`` an Anthropic client's ``output_config.format`` (or the beta's
    ``output_format``) asks for; None when it asks for none. Raises :class:`errors.InvalidRequest` on a
    shape Anthropic refuses too, naming the field."""
    field, spec = "output_format", output_format
    if isinstance(output_config, dict) and output_config.get("format") is not None:
        field, spec = "output_config.format", output_config["format"]
    if spec is None:
        return None
    if not isinstance(spec, dict) or spec.get("type") != "json_schema":
        raise _invalid(field, "expected {'type': 'json_schema', 'schema': {...}}")
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        raise _invalid(field, "'schema' must be a JSON schema object")
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": strict_compatible(schema)},
    }


def anthropic_format_of(response_format: Any) -> dict[str, Any] | None:
    """Anthropic's ``output_config.format`` for an OpenAI ``response_format`` with a schema; None for
    text and ``json_object``, which Anthropic has no constraint for."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        return None
    return {"type": "json_schema", "schema": schema}


def strict_compatible(schema: Any) -> bool:
    """Whether OpenAI's strict mode takes ``schema``: every object closed (``additionalProperties:
    false``) with every property required. Anthropic allows optional properties; sending such a schema
    as strict would make OpenAI refuse the request, so it goes as a non-strict schema instead."""
    if isinstance(schema, list):
        return all(strict_compatible(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required") or ()) != set(properties):
            return False
    return all(strict_compatible(value) for value in schema.values() if isinstance(value, dict | list))
