"""Running edgeroute as a background daemon: the pid/state files, binding the port with a clear error,
starting detached, reporting status and stopping gracefully."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeroute.paths import Paths, ensure_dir

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
LOG_GENERATIONS = 3  # earlier runs' logs kept next to the current one


class DaemonError(Exception):
    """A user-facing problem starting or stopping the daemon (printed without a traceback)."""


@dataclass(frozen=True, slots=True)
class DaemonState:
    pid: int
    url: str
    started: float
    log_file: str
    boot: float | None = None  # the boot time as the clock read it when the state was written


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return (
        f"http://[{shown}]:{port}" if ":" in shown and not shown.startswith("[") else f"http://{shown}:{port}"
    )


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs. A zombie does not: a daemon killed while its parent does not reap it (a
    container whose init never calls wait) keeps its pid but answers nothing and never will."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # not ours to inspect: it runs, as far as we can tell
        return False


def read_state(paths: Paths) -> DaemonState | None:
    """The running daemon's state, or None; stale files from a dead process are removed."""
    return find_state(paths)[0]


def find_state(paths: Paths) -> tuple[DaemonState | None, DaemonState | None]:
    """``(running, exited)``: the running daemon's state, or the state a daemon left behind when it died
    without clearing it (SIGKILL, a crash, power loss); the stale files are removed. ``(None, None)`` when
    there is no state file, so ``status`` and ``stop`` can tell "never started" from "exited"."""
    try:
        data = json.loads(paths.state_file.read_text())
        boot = data.get("boot")
        state = DaemonState(
            int(data["pid"]),
            str(data["url"]),
            float(data["started"]),
            str(data.get("log_file", "")),
            float(boot) if isinstance(boot, int | float) else None,
        )
    except (OSError, ValueError, KeyError):
        return None, None
    if not pid_alive(state.pid) or not _started_by_then(state):
        clear_state(paths)
        return None, state
    return state, None


def _started_by_then(state: DaemonState) -> bool:
    """Whether the process now holding ``state.pid`` is the one that wrote the state: the daemon writes it
    after it started, while a process that reused the pid of a daemon that died unnoticed (SIGKILL, power
    loss) started later. Without this, ``stop`` would signal an unrelated process."""
    import psutil

    try:
        created = psutil.Process(state.pid).create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # not ours to inspect (another user's process): trust the pid, as before
        return True
    if sys.platform.startswith("linux") and state.boot is not None:
        # Linux reports a start time as boot time + time since boot, the boot time as the clock reads now:
        # a clock set forward since the daemon started (NTP on a board without a clock battery, WSL2 after
        # a sleep) would put the daemon's start after ``started``. The time since boot does not move.
        return created - psutil.boot_time() <= state.started - state.boot + 1.0
    return created <= state.started + 1.0  # the two clocks differ by rounding only


def write_state(paths: Paths, url: str) -> None:
    import psutil

    ensure_dir(paths.runtime_dir)
    state = {
        "pid": os.getpid(),
        "url": url,
        "started": time.time(),
        "boot": psutil.boot_time(),
        "log_file": str(paths.log_file),
    }
    tmp = paths.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, paths.state_file)
    paths.pid_file.write_text(f"{os.getpid()}\n")


