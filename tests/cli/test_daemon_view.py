"""`status`, `keys list` and `stop` against a real detached daemon whose environment differs from the
shell's (the console script in subprocesses, tmp EDGEROUTE_HOME, the real starter GGUF, never loaded)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

EXE = str(Path(sys.executable).parent / "edgeroute")
STAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=120)


def test_status_reports_the_daemons_keys_and_a_killed_daemon_is_reported_as_exited(
    edgeroute_home: Path, starter_gguf: Path
) -> None:
    port = free_port()
    cfg = edgeroute_home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(
        f'[server]\nport = {port}\n[engine]\nuse_extra_bufts = false\n[[local]]\nname = "gemma3-270m"\npath = "{starter_gguf}"\n'
        '[[cloud]]\nname = "gpt"\nprovider = "openai"\nmodel = "gpt-4o"\nkey_env = "MY_OPENAI_KEY"\n'
        '[[cloud]]\nname = "claude"\nprovider = "anthropic"\nmodel = "claude-sonnet-4"\n'
    )
    shell = {k: v for k, v in os.environ.items() if k != "MY_OPENAI_KEY"}
    shell["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # no keyring: deterministic
    started = run("serve", "--detach", env=shell | {"MY_OPENAI_KEY": "sk-daemon-only-0123456789"})
    assert started.returncode == 0, started.stderr
    pid = int((edgeroute_home / "run" / "edgeroute.pid").read_text())
    try:
        status = run("status", env=shell)  # this shell lacks MY_OPENAI_KEY; the daemon has it
        assert status.returncode == 0, status.stderr
        assert "cloud models with a key: cloud/gpt" in status.stdout
        assert "cloud/gpt: the daemon has no key" not in status.stdout
        assert (
            "cloud/claude: the daemon has no key - add one with `edgeroute keys set anthropic`"
            in status.stdout
        )
        info = json.loads(run("status", "--json", env=shell).stdout)
        assert (info["cloud_with_key"], info["cloud_without_key"]) == (["gpt"], ["claude"])

        listed = run("keys", "list", env=shell)  # the shell's view, said to be the shell's
        assert listed.stdout.splitlines()[1].split() == [
            "openai",
            "env",
            "MY_OPENAI_KEY",
            "not",
            "set",
            "cloud/gpt",
        ]
        assert "sk-daemon-only" not in status.stdout + listed.stdout + listed.stderr
    finally:
        os.kill(pid, signal.SIGKILL)  # as a crash or the OOM killer would
    stopped = run("stop", env=shell)
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr
    assert f"the daemon (pid {pid}) exited without shutting down" in stopped.stdout
    assert "does not answer" not in stopped.stdout
    assert not (edgeroute_home / "run" / "edgeroute.pid").exists()
    assert "not running (start it" in run("status", env=shell).stdout

    log = [line for line in (edgeroute_home / "logs" / "edgeroute.log").read_text().splitlines() if line]
    assert any("uvicorn: Application startup complete" in line for line in log), log
    assert [line for line in log if not STAMPED.match(line)] == []  # one format: no bare `INFO:` lines
