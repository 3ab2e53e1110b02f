"""A real ``edgeroute serve`` process on a loopback port, in its own EDGEROUTE_HOME, for the hardening tests
and scripts that need what only a separate process shows: its RSS and its workers', SIGKILL and restart,
its log file, its resource limits.

    with ServeProcess(home, config_text(...)) as daemon:
        httpx.get(daemon.url + "/health")
        daemon.tree_rss()          # bytes: the daemon and its worker processes
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

EXE = str(Path(sys.executable).parent / "edgeroute")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(sections: dict[str, Any]) -> str:
    """A small TOML writer for config dicts: tables of scalars, arrays of tables (``local``, ``cloud``)."""
    lines: list[str] = []
    for name, body in sections.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{name}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
                lines.append("")
        else:
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in body.items()]
            lines.append("")
    return "\n".join(lines)


def cloud_models(openai_base: str, anthropic_base: str, **extra: Any) -> list[dict[str, Any]]:
    """Two cloud models on a loopback fake: ``cloud/gpt`` (OpenAI wire) and ``cloud/claude`` (Anthropic)."""
    common = {"first_token_timeout": 10.0, "total_timeout": 60.0, **extra}
    return [
        {
            "name": "gpt",
            "provider": "openai",
            "base_url": openai_base,
            "model": "gpt-4o",
            "key_env": "HARDENING_OPENAI_KEY",
            "price_in": 2.5,
            "price_out": 10.0,
            **common,
        },
        {
            "name": "claude",
            "provider": "anthropic",
            "base_url": anthropic_base,
            "model": "claude-sonnet-4-5",
            "key_env": "HARDENING_ANTHROPIC_KEY",
            "price_in": 3.0,
            "price_out": 15.0,
            **common,
        },
    ]


class ServeProcess:
    """``edgeroute serve`` as a child process (so a test can read its RSS, SIGKILL it and start it again)."""

    def __init__(
        self,
        home: Path,
        config: str,
        *,
        env: dict[str, str] | None = None,
        port: int | None = None,
        log_level: str = "info",
    ) -> None:
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "serve.log"
        self.config_path = home / "config" / "config.toml"
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config.replace("{port}", str(self.port)))
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("EDGEROUTE_")},
            "EDGEROUTE_HOME": str(home),
            **(env or {}),
        }
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_s = 0.0

    def start(self, timeout: float = 60.0) -> ServeProcess:
        with self.log_path.open("ab") as log:
            started = time.perf_counter()
            self.proc = subprocess.Popen(
                [EXE, "serve", "--port", str(self.port), "--log-level", self.log_level],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edgeroute serve exited ({self.proc.returncode}):\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    self.ready_s = time.perf_counter() - started
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"edgeroute serve did not answer within {timeout:.0f} s:\n{self.log()}")
            time.sleep(0.02)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tree(self) -> list[Any]:
        """psutil processes: the daemon and every descendant (the llama.cpp workers)."""
        import psutil

        root = psutil.Process(self.pid)
        return [root, *root.children(recursive=True)]

    def rss_by_process(self) -> list[tuple[str, int, int]]:
        """(name, RSS bytes, anonymous RSS bytes) of the daemon, then each worker (named by its model).
        Anonymous memory is what a leak grows; the rest of a worker's RSS is mostly the GGUF file mapped by
        llama.cpp: page cache that fills as parts of the model (token embeddings) are first read."""
        import psutil

        names = self._worker_names()
        out = []
        for proc in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                name = "daemon" if proc.pid == self.pid else names.get(proc.pid, f"pid {proc.pid}")
                rss = proc.memory_info().rss
                out.append((name, rss, _anon_rss(proc.pid) or rss))
        return out

    def _worker_names(self) -> dict[int, str]:
        try:
            models = httpx.get(self.url + "/api/engine", timeout=10).json()["models"]
        except (httpx.HTTPError, ValueError, KeyError):
            return {}
        return {int(m["pid"]): str(m["name"]) for m in models}

    def tree_rss(self) -> int:
        import psutil

        total = 0
        for proc in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def kill(self) -> None:
        """SIGKILL: no shutdown, no checkpoint, no cleanup."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _anon_rss(pid: int) -> int | None:
    """RssAnon from /proc (Linux); None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
