"""An answer the provider's filter cut, or the model refused, says so in every API: OpenAI's
``content_filter`` (Azure OpenAI's filter is the common case) and Anthropic's ``refusal`` reach each kind
of client in its own words, streamed and whole, instead of passing for a normal ``stop``. Live daemon,
official SDKs, the loopback fake cloud."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.server.live import LiveServer, ant, oai

MSG: list[Any] = [{"role": "user", "content": "Say something."}]
FILTERED = Reply(text="I can", finish_reason="content_filter")
REFUSED = Reply(text="I can't help with that.", stop_reason="refusal")


@pytest.mark.parametrize(("model", "reply"), [("cloud/gpt", FILTERED), ("cloud/claude", REFUSED)])
@pytest.mark.parametrize("stream", [False, True])
def test_an_openai_client_gets_content_filter(
    live: LiveServer, cloud: FakeCloud, model: str, reply: Reply, stream: bool
) -> None:
    cloud.reset(reply)
    client = oai(live)
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=MSG, stream=True))
        reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert reasons == ["content_filter"]
    else:
        completion = client.chat.completions.create(model=model, messages=MSG)
        assert completion.choices[0].finish_reason == "content_filter"
        assert completion.choices[0].message.content == reply.text


@pytest.mark.parametrize(("model", "reply"), [("cloud/gpt", FILTERED), ("cloud/claude", REFUSED)])
@pytest.mark.parametrize("stream", [False, True])
def test_an_anthropic_client_gets_refusal(
    live: LiveServer, cloud: FakeCloud, model: str, reply: Reply, stream: bool
) -> None:
    cloud.reset(reply)
    client = ant(live)
    if stream:
        with client.messages.stream(model=model, max_tokens=64, messages=MSG) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(model=model, max_tokens=64, messages=MSG)
    assert message.stop_reason == "refusal"


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_client_gets_an_incomplete_response_saying_content_filter(
    live: LiveServer, cloud: FakeCloud, stream: bool
) -> None:
    cloud.reset(FILTERED)
    client = oai(live)
    if stream:
        events = list(client.responses.create(model="cloud/gpt", input="Say something.", stream=True))
        assert events[-1].type == "response.incomplete"
        response = events[-1].response  # type: ignore[union-attr]
    else:
        response = client.responses.create(model="cloud/gpt", input="Say something.")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "content_filter"
