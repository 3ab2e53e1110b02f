"""A recognizable fake key goes through every path that could leak it (keyring storage, requests that
succeed, a provider that echoes the refused key back in its 401, 5xx failures, all-targets-failed errors,
``keys list``, ``config show``), and is then searched for in every log line at DEBUG (the HTTP client's
loggers included), every error body and header value, the CLI output, and every file under EDGEROUTE_HOME."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeroute.chat import RouteDecision
from edgeroute.cli.main import cli
from edgeroute.config import load_settings
from edgeroute.dispatch import Dispatcher
from edgeroute.errors import EdgerouteError
from edgeroute.keys import KeyStore
from edgeroute.paths import ensure_dir, resolve_paths
from edgeroute.providers import CloudPool
from tests.fakes.cloud import FakeCloud, Fault
from tests.fakes.local import ScriptedLocal
from tests.providers.helpers import collect, simple_request

FAKE_KEY = "sk-LEAKCHECK-7f3a9c2e41d8b6a0-edgeroute"
FAKE_KEY_2 = "sk-ant-LEAKCHECK-5e0d9b7c3a1f2468"
PIECES = ("LEAKCHECK", "7f3a9c2e41d8b6a0", "5e0d9b7c3a1f2468")


def leaks(text: str) -> list[str]:
    return [p for p in (FAKE_KEY, FAKE_KEY_2, *PIECES) if p in text]


async def test_keys_never_leak(
    tmp_path: Path,
    edgeroute_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fake_cloud: FakeCloud,
    fake_cloud_b: FakeCloud,
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv(
        "XDG_DATA_HOME", str(tmp_path / "keyring-data")
    )  # the keyring's own file, outside the home
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "keyring-config"))
    paths = resolve_paths()
    config = paths.config_file
    ensure_dir(config.parent)
    config.write_text(
        f"""
[[cloud]]
name = "gpt"
provider = "openai"
base_url = "{fake_cloud.openai_base_url}"
model = "gpt-4o"
fallbacks = ["cloud/claude"]
max_retries = 1

[[cloud]]
name = "claude"
provider = "anthropic"
base_url = "{fake_cloud_b.anthropic_base_url}"
model = "claude-sonnet"
max_retries = 0
"""
    )
    ensure_dir(paths.log_dir)
    file_log = logging.FileHandler(paths.log_file)
    logging.getLogger().addHandler(file_log)
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    try:
        runner = CliRunner()
        for name, secret in (("openai", FAKE_KEY), ("anthropic", FAKE_KEY_2)):
            result = runner.invoke(cli, ["keys", "set", name, "--stdin"], input=secret + "\n")
            assert result.exit_code == 0, result.output
            outputs.append(result.output)

        settings = load_settings(config)
        pool = CloudPool(sleep=_no_wait)
        dispatcher = Dispatcher(settings, pool, KeyStore(), ScriptedLocal())
        decision = RouteDecision(tier="cloud", target="cloud/gpt", reason="test")

        # 1. openai refuses the key and echoes it back; anthropic answers.
        fake_cloud.api_key = "sk-the-one-the-upstream-wants"
        opened = await dispatcher.open_stream(simple_request(), decision)
        await collect(opened.events)
        assert opened.target == "cloud/claude"
        outputs += [a.header_value() + a.message for a in opened.trail]

        # 2. everything fails: 401 with the echo, then 500s (retried) on the fallback.
        fake_cloud_b.always = Fault.http(500, "internal error")
        with pytest.raises(EdgerouteError) as info:
            await dispatcher.open_stream(simple_request(), decision)
        error = info.value
        outputs += [str(error), json.dumps(error.to_openai()), json.dumps(error.to_anthropic())]
        outputs += [a.header_value() + a.message for a in error.attempts]
        assert "Incorrect API key provided" in str(error)  # the echo was there, scrubbed
        await pool.aclose()

        # 3. what the CLI shows
        for args in (["keys", "list"], ["config", "show"], ["config", "show", "--json"]):
            result = runner.invoke(cli, args)
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
        assert "…" in outputs[-3]  # keys list shows masked tails
        # what reached the upstreams did carry the key (the one place it must go)
        assert fake_cloud.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"
        assert fake_cloud_b.requests[0].headers["x-api-key"] == FAKE_KEY_2
    finally:
        logging.getLogger().removeHandler(file_log)
        file_log.close()

    log_lines = [f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert any(r.name == "edgeroute.dispatch" for r in caplog.records)
    for line in log_lines + outputs:
        assert not leaks(line), line
    files = [p for p in edgeroute_home.rglob("*") if p.is_file()]
    assert paths.log_file in files
    for path in files:
        assert not leaks(path.read_text(errors="replace")), path
    # and the key really is in the keyring file, outside the edgeroute folders
    assert (tmp_path / "keyring-data" / "python_keyring" / "keyring_pass.cfg").exists()


async def _no_wait(seconds: float) -> None:
    return None
