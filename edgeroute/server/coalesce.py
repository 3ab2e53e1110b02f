"""Group a stream's events by what is ready together, so an SSE response writes them in one send.

An upstream often delivers several events in one network read (a fast model, a buffering proxy, the whole
answer of a short reply); rendered one send each, they cost a syscall and a client wake-up apiece, which
was most of what a proxied stream cost over a proxied JSON answer. :class:`ReadyGroups` pulls the source
in a task of its own into a buffer; the reader takes everything buffered at once. Events parsed from one
network read are appended before the pulling task next waits, so they come out together; a token stream
that trickles in comes out event by event, never held back.

The source runs entirely inside that task, so its timeouts and cancellations stay its own (the upstream's
deadlines cancel the task they run in); its errors reach the reader after the events before them;
:meth:`aclose` cancels the task and waits until the source has unwound (its ``finally`` blocks close the
upstream connection or free the local model).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_BUFFERED = 256  # events read ahead of a slow client before the source is paused


class ReadyGroups(Generic[T]):
    def __init__(self, events: AsyncIterator[T]) -> None:
        self._events = events
        self._buffer: list[T] = []
        self._error: BaseException | None = None
        self._ended = False
        self._readable = asyncio.Event()  # the buffer has something, or the source ended
        self._writable = asyncio.Event()  # the buffer has room
        self._writable.set()
        self._task: asyncio.Task[None] | None = None

    async def _pull(self) -> None:
        try:
            async for event in self._events:
                self._buffer.append(event)
                self._readable.set()
                if len(self._buffer) >= MAX_BUFFERED:
                    self._writable.clear()
                    await self._writable.wait()
        except Exception as exc:  # delivered after the events that came before it
            self._error = exc
        finally:
            self._ended = True
            self._readable.set()
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):  # the source's own cleanup failing changes nothing here
                    await aclose()

    async def next(self) -> list[T] | None:
        """The next group (non-empty, in order), or None once the source is exhausted."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._pull())
        while not self._buffer and not self._ended:
            self._readable.clear()
            await self._readable.wait()
        if self._buffer:
            group, self._buffer = self._buffer, []
            self._writable.set()
            return group
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return None

    async def aclose(self) -> None:
        """Stop the source and wait until it has unwound."""
        task = self._task
        if task is None:
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()
            return
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task) if not task.done() else task.result()
