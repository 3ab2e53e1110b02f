"""TurnWriter: the writes of one event-loop turn leave in one write, in order, and nothing is lost at close."""

from __future__ import annotations

import asyncio
import socket

import httpx

from edgeroute.server.transport import TurnWriter, http_protocol
from tests.server.live import LiveServer


class Recording(asyncio.Transport):
    """Stands in for the socket transport uvicorn is given (asyncio's, not ours): records each write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def writelines(self, list_of_data: object) -> None:
        self.writes.append(b"".join(list_of_data))  # type: ignore[arg-type]

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return f"extra:{name}"


async def test_the_writes_of_one_turn_leave_as_one() -> None:
    inner = Recording()
    writer = TurnWriter(inner, asyncio.get_running_loop())
    buffer = bytearray(b"HTTP/1.1 200 OK\r\n\r\n")
    writer.write(buffer)
    buffer[:] = b"reused by the caller"  # the writer kept its own copy
    writer.writelines([b"{", b"}"])
    writer.write(b"")  # an empty write holds nothing
    assert inner.writes == [] and writer.get_write_buffer_size() == 21
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    writer.write(b"next turn")
    await asyncio.sleep(0)
    assert inner.writes[1:] == [b"next turn"]


async def test_close_sends_what_is_held_and_abort_drops_it() -> None:
    inner = Recording()
    writer = TurnWriter(inner, asyncio.get_running_loop())
    writer.write(b"last words")
    writer.close()
    assert inner.writes == [b"last words"] and inner.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing more to send
    assert inner.writes == [b"last words"]

    inner = Recording()
    writer = TurnWriter(inner, asyncio.get_running_loop())
    writer.write(b"never sent")
    writer.abort()
    await asyncio.sleep(0)
    assert inner.writes == [] and inner.aborted


async def test_everything_else_is_the_real_transports() -> None:
    writer = TurnWriter(Recording(), asyncio.get_running_loop())
    assert writer.get_extra_info("peername") == "extra:peername"
    assert not writer.is_closing()


def test_the_daemon_protocol_answers_keep_alive_requests_in_order() -> None:
    """The real protocol under uvicorn: several requests on one connection, and a raw HTTP/1.1 exchange
    whose answer arrives whole."""

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] in ("http", "lifespan")
        if scope["type"] == "lifespan":
            return
        body = str(scope["path"]).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )  # type: ignore[operator]
        await send({"type": "http.response.body", "body": body})  # type: ignore[operator]

    assert http_protocol() != "auto"
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert [client.get(f"/r{i}").text for i in range(20)] == [f"/r{i}" for i in range(20)]
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(b"GET /raw HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
            data = b""
            while chunk := raw.recv(65536):
                data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\n/raw")
