"""An OpenAI client's ``reasoning_effort`` (Cline's ``--thinking``, Zed's and Continue's reasoning settings)
as thinking on an Anthropic model, as its ``[[cloud]] thinking`` says: adaptive thinking with the effort
for the newest Claude models, a thinking budget by effort for older ones, and none where it is unset.
Official OpenAI SDK against a live daemon and the loopback fake cloud."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.server.conftest import cloud_target, gpt_and_claude, sent
from tests.server.live import LiveServer, oai

MSG: list[Any] = [{"role": "user", "content": "Why is the sky blue?"}]
TOOL: Any = {
    "type": "function",
    "function": {"name": "look", "parameters": {"type": "object", "properties": {}}},
}


@pytest.fixture(scope="module")
def live(
    cloud: FakeCloud, starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    models = [
        cloud_target(cloud, "opus", "anthropic", thinking="adaptive"),
        cloud_target(cloud, "sonnet45", "anthropic", thinking="budget", max_output_tokens=32000),
    ]
    with gpt_and_claude(cloud, starter_gguf, tmp_path_factory.mktemp("home"), *models) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud) -> None:
    cloud.reset(Reply(text="Rayleigh scattering.", reasoning="Short waves scatter more.", signature="sig"))


def ask(live: LiveServer, model: str, **fields: Any) -> Any:
    return oai(live).chat.completions.create(model=model, messages=MSG, **fields)


def test_adaptive_models_get_adaptive_thinking_with_the_effort(live: LiveServer, cloud: FakeCloud) -> None:
    answer = ask(live, "cloud/opus", reasoning_effort="high", temperature=0.2)
    body = sent(cloud)
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"] == {"effort": "high"}
    assert "temperature" not in body  # thinking takes only the default
    assert answer.choices[0].message.content == "Rayleigh scattering."
    assert answer.choices[0].message.model_extra["reasoning_content"] == "Short waves scatter more."


@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 4096), ("high", 16384)])
def test_budget_models_get_a_budget_by_effort(
    live: LiveServer, cloud: FakeCloud, effort: str, budget: int
) -> None:
    ask(live, "cloud/sonnet45", reasoning_effort=effort)
    body = sent(cloud)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget} and body["max_tokens"] == 32000


def test_a_budget_must_fit_under_max_tokens_or_thinking_is_left_out(
    live: LiveServer, cloud: FakeCloud
) -> None:
    ask(live, "cloud/sonnet45", reasoning_effort="high", max_tokens=3000)
    assert sent(cloud)["thinking"] == {"type": "enabled", "budget_tokens": 2999}
    cloud.reset(Reply(text="ok"))
    ask(live, "cloud/sonnet45", reasoning_effort="high", max_tokens=800)
    assert "thinking" not in sent(cloud)


def test_a_forced_tool_call_goes_without_budgeted_thinking(live: LiveServer, cloud: FakeCloud) -> None:
    ask(live, "cloud/sonnet45", reasoning_effort="medium", tools=[TOOL], tool_choice="required")
    assert "thinking" not in sent(cloud)


@pytest.mark.parametrize("effort", ["minimal", "none", None])
def test_no_effort_asks_no_thinking(live: LiveServer, cloud: FakeCloud, effort: str | None) -> None:
    fields = {} if effort is None else {"reasoning_effort": effort}
    ask(live, "cloud/opus", **fields)
    assert "thinking" not in sent(cloud)


def test_a_model_without_the_setting_answers_without_thinking(live: LiveServer, cloud: FakeCloud) -> None:
    ask(live, "cloud/claude", reasoning_effort="high")
    assert "thinking" not in sent(cloud)


LOOP: list[Any] = [
    *MSG,
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "blue"},
]  # fmt: skip


def test_a_tool_loop_the_client_continues_without_reasoning_keeps_only_adaptive_thinking(
    live: LiveServer, cloud: FakeCloud
) -> None:
    """OpenAI clients send no reasoning back; budgeted thinking would then be Anthropic's 400 (a tool loop's
    turn must start thinking), so it is left out; adaptive thinking takes such a turn."""
    oai(live).chat.completions.create(
        model="cloud/sonnet45", messages=LOOP, tools=[TOOL], reasoning_effort="high"
    )
    assert "thinking" not in sent(cloud)
    cloud.reset(Reply(text="ok"))
    oai(live).chat.completions.create(
        model="cloud/opus", messages=LOOP, tools=[TOOL], reasoning_effort="high"
    )
    assert sent(cloud)["thinking"] == {"type": "adaptive"}
