"""A JSON schema the answer must match reaches every backend, whichever API the client spoke: Anthropic's
``output_config.format`` (what the Anthropic SDK's ``messages.parse`` sends) constrains the local model's
sampling and becomes ``response_format`` for OpenAI-compatible upstreams; OpenAI's ``response_format``
becomes ``output_config.format`` for Anthropic upstreams. Live daemons driven by the official SDKs: the
real starter Gemma, and the loopback fake cloud."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.server.conftest import sent
from tests.server.live import LiveServer, ant, oai
from tests.server.test_local_response_format import CITY_SCHEMA, City, assert_city

LOCAL = "local/gemma3-270m"
QUESTION = [
    {"role": "user", "content": "What is the largest city of France, and its population? Answer in JSON."}
]
OPEN_SCHEMA: dict[str, Any] = {  # Anthropic takes optional properties; OpenAI's strict mode does not
    "type": "object",
    "properties": {"city": {"type": "string"}, "note": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
CITY_JSON = '{"city": "Paris", "population": 2100000}'


def test_the_anthropic_sdks_parse_gets_a_matching_answer_from_the_local_model(
    greedy_local: LiveServer,
) -> None:
    message = ant(greedy_local).messages.parse(
        model=LOCAL, max_tokens=64, messages=QUESTION, output_format=City
    )
    assert isinstance(message.parsed_output, City)
    assert message.stop_reason == "end_turn"


def test_a_streamed_local_answer_under_output_config_joins_to_matching_json(greedy_local: LiveServer) -> None:
    with ant(greedy_local).messages.stream(
        model=LOCAL,
        max_tokens=64,
        messages=QUESTION,
        output_config={"format": {"type": "json_schema", "schema": CITY_SCHEMA}},
    ) as stream:
        text = "".join(stream.text_stream)
    assert_city(text)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"output_config": {"format": {"type": "text"}}}, "output_config.format"),
        ({"output_config": {"format": {"type": "json_schema", "schema": "object"}}}, "output_config.format"),
        ({"output_format": {"type": "json_schema"}}, "output_format"),
    ],
)
def test_a_malformed_format_is_a_400_naming_the_field_and_the_daemon_serves_on(
    greedy_local: LiveServer, fields: dict[str, Any], named: str
) -> None:
    client = ant(greedy_local)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=LOCAL, max_tokens=8, messages=QUESTION, extra_body=fields)
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert named in caught.value.body["error"]["message"]  # type: ignore[index]
    assert client.messages.create(model=LOCAL, max_tokens=4, messages=QUESTION).content


@pytest.fixture
def fake(cloud: FakeCloud) -> FakeCloud:
    cloud.reset(Reply(text=CITY_JSON))
    return cloud


def test_output_config_format_reaches_an_openai_upstream_as_response_format(
    live: LiveServer, fake: FakeCloud
) -> None:
    message = ant(live).messages.parse(
        model="cloud/gpt", max_tokens=64, messages=QUESTION, output_format=City
    )
    assert message.parsed_output == City(city="Paris", population=2100000)
    body = sent(fake)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "output",
            "schema": body["response_format"]["json_schema"]["schema"],
            "strict": True,
        },
    }
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["city", "population"]
    assert "output_config" not in body


def test_a_schema_openai_strict_mode_refuses_goes_to_openai_as_non_strict(
    live: LiveServer, fake: FakeCloud
) -> None:
    ant(live).messages.create(
        model="cloud/gpt",
        max_tokens=64,
        messages=QUESTION,
        extra_body={"output_format": {"type": "json_schema", "schema": OPEN_SCHEMA}},
    )
    spec = sent(fake)["response_format"]["json_schema"]
    assert spec["schema"] == OPEN_SCHEMA and spec["strict"] is False


def test_an_anthropic_upstream_gets_output_config_and_the_betas_output_format_as_sent(
    live: LiveServer, fake: FakeCloud
) -> None:
    config = {"effort": "low", "format": {"type": "json_schema", "schema": CITY_SCHEMA}}
    ant(live).messages.create(
        model="cloud/claude", max_tokens=64, messages=QUESTION, extra_body={"output_config": config}
    )
    body = sent(fake)
    assert body["output_config"] == config and "response_format" not in body
    fake.reset(Reply(text=CITY_JSON))
    beta = {"type": "json_schema", "schema": OPEN_SCHEMA}
    ant(live).messages.create(
        model="cloud/claude", max_tokens=64, messages=QUESTION, extra_body={"output_format": beta}
    )
    body = sent(fake)
    assert body["output_format"] == beta and "output_config" not in body


def test_an_openai_clients_json_schema_reaches_an_anthropic_upstream_as_output_config(
    live: LiveServer, fake: FakeCloud
) -> None:
    completion = oai(live).chat.completions.parse(
        model="cloud/claude", messages=QUESTION, response_format=City
    )
    assert completion.choices[0].message.parsed == City(city="Paris", population=2100000)
    body = sent(fake)
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert body["output_config"]["format"]["schema"]["properties"].keys() == {"city", "population"}
    assert "response_format" not in body


def test_json_object_has_no_anthropic_counterpart_and_is_left_out(live: LiveServer, fake: FakeCloud) -> None:
    oai(live).chat.completions.create(
        model="cloud/claude", messages=QUESTION, response_format={"type": "json_object"}
    )
    body = sent(fake)
    assert "output_config" not in body and "response_format" not in body
