"""Sampling controls reach the real starter model: top_k=1 at temperature 1 samples exactly as greedy does
(OpenAI's extra field and Anthropic's own ``top_k``), a frequency penalty changes a greedy answer that
repeats itself, and a bad value is a 400 in the API's own shape. Live daemon, official SDKs."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.cloud import FakeCloud
from tests.server.live import LiveServer, ant, oai

MODEL = "local/gemma3-270m"
MSG: list[Any] = [{"role": "user", "content": "Write the word cat ten times."}]


def answer(live: LiveServer, **params: Any) -> str:
    params.setdefault("max_tokens", 24)
    completion = oai(live).chat.completions.create(model=MODEL, messages=MSG, **params)
    return completion.choices[0].message.content or ""


def test_top_k_of_one_samples_as_greedy_does(greedy_local: LiveServer) -> None:
    local_server = greedy_local  # one llama.cpp thread: greedy answers repeat exactly
    greedy = answer(local_server, temperature=0)
    assert greedy
    for seed in (1, 2):
        assert answer(local_server, temperature=1.0, seed=seed) != greedy  # sampling with the default top_k
        assert answer(local_server, temperature=1.0, seed=seed, extra_body={"top_k": 1}) == greedy
    text = ant(local_server).messages.create(
        model=MODEL, max_tokens=24, messages=MSG, extra_body={"temperature": 1.0, "top_k": 1}
    )
    assert "".join(b.text for b in text.content if b.type == "text") == greedy


def test_a_frequency_penalty_changes_a_repeating_greedy_answer(greedy_local: LiveServer) -> None:
    local_server = greedy_local
    greedy = answer(local_server, temperature=0)
    assert answer(local_server, temperature=0, frequency_penalty=2.0) != greedy


def test_a_bad_value_is_a_400_and_the_next_request_is_served(local_server: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        answer(local_server, extra_body={"min_p": 2})
    assert "min_p" in str(caught.value)
    with pytest.raises(anthropic.BadRequestError) as bad:
        ant(local_server).messages.create(
            model=MODEL, max_tokens=4, messages=MSG, extra_body={"top_k": "many"}
        )
    assert bad.value.body["type"] == "error"  # type: ignore[index]
    assert answer(local_server, temperature=0)


def test_a_bad_value_under_auto_is_a_400_not_a_paid_fallback(live: LiveServer, cloud: FakeCloud) -> None:
    """Routed local with a cloud fallback, a value the local model refuses must not become a cloud call."""
    cloud.reset()
    raw = oai(live).chat.completions.with_raw_response.create(model="auto", messages=MSG, max_tokens=4)
    assert raw.headers["x-edgeroute-tier"] == "local"  # a short, easy prompt
    with pytest.raises(openai.BadRequestError) as caught:
        oai(live).chat.completions.create(
            model="auto",
            messages=MSG,
            max_tokens=4,
            extra_body={"min_p": 2},
        )
    assert caught.value.body["param"] == "min_p"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as biased:
        oai(live).chat.completions.create(model="auto", messages=MSG, max_tokens=4, logit_bias={"yes": 1})
    assert biased.value.body["param"] == "logit_bias"  # type: ignore[index]
    assert cloud.requests == []  # the easy prompt was answered locally, and the bad one went nowhere


NO, WRITE = "3771", "6974"  # Gemma 3's tokens for "No" and "Write"


def test_logit_bias_forces_or_bans_a_token(greedy_local: LiveServer) -> None:
    """The classification idiom: bias the answer onto a label token."""
    assert answer(greedy_local, temperature=0, max_tokens=1) == "Write"  # the greedy first token
    assert answer(greedy_local, temperature=0, max_tokens=1, logit_bias={NO: 100}) == "No"
    assert answer(greedy_local, temperature=0, max_tokens=1, logit_bias={WRITE: -100}) not in ("Write", "")
    with pytest.raises(openai.BadRequestError) as caught:
        answer(greedy_local, max_tokens=1, logit_bias={"10000000": 5})
    assert "logit_bias" in str(caught.value) and "not in this model" in str(caught.value)
    assert answer(greedy_local, temperature=0, max_tokens=1) != ""  # served on, no bias left behind
