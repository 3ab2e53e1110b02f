"""The daemon's start-up objects are frozen out of the cyclic GC's full passes (see create_app)."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx

from edgeroute.server import create_app
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer


def test_freeze_gc_moves_the_startup_objects_out_of_the_collectors_reach(
    starter_gguf: Path, tmp_path: Path
) -> None:
    settings = make_settings(starter_gguf)
    with LiveServer(create_app(settings, home_paths(tmp_path / "a"))) as live:
        assert httpx.get(live.url + "/health").status_code == 200
        assert gc.get_freeze_count() == 0  # apps built for tests leave the collector alone
    try:
        with LiveServer(create_app(settings, home_paths(tmp_path / "b"), freeze_gc=True)) as live:
            assert gc.get_freeze_count() > 10_000  # FastAPI, pydantic schemas, services...
            assert httpx.get(live.url + "/health").status_code == 200
    finally:
        gc.unfreeze()
