"""An answer the provider's filter cut, or the model refused, says so in every API: OpenAI's
``content_filter`` (Azure OpenAI's filter is the common case) and Anthropic's ``refusal`` reach each kind
of client in its own words, streamed and whole, instead of passing for a normal ``stop``; an OpenAI
model's ``refusal`` text stays a refusal for OpenAI clients and reads as text elsewhere. Live daemon,
official SDKs, the loopback fake cloud."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.server.live import LiveServer, final_message, oai

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
    message = final_message(live, {"model": model, "max_tokens": 64, "messages": MSG}, streamed=stream)
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


DECLINED = Reply(text="", refusal="I'm sorry, I can't help with that request.")


@pytest.mark.parametrize("stream", [False, True])
def test_an_openai_models_refusal_reaches_an_openai_client_as_a_refusal(
    live: LiveServer, cloud: FakeCloud, stream: bool
) -> None:
    cloud.reset(DECLINED)
    client = oai(live)
    if stream:
        chunks = list(client.chat.completions.create(model="cloud/gpt", messages=MSG, stream=True))
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        assert "".join(d.refusal or "" for d in deltas) == DECLINED.refusal
        assert "".join(d.content or "" for d in deltas) == ""
    else:
        message = client.chat.completions.create(model="cloud/gpt", messages=MSG).choices[0].message
        assert message.refusal == DECLINED.refusal
        assert message.content is None


@pytest.mark.parametrize("stream", [False, True])
def test_an_openai_models_refusal_reads_as_text_for_anthropic_and_responses_clients(
    live: LiveServer, cloud: FakeCloud, stream: bool
) -> None:
    cloud.reset(DECLINED)
    message = final_message(live, {"model": "cloud/gpt", "max_tokens": 64, "messages": MSG}, streamed=stream)
    if stream:
        output_text = "".join(
            e.delta
            for e in oai(live).responses.create(model="cloud/gpt", input="Say something.", stream=True)
            if e.type == "response.output_text.delta"
        )
    else:
        output_text = oai(live).responses.create(model="cloud/gpt", input="Say something.").output_text
    assert [b.text for b in message.content if b.type == "text"] == [DECLINED.refusal]
    assert output_text == DECLINED.refusal


def test_a_refusal_sent_back_in_the_history_reaches_the_model_as_its_answer(
    live: LiveServer, cloud: FakeCloud
) -> None:
    cloud.reset(Reply(text="Fine."))
    history: list[Any] = [
        *MSG,
        {"role": "assistant", "content": None, "refusal": DECLINED.refusal},
        {"role": "user", "content": "Then say hello."},
    ]
    oai(live).chat.completions.create(model="cloud/gpt", messages=history)
    assert cloud.requests[-1].body["messages"][1] == {"role": "assistant", "content": DECLINED.refusal}
