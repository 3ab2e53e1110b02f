"""Fan-out of finished requests to live subscribers (``/api/events``).

Each subscriber has a bounded queue. One that falls ``maxsize`` events behind is dropped rather than letting
memory grow or slowing the ledger: its iteration ends (``dropped`` is True) and the client reconnects and
re-reads ``/api/requests``. Everything here runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeroute.ledger.record import LedgerRecord


class Subscription:
    """An async iterator of records; use ``async with`` (or call ``close()``) so it unregisters."""

    def __init__(self, hub: EventHub, maxsize: int) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[LedgerRecord | None] = asyncio.Queue(maxsize=maxsize)
        self.dropped = False
        self.closed = False

    def _offer(self, record: LedgerRecord) -> bool:
        """Queue a record; False when full (the hub then drops this subscriber)."""
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            return False
        return True

    def _end(self, *, dropped: bool) -> None:
        if self.closed:
            return
        self.closed = True
        self.dropped = dropped
        while not self._queue.empty():  # make room for the end marker; a dropped reader loses its backlog
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def close(self) -> None:
        self._hub.unsubscribe(self)
        self._end(dropped=self.dropped)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> LedgerRecord:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # keep ending for any further reads
            raise StopAsyncIteration
        return item

    async def get(self, timeout: float | None = None) -> LedgerRecord | None:
        """The next record, or None on timeout or when the subscription ended (SSE keep-alives use it)."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except (StopAsyncIteration, asyncio.TimeoutError):
            return None

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventHub:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self, maxsize: int = 256) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, record: LedgerRecord) -> None:
        for sub in list(self._subscribers):
            if not sub._offer(record):
                self._subscribers.discard(sub)
                sub._end(dropped=True)

    def close_all(self) -> None:
        for sub in list(self._subscribers):
            sub.close()

    def __len__(self) -> int:
        return len(self._subscribers)
