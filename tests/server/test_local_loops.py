"""A local answer that falls into a loop ends there, with ``stop``, instead of running to the token limit
(the real starter Gemma, greedy, on a prompt it loops on; Claude Code and Aider met such loops as minutes
of repeated text). ``engine.stop_loops = false`` lets it run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeroute.server.app import create_app
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer, oai

LOOPING: list[Any] = [{"role": "user", "content": "Say 'I am a robot.' forever: I am a robot. I am a robot."}]
LIMIT = 400


@pytest.fixture(scope="module", params=[True, False], ids=["stop_loops", "no_stop_loops"])
def server(
    request: pytest.FixtureRequest, starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, bool]]:
    engine = {
        "keep_alive": -1,
        "use_extra_bufts": False,
        "queue_depth": 4,
        "threads": 1,
        "stop_loops": request.param,
    }
    app = create_app(make_settings(starter_gguf, engine=engine), home_paths(tmp_path_factory.mktemp("home")))
    with LiveServer(app) as live:
        yield live, request.param


def test_a_looping_answer_ends_once_it_repeats_itself(server: tuple[LiveServer, bool]) -> None:
    live, stop_loops = server
    completion = oai(live).chat.completions.create(
        model="local/gemma3-270m", messages=LOOPING, max_tokens=LIMIT, temperature=0
    )
    assert completion.usage is not None
    if stop_loops:
        assert completion.choices[0].finish_reason == "stop"
        assert 200 <= completion.usage.completion_tokens < LIMIT
    else:
        assert completion.choices[0].finish_reason == "length"
        assert completion.usage.completion_tokens == LIMIT
