"""Security checks the guard tests (tests/server/test_bad_input_and_guard.py) and the dispatcher's key-leak
test (tests/providers/test_key_leak.py) leave open:

- a real `edgeroute serve` at DEBUG, with one key from the environment and one from the keyring, driven
  through successes, a provider that echoes a refused key, 5xx and total failure: neither key is in any
  response, the log, the ledger file, its -wal or -shm, or any other file of the home; and the daemon and
  its llama.cpp worker run with core dumps off (a core file would hold the keys);
- a private request whose local model is busy fails with `local_busy` and never reaches a cloud fallback,
  although the same request without the header is answered by one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud, Fault, Reply
from tests.hardening.conftest import MSG, cloud_settings, memory_keys
from tests.hardening.daemon import EXE, ServeProcess, config_text
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer

ENV_KEY = "sk-ENVLEAK-3b9f27c4e1a05d86"
KEYRING_KEY = "sk-ant-RINGLEAK-9c1e4f70a2b8d653"
SECRETS = (ENV_KEY, KEYRING_KEY, "ENVLEAK", "RINGLEAK", "3b9f27c4e1a05d86", "9c1e4f70a2b8d653")


def leaks(data: str | bytes) -> list[str]:
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    return [s for s in SECRETS if s in text]


@pytest.fixture
def clouds() -> Iterator[tuple[FakeCloud, FakeCloud]]:
    with FakeCloud() as gpt, FakeCloud() as claude:
        yield gpt, claude


@pytest.mark.skipif(sys.platform == "win32", reason="core limits and keyring files are POSIX here")
def test_keys_never_reach_responses_logs_ledger_or_core_files(
    clouds: tuple[FakeCloud, FakeCloud], starter_gguf: Path, tmp_path: Path
) -> None:
    gpt, claude = clouds
    home = tmp_path / "home"
    env = {
        "HARDENING_OPENAI_KEY": ENV_KEY,
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "keyring-data"),  # the keyring's file, outside the home
        "XDG_CONFIG_HOME": str(tmp_path / "keyring-config"),
    }
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("EDGEROUTE_")}, **env}
    full_env["EDGEROUTE_HOME"] = str(home)
    subprocess.run([EXE, "keys", "set", "anthropic", "--stdin"], input=KEYRING_KEY + "\n", env=full_env,
                   check=True, capture_output=True, text=True, timeout=60)  # fmt: skip
    config = config_text(
        {
            "engine": {"keep_alive": -1, "use_extra_bufts": False},
            "ledger": {"log_prompts": True},
            "local": [{"name": "gemma3-270m", "path": str(starter_gguf), "n_ctx": 512}],
            "cloud": [
                {**c, "fallbacks": f}
                for c, f in zip(cloud_settings(gpt, claude)[:2], (["cloud/claude"], []), strict=True)
            ],
        }
    )
    config = config.replace('key = "openai"', 'key_env = "HARDENING_OPENAI_KEY"')
    outputs: list[str] = []
    with ServeProcess(home, config, env=env, log_level="debug") as daemon:
        url = daemon.url

        def record(r: httpx.Response) -> None:
            outputs.append(r.text + " ".join(f"{k}: {v}" for k, v in r.headers.items()))

        def chat(model: str, stream: bool = False, path: str = "/v1/chat/completions") -> httpx.Response:
            body: dict[str, Any] = {"model": model, "messages": MSG, "max_tokens": 8, "stream": stream}
            r = httpx.post(url + path, json=body, timeout=120)
            record(r)
            return r

        for stream in (False, True):
            assert chat("cloud/gpt", stream).status_code == 200
            assert chat("cloud/claude", stream, "/v1/messages").status_code == 200
        assert gpt.requests[0].headers["authorization"] == f"Bearer {ENV_KEY}"  # where the key must go
        assert claude.requests[0].headers["x-api-key"] == KEYRING_KEY

        gpt.api_key = "sk-the-upstream-wants-another"  # refused, and the refusal echoes what we sent
        r = chat("cloud/gpt")
        assert r.status_code == 200 and r.headers["x-edgeroute-model"] == "cloud/claude"
        claude.always = Fault.http(500, "internal error")
        assert chat("cloud/gpt", stream=True).status_code >= 500
        claude.api_key = "sk-ant-another-one"
        claude.always = None
        assert chat("cloud/claude", path="/v1/messages").status_code >= 400
        assert chat("local/gemma3-270m").status_code == 200  # starts a worker

        for path in ("/api/requests?limit=500", "/api/stats?window=all", "/metrics", "/health", "/v1/models"):
            record(httpx.get(url + path, timeout=30))

        procs = daemon.tree()
        assert len(procs) >= 2, "expected the daemon and its worker"
        for proc in procs:
            assert proc.rlimit(psutil.RLIMIT_CORE) == (0, 0), proc.cmdline()

        files_running = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
        assert any(p.name.endswith("-wal") for p in files_running), sorted(files_running)

    ledger_rows = [o for o in outputs if '"requests"' in o]
    assert ledger_rows and "Incorrect API key provided" in "".join([*outputs, daemon.log()])
    for text in outputs:
        assert not leaks(text), text[:500]
    assert "DEBUG" in daemon.log()
    for path in [*files_running, *(p for p in home.rglob("*") if p.is_file())]:
        data = files_running.get(path) if path in files_running else path.read_bytes()
        assert not leaks(data or b""), path


@pytest.fixture
def busy_stack(
    clouds: tuple[FakeCloud, FakeCloud], starter_gguf: Path, tmp_path: Path
) -> Iterator[tuple[LiveServer, FakeCloud, FakeCloud]]:
    gpt, claude = clouds
    settings = make_settings(
        starter_gguf,
        engine={"keep_alive": -1, "use_extra_bufts": False, "queue_depth": 1},
        cloud=cloud_settings(gpt, claude),
        router={"default_fallbacks": ["cloud/gpt", "cloud/claude"]},
    )
    with LiveServer(create_app(settings, home_paths(tmp_path / "home"), keys=memory_keys())) as live:
        yield live, gpt, claude


def test_private_request_never_falls_back_to_the_cloud_even_when_local_fails(
    busy_stack: tuple[LiveServer, FakeCloud, FakeCloud],
) -> None:
    live, gpt, claude = busy_stack
    gpt.reset(Reply(text="cloud answer"))
    long = {"model": "local/gemma3-270m", "messages": MSG, "max_tokens": 60, "stream": True}
    holders = [
        threading.Thread(target=lambda: httpx.post(live.url + "/v1/chat/completions", json=long, timeout=120))
        for _ in range(2)
    ]
    for t in holders:  # one generating, one waiting: the queue (depth 1) is full
        t.start()
    try:
        _wait_busy(live.url)
        body = {"model": "auto", "messages": MSG, "max_tokens": 4}
        private = {"x-edgeroute-private": "1"}
        r = httpx.post(live.url + "/v1/chat/completions", json=body, headers=private, timeout=60)
        assert r.status_code == 503 and r.json()["error"]["code"] == "local_busy"
        assert "retry-after" in r.headers
        r = httpx.post(
            live.url + "/v1/messages", json={**body, "model": "cloud/gpt"}, headers=private, timeout=60
        )
        assert r.status_code >= 400 and r.json()["type"] == "error"  # a pinned cloud model is refused too
        rows = httpx.get(live.url + "/api/requests?limit=2", timeout=30).json()["requests"]
        assert [a["target"] for a in rows[1]["attempts"]] == ["local/gemma3-270m"]
        # the router keeps it local, or the dispatcher skips the cloud target without a request
        assert all(a["target"].startswith("local/") or a["error"] == "private" for a in rows[0]["attempts"])
        assert gpt.count() == 0 and claude.count() == 0

        r = httpx.post(live.url + "/v1/chat/completions", json=body, timeout=60)  # not private: fallback
        assert r.status_code == 200 and r.headers["x-edgeroute-model"] == "cloud/gpt"
        assert r.headers["x-edgeroute-fallbacks"].startswith("local/gemma3-270m:local_busy")
        assert gpt.count() == 1
    finally:
        for t in holders:
            t.join(timeout=120)


def _wait_busy(url: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        models = httpx.get(url + "/api/engine", timeout=10).json()["models"]
        if any(m["active"] and m["queued"] >= 1 for m in models):
            return
        time.sleep(0.02)
    raise AssertionError("the local model never got busy")
