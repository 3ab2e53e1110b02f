"""``response_format`` on a local model, end to end: the official OpenAI SDK against a live daemon running the
real starter Gemma. The answer is JSON matching the schema (grammar-constrained sampling), streamed or not;
a schema llama.cpp cannot use is a 400 naming ``response_format``, and the model keeps serving."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.server.live import LiveServer, oai

MODEL = "local/gemma3-270m"
QUESTION = [
    {
        "role": "user",
        "content": "What is the largest city of France, and how many people live there? Answer in JSON.",
    }
]
CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
CITY_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "city", "schema": CITY_SCHEMA, "strict": True},
}
BAD_FORMAT: Any = {"type": "json_schema", "json_schema": {"name": "bad", "schema": {"type": "foo"}}}


class City(BaseModel):
    city: str
    population: int


def assert_city(text: str) -> None:
    value = json.loads(text)
    assert set(value) == {"city", "population"}, text
    assert isinstance(value["city"], str) and isinstance(value["population"], int), text


def test_json_schema_answer_is_matching_json(greedy_local: LiveServer) -> None:
    completion = oai(greedy_local).chat.completions.create(
        model=MODEL, messages=QUESTION, response_format=CITY_FORMAT, temperature=0, max_tokens=64
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content is not None
    assert_city(choice.message.content)


def test_json_schema_stream_joins_to_matching_json(greedy_local: LiveServer) -> None:
    chunks = list(
        oai(greedy_local).chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            response_format=CITY_FORMAT,
            temperature=0,
            max_tokens=64,
            stream=True,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3  # really streamed
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert_city(text)


def test_sdk_parse_with_a_pydantic_model(greedy_local: LiveServer) -> None:
    """The SDK's structured-output helper sends the model's strict schema and parses the answer itself."""
    completion = oai(greedy_local).chat.completions.parse(
        model=MODEL, messages=QUESTION, response_format=City, temperature=0, max_tokens=64
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, City) and parsed.city


def test_json_object_answer_is_a_json_object(greedy_local: LiveServer) -> None:
    completion = oai(greedy_local).chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": 'What is the capital of Italy? Reply with a JSON object like {"capital": "..."}.',
            }
        ],
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=64,
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


@pytest.mark.parametrize("stream", [False, True])
def test_a_schema_without_a_grammar_is_a_400_and_the_model_keeps_serving(
    greedy_local: LiveServer, stream: bool
) -> None:
    client = oai(greedy_local)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=QUESTION, response_format=BAD_FORMAT, max_tokens=8, stream=stream
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error" and error["param"] == "response_format", error
    completion = client.chat.completions.create(
        model=MODEL, messages=QUESTION, response_format=CITY_FORMAT, temperature=0, max_tokens=64
    )
    assert_city(completion.choices[0].message.content or "")
