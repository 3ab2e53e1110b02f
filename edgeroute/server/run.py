"""Running the app under uvicorn on an already-bound socket, with the pid/state files and logging."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.paths import Paths


KEEP_ALIVE_S = 30
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _PlainUvicornName(logging.Filter):
    """uvicorn logs its life-cycle lines ("Started server process") as ``uvicorn.error``; name them
    ``uvicorn`` so an info line does not read as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.name = "uvicorn"
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's loggers without handlers of their own: their records go to the root handler, so the log
    has one format (``time LEVEL logger: message``) instead of edgeroute's lines and uvicorn's ``INFO:``
    lines mixed. Existing loggers stay enabled; levels come from uvicorn's ``log_level``."""
    loggers: dict[str, dict[str, Any]] = {
        name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    loggers["uvicorn.error"]["filters"] = ["plain_name"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"plain_name": {"()": _PlainUvicornName}},
        "loggers": loggers,
    }


def run_server(
    settings: Settings, paths: Paths, sock: socket.socket, url: str, log_level: str = "info"
) -> None:
    import uvicorn

    from edgeroute import daemon
    from edgeroute.server.app import create_app
    from edgeroute.server.transport import http_protocol

    daemon.disable_core_dumps()
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
    app = create_app(settings, paths, freeze_gc=True)
    config = uvicorn.Config(
        app,
        http=http_protocol(),
        log_level=log_level,
        log_config=uvicorn_log_config(),
        access_log=False,  # request lines add nothing the ledger lacks, and cost time per request
        timeout_graceful_shutdown=int(settings.server.drain_seconds) or None,
        server_header=False,
        # Longer than the 5 s idle expiry of httpx-based clients (the OpenAI and Anthropic SDKs): with equal
        # timeouts a client may reuse a connection the server is closing that instant and get a ReadError.
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    server = uvicorn.Server(config)
    daemon.write_state(paths, url)
    logging.getLogger("edgeroute").info("edgeroute listening on %s", url)
    try:
        server.run(sockets=[sock])
    finally:
        daemon.clear_state(paths)
