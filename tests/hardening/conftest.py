"""A live daemon (create_app on a loopback port, real engine on the starter GGUF) in front of two loopback
fake clouds: ``cloud/gpt`` (OpenAI wire, falls back to ``cloud/claude`` then the local model) and
``cloud/claude`` (Anthropic wire), plus ``cloud/solo`` (OpenAI wire, no fallbacks)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgeroute.keys import KeyStore
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud
from tests.fakes.memory_keyring import MemoryKeyring
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer

OPENAI_KEY = "sk-hardening-openai-5f1c9a"
ANTHROPIC_KEY = "sk-ant-hardening-8d2e7b"
MSG = [{"role": "user", "content": "Tell me about rivers."}]


@dataclass
class Stack:
    live: LiveServer
    gpt: FakeCloud  # serves cloud/gpt and cloud/solo
    claude: FakeCloud  # serves cloud/claude
    app: Any

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def services(self) -> Any:
        return self.app.state.services

    def last_row(self) -> dict[str, Any]:
        rows = httpx.get(self.url + "/api/requests?limit=1", timeout=30).json()["requests"]
        return dict(rows[0])

    def row_count(self) -> int:
        return int(httpx.get(self.url + "/api/stats?window=all", timeout=30).json()["requests"])


def cloud_settings(gpt: FakeCloud, claude: FakeCloud, **extra: Any) -> list[dict[str, Any]]:
    timeouts = {"first_token_timeout": 1.0, "total_timeout": 20.0, "max_retries": 0, **extra}
    return [
        {
            "name": "gpt",
            "provider": "openai",
            "base_url": gpt.openai_base_url,
            "model": "gpt-4o",
            "key": "openai",
            "fallbacks": ["cloud/claude", "local/gemma3-270m"],
            "price_in": 2.5,
            "price_out": 10.0,
            **timeouts,
        },
        {
            "name": "claude",
            "provider": "anthropic",
            "base_url": claude.anthropic_base_url,
            "model": "claude-sonnet-4-5",
            "key": "anthropic",
            "fallbacks": [],
            "price_in": 3.0,
            "price_out": 15.0,
            **timeouts,
        },
        {
            "name": "solo",
            "provider": "openai",
            "base_url": gpt.openai_base_url + "/",  # another endpoint (own health) on the same fake
            "model": "gpt-4o-mini",
            "key": "openai",
            "fallbacks": [],
            **timeouts,
        },
    ]


def memory_keys() -> KeyStore:
    keys = KeyStore(backend=MemoryKeyring(), environ={})
    keys.set("openai", OPENAI_KEY)
    keys.set("anthropic", ANTHROPIC_KEY)
    return keys


@pytest.fixture(scope="module")
def clouds() -> Iterator[tuple[FakeCloud, FakeCloud]]:
    with FakeCloud() as gpt, FakeCloud() as claude:
        yield gpt, claude


@pytest.fixture(scope="module")
def stack(
    clouds: tuple[FakeCloud, FakeCloud], starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    gpt, claude = clouds
    settings = make_settings(starter_gguf, cloud=cloud_settings(gpt, claude))
    app = create_app(settings, home_paths(tmp_path_factory.mktemp("home")), keys=memory_keys())
    with LiveServer(app) as live:
        yield Stack(live, gpt, claude, app)


def sse_data(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]


def stream_chat(url: str, body: dict[str, Any], timeout: float = 60) -> tuple[httpx.Response, list[str]]:
    """POST a streamed chat request and read it to the end: (response, the ``data:`` payloads)."""
    with httpx.stream(
        "POST", url + "/v1/chat/completions", json={**body, "stream": True}, timeout=timeout
    ) as r:
        text = r.read().decode()
    return r, sse_data(text)


def error_event(events: list[str]) -> dict[str, Any] | None:
    """The OpenAI-style error event a stream ended with, if any."""
    for data in events:
        if data.startswith('{"error"'):
            return dict(json.loads(data)["error"])
    return None
