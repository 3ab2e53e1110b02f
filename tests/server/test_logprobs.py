"""OpenAI's ``logprobs`` / ``top_logprobs``: computed by the local engine from the real starter model's
logits (the classification idiom: one token, and how likely each label was), streamed and whole; passed
through from an OpenAI-style upstream; refused with a 400 when asked wrongly. Live daemon, official SDK."""

from __future__ import annotations

import math
from typing import Any

import openai
import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.server.live import LiveServer, oai

MSG: list[Any] = [{"role": "user", "content": "Is the sky blue? Answer yes or no."}]


def check_entries(entries: list[Any], top_n: int) -> None:
    for entry in entries:
        assert entry.logprob <= 0.0 and bytes(entry.bytes).decode("utf-8", "replace") == entry.token
        alternatives = [t.logprob for t in entry.top_logprobs]
        assert len(alternatives) == top_n and alternatives == sorted(alternatives, reverse=True)
        # greedy: the token sampled is the likeliest one
        assert entry.token == entry.top_logprobs[0].token
        assert math.isclose(entry.logprob, alternatives[0], abs_tol=1e-4)
        assert sum(math.exp(lp) for lp in alternatives) <= 1.0 + 1e-4


def test_a_local_answer_lists_each_tokens_logprob_and_alternatives(local_server: LiveServer) -> None:
    completion = oai(local_server).chat.completions.create(
        model="local/gemma3-270m", messages=MSG, max_tokens=4, temperature=0, logprobs=True, top_logprobs=5
    )
    choice = completion.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    entries = choice.logprobs.content
    assert completion.usage is not None and len(entries) == completion.usage.completion_tokens
    assert "".join(e.token for e in entries) == choice.message.content
    check_entries(entries, 5)


def test_streamed_logprobs_come_with_their_tokens(local_server: LiveServer) -> None:
    chunks = list(
        oai(local_server).chat.completions.create(
            model="local/gemma3-270m",
            messages=MSG,
            max_tokens=4,
            temperature=0,
            logprobs=True,
            top_logprobs=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    entries = [
        e for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content or []
    ]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None and len(entries) == chunks[-1].usage.completion_tokens
    assert "".join(e.token for e in entries) == text
    check_entries(entries, 2)


def test_without_logprobs_there_are_none(local_server: LiveServer) -> None:
    completion = oai(local_server).chat.completions.create(
        model="local/gemma3-270m", messages=MSG, max_tokens=2
    )
    assert completion.choices[0].logprobs is None


def test_top_logprobs_without_logprobs_or_past_20_is_a_400(local_server: LiveServer) -> None:
    client = oai(local_server)
    for extra in ({"top_logprobs": 3}, {"logprobs": True, "top_logprobs": 21}):
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="local/gemma3-270m", messages=MSG, max_tokens=2, **extra)
        assert "top_logprobs" in str(caught.value)
    assert client.chat.completions.create(model="local/gemma3-270m", messages=MSG, max_tokens=1).choices


ENTRY = {"token": "Yes", "logprob": -0.01, "bytes": [89, 101, 115], "top_logprobs": []}


@pytest.mark.parametrize("stream", [False, True])
def test_an_openai_upstreams_logprobs_pass_through(live: LiveServer, cloud: FakeCloud, stream: bool) -> None:
    cloud.reset(Reply(text="Yes", logprobs=[ENTRY]))
    client = oai(live)
    if stream:
        chunks = list(
            client.chat.completions.create(model="cloud/gpt", messages=MSG, logprobs=True, stream=True)
        )
        entries = [
            e
            for c in chunks
            if c.choices and c.choices[0].logprobs
            for e in c.choices[0].logprobs.content or []
        ]
    else:
        choice = client.chat.completions.create(model="cloud/gpt", messages=MSG, logprobs=True).choices[0]
        assert choice.logprobs is not None
        entries = choice.logprobs.content or []
    assert [e.model_dump() for e in entries] == [ENTRY]
    assert cloud.requests[-1].body["logprobs"] is True
