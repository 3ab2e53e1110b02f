"""SSEResponse: a client that goes away cancels the stream once (the body's cleanup runs) and the server sees
a normal return; a cancellation from anywhere else still propagates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from edgeroute.server.respond import SSEResponse


def endless(log: list[str]) -> AsyncIterator[bytes]:
    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await asyncio.sleep(3600)  # a model that has not produced its next token yet
            yield b"data: never\n\n"
        finally:
            log.append("closed")

    return body()


async def test_a_client_disconnect_ends_the_stream_quietly() -> None:
    log: list[str] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(SSEResponse(endless(log))({"type": "http"}, receive, send), 5)
    assert log == ["closed"]  # the body's finally ran: the upstream or local model is released
    assert sent[0]["type"] == "http.response.start" and sent[1]["body"] == b"data: 1\n\n"


async def test_a_cancellation_that_is_not_a_disconnect_propagates() -> None:
    log: list[str] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        return None

    task = asyncio.ensure_future(SSEResponse(endless(log))({"type": "http"}, receive, send))
    await asyncio.sleep(0.05)
    task.cancel()  # e.g. the server shutting down
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["closed"]
