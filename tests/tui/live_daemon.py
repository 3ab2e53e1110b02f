"""A real ``edgeroute serve`` in a subprocess, on a loopback port, with its own EDGEROUTE_HOME: the starter
model as the local tier and a fake cloud upstream (tests/fakes) as the cloud tier."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

EXE = str(Path(sys.executable).parent / "edgeroute")
CLOUD_KEY_ENV = "TUI_TEST_CLOUD_KEY"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(home: Path, gguf: Path, port: int, cloud_base_url: str | None) -> Path:
    """Prices are large on purpose so a handful of tokens give cents that read well on screen."""
    cfg = home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    text = (
        f"[server]\nport = {port}\n"
        "[engine]\nuse_extra_bufts = false\nkeep_alive = -1\n"
        f'[[local]]\nname = "gemma3-270m"\npath = "{gguf}"\n'
        "[budget]\ndaily_usd = 5.0\n"
    )
    if cloud_base_url:
        text += (
            f'[[cloud]]\nname = "fake-gpt"\nprovider = "openai"\nbase_url = "{cloud_base_url}"\n'
            f'model = "gpt-fake"\nkey_env = "{CLOUD_KEY_ENV}"\nprice_in = 2500.0\nprice_out = 10000.0\n'
            '[savings]\nreference = "cloud/fake-gpt"\n'
        )
    cfg.write_text(text)
    return cfg


class LiveDaemon:
    def __init__(self, home: Path, gguf: Path, cloud_base_url: str | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        write_config(home, gguf, self.port, cloud_base_url)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("EDGEROUTE_")},
            "EDGEROUTE_HOME": str(home),
            CLOUD_KEY_ENV: "sk-fake-cloud-key-for-tui-tests",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> LiveDaemon:
        log = open(self.home / "serve.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [EXE, "serve", "--port", str(self.port), "--log-level", "warning"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edgeroute serve exited: {(self.home / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("edgeroute serve did not answer in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> LiveDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def chat(self, model: str = "auto", text: str = "Say hi.") -> httpx.Response:
        return httpx.post(
            self.url + "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 4},
            timeout=120,
        )

    async def achat(self, model: str = "auto", text: str = "Say hi.") -> httpx.Response:
        async with httpx.AsyncClient(timeout=120) as client:
            return await client.post(
                self.url + "/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 4},
            )

    def get(self, path: str, **params: object) -> dict[str, object]:
        response = httpx.get(self.url + path, params=params, timeout=10)  # type: ignore[arg-type]
        response.raise_for_status()
        data: dict[str, object] = response.json()
        return data
