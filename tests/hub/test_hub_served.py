"""The end of a pull as the issue states it: a pulled model shows up in `/v1/models` and `edgeroute models`,
and answers a request, while the daemon keeps running (no restart). Real llama.cpp on a real GGUF that the
fake hub serves."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from edgeroute.cli.main import cli
from edgeroute.config import Settings
from edgeroute.daemon import clear_state, write_state
from edgeroute.hub.catalog import load_catalog
from edgeroute.hub.hfapi import HubClient
from edgeroute.hub.pull import Puller
from edgeroute.hub.store import ModelStore
from edgeroute.paths import resolve_paths
from edgeroute.server import create_app
from tests.hub.fakehub import FakeHub
from tests.server.live import LiveServer

REPO = "ggml-org/gemma-3-270m-it-GGUF"
FILE = "gemma-3-270m-it-Q4_K_M.gguf"
NAME = "gemma-3-270m-it-q4_k_m"


def local_models(url: str) -> dict[str, dict[str, object]]:
    data = httpx.get(f"{url}/v1/models", timeout=30).json()["data"]
    return {m["id"]: m for m in data if m["id"].startswith("local/")}


@pytest.mark.slow
def test_pulled_model_is_served_without_a_restart(hub: FakeHub, real_gguf: Path) -> None:
    hub.add_repo(REPO, {FILE: real_gguf.read_bytes()})
    paths = resolve_paths()
    settings = Settings(
        local=[{"name": "configured", "path": str(real_gguf)}],
        engine={"keep_alive": -1, "use_extra_bufts": False, "max_loaded": 1},
    )
    with LiveServer(create_app(settings, paths)) as live:
        assert f"local/{NAME}" not in local_models(live.url)

        Puller(ModelStore(paths.models_dir), HubClient.from_environ(), load_catalog()).pull(REPO)

        listed = local_models(live.url)[f"local/{NAME}"]
        assert listed["loaded"] is False and listed["role"] == "chat"
        body = {"model": f"local/{NAME}", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        answer = httpx.post(f"{live.url}/v1/chat/completions", json=body, timeout=120)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-edgeroute-model"] == f"local/{NAME}"
        assert answer.json()["choices"][0]["message"]["content"]

        write_state(paths, live.url)  # what `edgeroute serve` does, so `edgeroute models` can ask the daemon
        try:
            result = CliRunner().invoke(cli, ["models", "--json"], catch_exceptions=False)
        finally:
            clear_state(paths)
        (row,) = [e for e in json.loads(result.output) if e["source"] == "pulled"]
        assert (row["id"], row["loaded"], row["architecture"]) == (f"local/{NAME}", True, "gemma3")
