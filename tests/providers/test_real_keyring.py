"""``edgeroute keys set/list/rm`` through a real Secret Service (gnome-keyring in a private D-Bus session).

Run by scripts/test_real_keyring, which installs and starts what it needs; the rest of the suite selects it
out with ``-m "not keyring_real"``. It skips nothing: without a session bus it fails, saying why."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.keyring_real

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-real-keyring-test-" + uuid.uuid4().hex[:16]


def edgeroute(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgeroute", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=False,
    )


def test_keys_through_the_real_secret_service(tmp_path: Path) -> None:
    assert os.environ.get("DBUS_SESSION_BUS_ADDRESS"), (
        "no D-Bus session: run this through scripts/test_real_keyring"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    env["PYTHONPATH"] = str(REPO)
    env["EDGEROUTE_HOME"] = str(tmp_path / "home")
    name = "edgeroute-test-" + uuid.uuid4().hex[:8]

    stored = edgeroute(env, "keys", "set", name, "--stdin", stdin=SECRET + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "keyring.backends.SecretService.Keyring" in stored.stdout
    assert SECRET not in stored.stdout + stored.stderr

    from keyring.backends.SecretService import Keyring as SecretService

    service = SecretService()
    assert service.get_password("edgeroute", name) == SECRET  # really in the Secret Service

    listed = edgeroute(env, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line.split() for line in listed.stdout.splitlines() if line.startswith(name))
    assert row == [name, "keyring", "…" + SECRET[-4:], "-"]
    assert "keyring: keyring.backends.SecretService.Keyring" in listed.stdout
    assert SECRET not in listed.stdout + listed.stderr

    removed = edgeroute(env, "keys", "rm", name)
    assert removed.returncode == 0, removed.stderr
    assert service.get_password("edgeroute", name) is None
    after = edgeroute(env, "keys", "list")
    assert name not in after.stdout
