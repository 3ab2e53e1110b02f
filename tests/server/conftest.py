"""A live daemon on a loopback port, built by create_app with the real engine on the starter GGUF."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from edgeroute.config import Settings
from edgeroute.keys import KeyStore
from edgeroute.paths import Paths, resolve_paths
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud
from tests.fakes.memory_keyring import MemoryKeyring
from tests.server.live import LiveServer


def make_settings(starter_gguf: Path, **sections: Any) -> Settings:
    base: dict[str, Any] = {
        "local": [{"name": "gemma3-270m", "path": str(starter_gguf)}],
        "engine": {"keep_alive": -1, "use_extra_bufts": False, "queue_depth": 4},
    }
    base.update(sections)
    return Settings(**base)


def home_paths(tmp: Path) -> Paths:
    return resolve_paths({"EDGEROUTE_HOME": str(tmp)})


@pytest.fixture(scope="module")
def cloud() -> Iterator[FakeCloud]:
    """One loopback fake cloud (OpenAI and Anthropic) per test module (a module may define its own)."""
    with FakeCloud() as fake:
        yield fake


def cloud_target(cloud: FakeCloud, name: str, provider: str, **extra: Any) -> dict[str, Any]:
    """A ``[[cloud]]`` entry on the loopback fake cloud, keyed ``fake``, without retries (a test sees the
    first answer)."""
    base_url = cloud.openai_base_url if provider == "openai" else cloud.anthropic_base_url
    return {"name": name, "provider": provider, "base_url": base_url, "model": f"{name}-upstream",
            "key": "fake", "max_retries": 0, **extra}  # fmt: skip


@contextmanager
def live_with_fake_key(settings: Settings, home: Path) -> Iterator[LiveServer]:
    """``create_app(settings)`` served live, its keyring in memory holding the ``fake`` key."""
    keys = KeyStore(backend=MemoryKeyring(), environ={})
    keys.set("fake", "sk-fake-cloud-test")
    with LiveServer(create_app(settings, home_paths(home), keys=keys)) as server:
        yield server


@contextmanager
def gpt_and_claude(
    cloud: FakeCloud, starter_gguf: Path, home: Path, *more: dict[str, Any]
) -> Iterator[LiveServer]:
    """The daemon with ``cloud/gpt`` (OpenAI) and ``cloud/claude`` (Anthropic) on the fake cloud, and any
    ``more`` targets, next to the local starter model."""
    targets = [cloud_target(cloud, "gpt", "openai"), cloud_target(cloud, "claude", "anthropic"), *more]
    with live_with_fake_key(make_settings(starter_gguf, cloud=targets), home) as live:
        yield live


@pytest.fixture(scope="module")
def live(
    cloud: FakeCloud, starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Per test module, the daemon of :func:`gpt_and_claude` on the module's fake cloud (a module may
    define its own ``live``)."""
    with gpt_and_claude(cloud, starter_gguf, tmp_path_factory.mktemp("home")) as server:
        yield server


@pytest.fixture(scope="module")
def greedy_local(starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Per test module, the daemon with the starter model alone on one llama.cpp thread, so greedy answers
    come out the same run after run."""
    engine = {"keep_alive": -1, "use_extra_bufts": False, "queue_depth": 4, "threads": 1}
    app = create_app(make_settings(starter_gguf, engine=engine), home_paths(tmp_path_factory.mktemp("home")))
    with LiveServer(app) as server:
        yield server


def post(live: LiveServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` as JSON; the answer must be a 200."""
    import httpx

    response = httpx.post(live.url + path, json=body, timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


def sent(cloud: FakeCloud) -> dict[str, Any]:
    """The one request body the fake cloud received."""
    assert len(cloud.requests) == 1, [r.path for r in cloud.requests]
    return dict(cloud.requests[0].body)


@pytest.fixture(scope="module")
def local_server(starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Local model only; no cloud models."""
    settings = make_settings(starter_gguf, server={"max_body_mb": 0.05})
    app = create_app(settings, home_paths(tmp_path_factory.mktemp("home")))
    with LiveServer(app) as live:
        yield live
