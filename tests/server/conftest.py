"""A live daemon on a loopback port, built by create_app with the real engine on the starter GGUF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeroute.config import Settings
from edgeroute.paths import Paths, resolve_paths
from edgeroute.server import create_app
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
def local_server(starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Local model only; no cloud models."""
    settings = make_settings(starter_gguf, server={"max_body_mb": 0.05})
    app = create_app(settings, home_paths(tmp_path_factory.mktemp("home")))
    with LiveServer(app) as live:
        yield live
