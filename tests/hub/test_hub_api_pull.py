"""Pulling through the daemon (POST /api/pull, used by the TUI): SSE progress, then the model is served
without a restart; a missing repo ends the stream with an error event."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from edgeroute.config import Settings
from edgeroute.paths import resolve_paths
from edgeroute.server import create_app
from tests.hub.fakehub import FakeHub
from tests.server.live import LiveServer


def pull_events(url: str, model: str) -> list[dict[str, object]]:
    with httpx.stream("POST", f"{url}/api/pull", json={"model": model}, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def test_pull_through_the_api_streams_progress_then_serves_the_model(
    hub: FakeHub, gguf_chat: bytes, starter_gguf: Path
) -> None:
    hub.add_repo("acme/Tiny-Chat-GGUF", {"tiny-chat-Q4_K_M.gguf": gguf_chat})
    settings = Settings(
        local=[{"name": "gemma3-270m", "path": str(starter_gguf)}], engine={"use_extra_bufts": False}
    )
    with LiveServer(create_app(settings, resolve_paths())) as live:
        events = pull_events(live.url, "acme/Tiny-Chat-GGUF")
        statuses = [e["status"] for e in events]
        assert statuses[0] == "downloading" and statuses[-1] == "done"
        assert events[0]["total"] == len(gguf_chat)
        name = events[-1]["name"]
        ids = [m["id"] for m in httpx.get(f"{live.url}/v1/models").json()["data"]]
        assert f"local/{name}" in ids

        failed = pull_events(live.url, "acme/No-Such-Repo-GGUF")
        assert failed[-1]["status"] == "error" and "acme/No-Such-Repo-GGUF" in str(failed[-1]["message"])
        assert httpx.get(f"{live.url}/health").json()["status"] == "ok"
