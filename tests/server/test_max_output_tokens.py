"""``max_output_tokens`` on a ``[[cloud]]`` model, end to end: a client's larger token limit (Claude Code
asks every model for 32000; gpt-4o refuses more than 16384) reaches the loopback fake upstream lowered to
the model's cap, each fallback with its own cap; a model without the key, a smaller limit and no limit at
all pass as the client sent them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edgeroute.chat import ChatRequest, Message
from edgeroute.config import CloudModelConfig
from edgeroute.dispatch import capped_to
from tests.fakes.cloud import FakeCloud, Fault
from tests.server.conftest import cloud_target, gpt_and_claude, post, sent
from tests.server.live import LiveServer, oai

GPT_CAP = 16384
CLAUDE_CAP = 8192


@pytest.fixture(scope="module")
def live(
    cloud: FakeCloud, starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    capped = [
        cloud_target(cloud, "gpt4o", "openai", max_output_tokens=GPT_CAP),
        cloud_target(cloud, "sonnet", "anthropic", max_output_tokens=CLAUDE_CAP),
        # Only the fallback test uses it: its failure must not cool down the others.
        cloud_target(cloud, "gpt4o-first", "openai", max_output_tokens=GPT_CAP, fallbacks=["cloud/sonnet"]),
    ]
    with gpt_and_claude(cloud, starter_gguf, tmp_path_factory.mktemp("home"), *capped) as live:
        yield live


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud) -> None:
    cloud.reset()


def messages(model: str, **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], **fields}


def test_the_openai_sdk_limit_is_lowered_to_the_models_cap(live: LiveServer, cloud: FakeCloud) -> None:
    answer = oai(live).chat.completions.create(
        model="cloud/gpt4o", messages=[{"role": "user", "content": "Hi"}], max_tokens=32000
    )
    assert answer.choices[0].message.content
    assert sent(cloud)["max_tokens"] == GPT_CAP


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_the_cap_keeps_the_name_the_client_used(live: LiveServer, cloud: FakeCloud, field: str) -> None:
    post(live, "/v1/chat/completions", messages("cloud/gpt4o", **{field: 20000}))
    assert sent(cloud)[field] == GPT_CAP


def test_claude_codes_32000_reach_an_openai_model_capped(live: LiveServer, cloud: FakeCloud) -> None:
    post(live, "/v1/messages", messages("cloud/gpt4o", max_tokens=32000))
    assert sent(cloud)["max_tokens"] == GPT_CAP


def test_an_anthropic_thinking_budget_shrinks_under_the_cap(live: LiveServer, cloud: FakeCloud) -> None:
    thinking = {"type": "enabled", "budget_tokens": 31999}
    post(live, "/v1/messages", messages("cloud/sonnet", max_tokens=32000, thinking=thinking))
    body = sent(cloud)
    assert body["max_tokens"] == CLAUDE_CAP
    assert body["thinking"] == {"type": "enabled", "budget_tokens": CLAUDE_CAP - 1}


def test_without_the_key_or_under_the_cap_the_clients_limit_passes(
    live: LiveServer, cloud: FakeCloud
) -> None:
    for model, limit in [("cloud/gpt", 32000), ("cloud/gpt4o", 100), ("cloud/gpt4o", GPT_CAP)]:
        cloud.reset()
        post(live, "/v1/chat/completions", messages(model, max_tokens=limit))
        assert sent(cloud)["max_tokens"] == limit, model
    cloud.reset()
    post(live, "/v1/messages", messages("cloud/claude", max_tokens=32000))
    assert sent(cloud)["max_tokens"] == 32000


def test_no_limit_stays_no_limit(live: LiveServer, cloud: FakeCloud) -> None:
    post(live, "/v1/chat/completions", messages("cloud/gpt4o"))
    body = sent(cloud)
    assert "max_tokens" not in body and "max_completion_tokens" not in body


def test_an_anthropic_model_asked_for_no_limit_gets_its_own_cap(live: LiveServer, cloud: FakeCloud) -> None:
    """Anthropic requires a limit; an OpenAI client that sends none (Cline, Aider, llm) used to get 4096,
    which cut long answers (a large file written by a tool call) even where the model takes more."""
    post(live, "/v1/chat/completions", messages("cloud/sonnet"))
    assert sent(cloud)["max_tokens"] == CLAUDE_CAP
    cloud.reset()
    post(live, "/v1/chat/completions", messages("cloud/claude"))  # no cap configured: the default
    assert sent(cloud)["max_tokens"] == 4096


def test_each_fallback_gets_its_own_cap(live: LiveServer, cloud: FakeCloud) -> None:
    cloud.fail_next(Fault.http(500))
    answer = post(live, "/v1/chat/completions", messages("cloud/gpt4o-first", max_tokens=32000))
    assert answer["choices"][0]["message"]["content"]
    first, second = cloud.requests
    assert (first.api, first.body["max_tokens"]) == ("openai", GPT_CAP)
    assert (second.api, second.body["max_tokens"]) == ("anthropic", CLAUDE_CAP)


def test_a_thinking_budget_that_cannot_fit_goes() -> None:
    """Anthropic takes no budget under 1024 tokens: under a smaller cap the request goes without thinking,
    which the model answers, rather than with a budget it refuses."""
    model = CloudModelConfig(name="tiny", provider="anthropic", model="m", max_output_tokens=1024)
    thinking = {"type": "enabled", "budget_tokens": 2048}
    req = ChatRequest(
        "cloud/tiny", [Message("user", "Hi")], max_tokens=4096, extra={"thinking": thinking, "top_k": 5}
    )
    capped = capped_to(model, req)
    assert (capped.max_tokens, capped.extra) == (1024, {"top_k": 5})
    assert req.extra["thinking"] == thinking and req.max_tokens == 4096  # the client's request is untouched
    assert capped.request_id == req.request_id


def test_the_cap_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="max_output_tokens"):
        CloudModelConfig(name="x", provider="openai", model="m", max_output_tokens=0)