def clear_state(paths: Paths) -> None:
    for path in (paths.state_file, paths.pid_file):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def disable_core_dumps() -> None:
    """No core files of the daemon or its workers: they inherit this limit, and a core file would hold
    the cloud keys the daemon had in memory (and prompts) on disk, where any backup or crash reporter may
    pick it up. The hard limit is 0 too, so nothing in the process tree can raise it again."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows writes no core files
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def check_bind_policy(host: str, has_tokens: bool) -> None:
    if host not in LOOPBACK and not has_tokens:
        raise DaemonError(
            f"Refusing to listen on {host} without an API token: anyone who can reach this port could spend "
            "your cloud budget. Set server.api_tokens in the config, or keep host = 127.0.0.1."
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind now, so a taken port is a clear message rather than a uvicorn traceback."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DaemonError(
                f"Port {port} on {host} is already in use by another program; pick another with --port."
            ) from None
        raise DaemonError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    import httpx

    try:
        response = httpx.get(url + "/health", timeout=timeout, headers={"host": "127.0.0.1"})
        result: dict[str, Any] = response.json()
        return result
    except (httpx.HTTPError, ValueError):
        return None


def rotate_log(path: Path, keep: int = LOG_GENERATIONS) -> None:
    """``edgeroute.log`` -> ``edgeroute.log.1`` -> ... -> ``.{keep}`` (the oldest dropped): each start gets a
    fresh file, the last few runs stay readable, and a daemon restarted for months does not fill the disk
    with one ever-growing file."""
    if not path.exists() or path.stat().st_size == 0:
        return
    for n in range(keep, 0, -1):
        older = path.with_name(f"{path.name}.{n - 1}") if n > 1 else path
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{n}"))


def start_detached(paths: Paths, argv: list[str], url: str, wait_s: float = 60.0) -> DaemonState:
    """Start ``edgeroute serve`` in a new session with output to a fresh log file (the previous runs' logs
    rotated, :func:`rotate_log`); wait until it answers."""
    ensure_dir(paths.log_dir)
    rotate_log(paths.log_file)
    with open(paths.log_file, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgeroute", "serve", *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise DaemonError(f"edgeroute exited during start-up (code {code}); see {paths.log_file}")
        state = read_state(paths)
        if state is not None and state.pid == proc.pid and health(state.url, timeout=1.0) is not None:
            return state
        time.sleep(0.1)
    raise DaemonError(f"edgeroute did not answer within {wait_s:.0f}s; see {paths.log_file}")


def stop(paths: Paths, drain_s: float) -> DaemonState | None:
    """SIGTERM (uvicorn drains in-flight requests up to the drain bound), then SIGKILL past the bound."""
    state = read_state(paths)
    if state is None:
        return None
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + drain_s + 10.0
    while time.monotonic() < deadline and pid_alive(state.pid):
        time.sleep(0.05)
    if pid_alive(state.pid):
        os.kill(state.pid, signal.SIGKILL)
    clear_state(paths)
    return state


def systemd_unit_path(environ: dict[str, str] | None = None) -> Path:
    env = dict(os.environ if environ is None else environ)
    base = Path(env.get("XDG_CONFIG_HOME") or Path(env.get("HOME", str(Path.home()))) / ".config")
    return base / "systemd" / "user" / "edgeroute.service"


def launchd_plist_path(environ: dict[str, str] | None = None) -> Path:
    env = dict(os.environ if environ is None else environ)
    return Path(env.get("HOME", str(Path.home()))) / "Library" / "LaunchAgents" / "dev.edgeroute.plist"


def systemd_unit(python: str, environ: dict[str, str]) -> str:
    home = environ.get("EDGEROUTE_HOME")
    env_line = f"Environment=EDGEROUTE_HOME={home}\n" if home else ""
    return (
        "[Unit]\nDescription=edgeroute local/cloud LLM router\nAfter=network-online.target\n\n"
        f"[Service]\nExecStart={python} -m edgeroute serve\n{env_line}Restart=on-failure\nRestartSec=3\n\n"
        "[Install]\nWantedBy=default.target\n"
    )


def launchd_plist(python: str, environ: dict[str, str]) -> str:
    home = environ.get("EDGEROUTE_HOME")
    env = (
        f"  <key>EnvironmentVariables</key>\n  <dict><key>EDGEROUTE_HOME</key><string>{home}</string></dict>\n"
        if home
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
        '<plist version="1.0">\n<dict>\n  <key>Label</key><string>dev.edgeroute</string>\n'
        f"  <key>ProgramArguments</key>\n  <array><string>{python}</string><string>-m</string>"
        "<string>edgeroute</string><string>serve</string></array>\n"
        f"{env}  <key>RunAtLoad</key><true/>\n  <key>KeepAlive</key><true/>\n</dict>\n</plist>\n"
    )
