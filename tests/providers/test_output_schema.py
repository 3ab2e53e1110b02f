"""The structured-output translation between the two APIs, case by case."""

from __future__ import annotations

from typing import Any

import pytest

from edgeroute import errors
from edgeroute.providers.output_schema import anthropic_format_of, response_format_of, strict_compatible

CLOSED: dict[str, Any] = {
    "type": "object",
    "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
    "required": ["a", "b"],
    "additionalProperties": False,
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"n": {"type": "integer"}},
            "required": ["n"],
            "additionalProperties": False,
        }
    },
}


def test_a_closed_schema_with_every_property_required_is_strict() -> None:
    assert strict_compatible(CLOSED)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.pop("additionalProperties"),
        lambda s: s.update(required=["a"]),
        lambda s: s["$defs"]["Item"].update(additionalProperties=True),
        lambda s: s["$defs"]["Item"].update(required=[]),
    ],
)
def test_an_open_object_or_an_optional_property_anywhere_is_not_strict(change: Any) -> None:
    import copy

    schema = copy.deepcopy(CLOSED)
    change(schema)
    assert not strict_compatible(schema)


def test_output_config_format_wins_over_the_betas_output_format() -> None:
    config = {"effort": "high", "format": {"type": "json_schema", "schema": CLOSED}}
    made = response_format_of(config, {"type": "json_schema", "schema": {"type": "object"}})
    assert made == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": CLOSED, "strict": True},
    }


def test_no_format_asked_for_is_none() -> None:
    assert response_format_of({"effort": "low"}, None) is None
    assert response_format_of(None, None) is None


@pytest.mark.parametrize(
    ("config", "beta", "field"),
    [
        ({"format": {"type": "text"}}, None, "output_config.format"),
        ({"format": "json"}, None, "output_config.format"),
        (None, {"type": "json_schema", "schema": []}, "output_format"),
    ],
)
def test_a_malformed_format_names_its_field(config: Any, beta: Any, field: str) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        response_format_of(config, beta)
    assert str(caught.value).startswith(field + ":")


def test_an_openai_json_schema_becomes_anthropics_format_and_nothing_else_does() -> None:
    schema_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": CLOSED, "strict": True}}
    assert anthropic_format_of(schema_format) == {"type": "json_schema", "schema": CLOSED}
    assert anthropic_format_of({"type": "json_object"}) is None
    assert anthropic_format_of({"type": "text"}) is None
    assert anthropic_format_of({"type": "json_schema", "json_schema": {"name": "x"}}) is None
    assert anthropic_format_of(None) is None
