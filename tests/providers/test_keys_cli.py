"""``edgeroute keys set|list|rm`` through the CLI, on an explicitly chosen file keyring in a temp dir
(the real Secret Service run is test_real_keyring.py, via scripts/test_real_keyring)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeroute.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-cli-test-abcdefghij5678"


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """keyrings.alt's plaintext file, chosen explicitly (as a user would), under a temp XDG_DATA_HOME."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return tmp_path / "xdg-data" / "python_keyring" / "keyring_pass.cfg"


def write_config(home: Path, text: str) -> None:
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


CONFIG = """
[[cloud]]
name = "gpt"
provider = "openai"
model = "gpt-4o"

[[cloud]]
name = "claude"
provider = "anthropic"
model = "claude-sonnet-4"
key_env = "MY_ANTHROPIC_KEY"
"""


def test_set_list_rm(file_keyring: Path, edgeroute_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(edgeroute_home, CONFIG)
    monkeypatch.setenv("MY_ANTHROPIC_KEY", "sk-ant-env-value-4321")
    runner = CliRunner()
    result = runner.invoke(cli, ["keys", "set", "openai", "--stdin"], input=SECRET + "\n")
    assert result.exit_code == 0, result.output
    assert "Stored the key for openai (…5678) in keyrings.alt.file.PlaintextKeyring" in result.output
    assert SECRET not in result.output
    assert file_keyring.exists()

    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SOURCE", "KEY", "USED", "BY"]
    assert lines[1].split() == ["openai", "keyring", "…5678", "cloud/gpt"]
    assert lines[2].split() == ["anthropic", "env", "MY_ANTHROPIC_KEY", "…4321", "cloud/claude"]
    assert SECRET not in listed.output and "sk-ant-env-value-4321" not in listed.output

    removed = runner.invoke(cli, ["keys", "rm", "openai"])
    assert removed.exit_code == 0 and "Removed the key for openai" in removed.output
    after = runner.invoke(cli, ["keys", "list"])
    assert after.stdout.splitlines()[1].split() == ["openai", "missing", "-", "cloud/gpt"]
    assert "`edgeroute keys set openai`" in after.stderr
    again = runner.invoke(cli, ["keys", "rm", "openai"])
    assert again.exit_code == 1 and "No key named openai" in again.output


def test_empty_or_multi_line_keys_are_refused(file_keyring: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["keys", "set", "openai", "--stdin"], input="\n").exit_code == 1
    result = runner.invoke(cli, ["keys", "set", "openai", "--stdin"], input="sk-one\nsk-two\n")
    assert result.exit_code == 1 and "one key on one line" in result.output
    bad_name = runner.invoke(cli, ["keys", "set", "../etc", "--stdin"], input=SECRET)
    assert bad_name.exit_code == 2


def test_no_keyring_backend_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    runner = CliRunner()
    result = runner.invoke(cli, ["keys", "set", "openai", "--stdin"], input=SECRET)
    assert result.exit_code == 1
    for hint in ("gnome-keyring", "KWallet", "keyrings.alt", "never falls back to a plaintext file"):
        assert hint in result.output
    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0 and "gnome-keyring" in listed.stderr
    assert not list(tmp_path.rglob("*.cfg"))  # nothing written anywhere


def test_keys_is_listed_in_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert "keys" in result.output and "OS keyring" in result.output


def test_set_prompts_without_echo(file_keyring: Path) -> None:
    """A real terminal: the typed key is not echoed back."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeroute", "keys", "set", "openai"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    os.close(slave)
    output = b""

    def read_until(marker: bytes, timeout: float = 30) -> None:
        nonlocal output
        end = time.monotonic() + timeout
        while marker not in output and time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk

    try:
        read_until(b"API key for openai")
        assert b"API key for openai" in output
        os.write(master, SECRET.encode() + b"\n")
        read_until(b"Stored the key")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"Stored the key for openai" in output
    assert SECRET.encode() not in output
