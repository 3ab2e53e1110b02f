"""A real uvicorn server on an ephemeral loopback port, in a background thread, for end-to-end tests."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import anthropic
import openai
import uvicorn

from edgeroute.server.transport import http_protocol


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            http=http_protocol(),  # the daemon's own (edgeroute.server.run)
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def oai(live: LiveServer) -> openai.OpenAI:
    """The official OpenAI SDK pointed at ``live``, without retries (a test sees the first answer)."""
    return openai.OpenAI(base_url=live.url + "/v1", api_key="edgeroute", max_retries=0)


def ant(live: LiveServer) -> anthropic.Anthropic:
    """The official Anthropic SDK pointed at ``live``, without retries."""
    return anthropic.Anthropic(base_url=live.url, api_key="edgeroute", max_retries=0)


def final_message(live: LiveServer, request: dict[str, Any], *, streamed: bool) -> Any:
    """The Anthropic SDK's answer to ``request``, assembled from its stream or whole."""
    if streamed:
        with ant(live).messages.stream(**request) as stream:
            return stream.get_final_message()
    return ant(live).messages.create(**request)
