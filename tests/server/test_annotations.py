"""Sources an OpenAI-style model cites (``url_citation`` annotations from OpenAI's search models or
OpenRouter's web plugin) reach Chat Completions clients as annotations, streamed and whole, and Responses
clients in that API's flat shape; Anthropic clients still get the text. Live daemon, official SDKs, the
loopback fake cloud."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.server.live import LiveServer, final_message, oai

TEXT = "Rivers carve valleys over millions of years."
CITE = {"url": "https://example.org/rivers", "title": "Rivers", "start_index": 0, "end_index": len(TEXT)}
CITED = Reply(text=TEXT, annotations=[{"type": "url_citation", "url_citation": CITE}])
MSG: list[Any] = [{"role": "user", "content": "How do rivers shape land?"}]


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_completions_client_gets_the_annotations(
    live: LiveServer, cloud: FakeCloud, stream: bool
) -> None:
    cloud.reset(CITED)
    client = oai(live)
    if stream:
        chunks = list(client.chat.completions.create(model="cloud/gpt", messages=MSG, stream=True))
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        assert "".join(d.content or "" for d in deltas) == TEXT
        annotations = [a for d in deltas for a in (d.model_extra or {}).get("annotations") or []]
        assert annotations == CITED.annotations
    else:
        message = client.chat.completions.create(model="cloud/gpt", messages=MSG).choices[0].message
        assert message.content == TEXT
        assert message.annotations is not None
        assert [a.model_dump() for a in message.annotations] == CITED.annotations


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_client_gets_them_in_its_own_shape(
    live: LiveServer, cloud: FakeCloud, stream: bool
) -> None:
    cloud.reset(CITED)
    client = oai(live)
    if stream:
        events = list(client.responses.create(model="cloud/gpt", input="How?", stream=True))
        added = [e for e in events if e.type == "response.output_text.annotation.added"]
        assert [e.annotation.model_dump() for e in added] == [{"type": "url_citation", **CITE}]  # type: ignore[union-attr]
        response = events[-1].response  # type: ignore[union-attr]
    else:
        response = client.responses.create(model="cloud/gpt", input="How?")
    part = response.output[0].content[0]  # type: ignore[union-attr]
    assert part.text == TEXT
    assert [a.model_dump(exclude_none=True) for a in part.annotations] == [{"type": "url_citation", **CITE}]


@pytest.mark.parametrize("stream", [False, True])
def test_an_anthropic_client_gets_the_text(live: LiveServer, cloud: FakeCloud, stream: bool) -> None:
    cloud.reset(CITED)
    message = final_message(live, {"model": "cloud/gpt", "max_tokens": 64, "messages": MSG}, streamed=stream)
    assert [b.text for b in message.content if b.type == "text"] == [TEXT]
