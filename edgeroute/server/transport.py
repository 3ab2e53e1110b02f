"""The HTTP protocol the daemon runs under uvicorn: uvicorn's httptools protocol, with each turn's writes
joined into one.

uvicorn writes a response's status line and headers, then its body, as two ``transport.write`` calls, and
uvloop sends each at once: two trips through the loopback TCP stack per answer, and a client that may wake
up for the headers only to sleep again until the body arrives. :class:`TurnWriter` holds what is written
during one turn of the event loop and sends it as one gathered write (writev) when the turn's callbacks
run, so a JSON answer (or a stream's headers with its first events) leaves in one system call.
"""

from __future__ import annotations

import asyncio
from typing import Any


class TurnWriter:
    """A transport wrapper: ``write`` collects, one ``call_soon`` sends the turn's bytes in one write.
    ``close`` sends what is held first; ``abort`` drops it. Everything else is the real transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:  # uvicorn ends a body with an empty write; nothing to send
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        # bytes are kept as they are; a bytearray or memoryview is copied (its owner may reuse it)
        self._held.append(data if type(data) is bytes else bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._held:
            return
        held, self._held = self._held, []
        if not self._transport.is_closing():
            # One gathered write (writev) of the pieces: no copy of a large body into a joined buffer.
            self._transport.writelines(held)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def http_protocol() -> type[asyncio.Protocol] | str:
    """The protocol class for ``uvicorn.Config(http=...)``: httptools with :class:`TurnWriter`, or
    uvicorn's own choice where httptools is missing (it then falls back to h11)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
        return "auto"

    class TurnWriterProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(TurnWriter(transport, self.loop))  # type: ignore[arg-type]

    return TurnWriterProtocol
