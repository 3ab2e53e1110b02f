"""The daemon's life cycle as a user drives it: serve --detach, status, stop, clear errors, service files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

EXE = str(Path(sys.executable).parent / "edgeroute")


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(home: Path, gguf: Path, port: int) -> Path:
    cfg = home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(
        f'[server]\nport = {port}\n[engine]\nuse_extra_bufts = false\n[[local]]\nname = "gemma3-270m"\npath = "{gguf}"\n'
    )
    return cfg


def test_detach_status_stop_round_trip(edgeroute_home: Path, starter_gguf: Path) -> None:
    port = free_port()
    write_config(edgeroute_home, starter_gguf, port)
    assert run("status").returncode == 1

    logs = edgeroute_home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "edgeroute.log").write_text("the previous run\n")

    started = run("serve", "--detach")
    assert started.returncode == 0, started.stderr
    assert f"127.0.0.1:{port}" in started.stdout
    assert (logs / "edgeroute.log.1").read_text() == "the previous run\n"  # a fresh file for each start
    pid_file = edgeroute_home / "run" / "edgeroute.pid"
    pid = int(pid_file.read_text())
    try:
        status = run("status", "--json")
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)
        assert info["running"] and info["pid"] == pid and info["url"] == f"http://127.0.0.1:{port}"

        again = run("serve", "--detach")
        assert again.returncode == 1 and "already running" in again.stderr and "Traceback" not in again.stderr

        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
            timeout=60,
        )
        assert r.status_code == 200
        assert "gemma3-270m" in run("status").stdout  # loaded models are listed
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0 and str(pid) in stopped.stdout
    assert not pid_file.exists()
    assert run("status").returncode == 1
    log = (logs / "edgeroute.log").read_text()
    assert "listening" in log and "the previous run" not in log


def test_log_rotation_keeps_the_last_runs(tmp_path: Path) -> None:
    from edgeroute.daemon import rotate_log

    log = tmp_path / "edgeroute.log"
    for run_number in range(1, 6):
        rotate_log(log, keep=3)
        log.write_text(f"run {run_number}\n")
    rotate_log(log.with_name("never-written.log"), keep=3)  # nothing to rotate: no error
    assert log.read_text() == "run 5\n"
    assert [log.with_name(f"edgeroute.log.{n}").read_text() for n in (1, 2, 3)] == [
        "run 4\n",
        "run 3\n",
        "run 2\n",
    ]
    assert not log.with_name("edgeroute.log.4").exists()
    log.write_text("")
    rotate_log(log, keep=3)  # an empty log is reused, not rotated
    assert log.with_name("edgeroute.log.1").read_text() == "run 4\n"


def test_port_taken_is_a_clear_message(edgeroute_home: Path, starter_gguf: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        write_config(edgeroute_home, starter_gguf, port)
        out = run("serve")
    assert out.returncode == 1
    assert f"Port {port}" in out.stderr and "already in use" in out.stderr and "Traceback" not in out.stderr


def test_non_loopback_bind_requires_a_token(edgeroute_home: Path, starter_gguf: Path) -> None:
    write_config(edgeroute_home, starter_gguf, free_port())
    out = run("serve", "--host", "0.0.0.0")
    assert out.returncode == 1 and "api_tokens" in out.stderr and "Traceback" not in out.stderr


def test_service_install_and_uninstall_write_a_user_unit(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    out = run("service", "install", env=env)
    assert out.returncode == 0 and "systemctl --user" in out.stdout
    unit = tmp_path / "xdg" / "systemd" / "user" / "edgeroute.service"
    text = unit.read_text()
    assert "ExecStart=" in text and "-m edgeroute serve" in text and "WantedBy=default.target" in text
    assert run("service", "uninstall", env=env).returncode == 0 and not unit.exists()


def test_a_reused_pid_is_not_taken_for_the_daemon(edgeroute_home: Path) -> None:
    """A daemon killed unnoticed leaves its state file behind; when another process later gets its pid,
    `stop` must not signal it and `serve` must not refuse to start because of it."""
    from edgeroute.paths import resolve_paths

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        paths = resolve_paths()
        paths.runtime_dir.mkdir(parents=True, exist_ok=True)
        paths.state_file.write_text(
            json.dumps({"pid": bystander.pid, "url": "http://127.0.0.1:9", "started": time.time() - 600.0})
        )
        stopped = run("stop")
        assert stopped.returncode == 1 and "not running" in stopped.stdout, stopped
        assert bystander.poll() is None  # never signalled
        assert not paths.state_file.exists()  # the stale state is cleared
        assert run("status").returncode == 1
    finally:
        bystander.kill()
        bystander.wait()
