"""Run any ASGI app under a real uvicorn server on an ephemeral 127.0.0.1 port, in a background thread.

Used for fake upstreams (the fake cloud) so the code under test does real HTTP over loopback: real sockets,
real chunked streaming, real connection drops.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connect refused), for connection-error tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class LoopbackServer:
    """``with LoopbackServer(app) as server: server.url``; or :meth:`start` / :meth:`stop`."""

    def __init__(self, app: Any, *, graceful_shutdown_s: float = 2.0) -> None:
        self._app = app
        self._graceful = graceful_shutdown_s
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the server is not running")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_config=None,  # leave the process's logging alone
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=max(1, round(self._graceful)),
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"loopback-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self._graceful + 10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None
        self.port = 0

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
