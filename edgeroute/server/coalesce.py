"""Group a stream's events by what is ready together, so an SSE response writes them in one send.

An upstream often delivers several events in one network read (a fast model, a buffering proxy, the whole
answer of a short reply); rendered one send each, they cost a syscall and a client wake-up apiece, which
was most of what a proxied stream cost over a proxied JSON answer. :class:`ReadyGroups` steps the source's
``__anext__`` coroutine by hand, in the calling task: as long as the next event comes without the source
having to wait, it joins the group; the moment the source would wait, the group is handed out first. No
event is ever held back while the source waits, so a token stream that trickles in goes out event by event.

Stepping a coroutine by hand means doing what ``asyncio.Task`` does for it: wait for the future it yielded
without taking that future's result (the coroutine takes it when resumed), and deliver an interruption of
the calling task into the coroutine. A step may be left in flight between two groups; :meth:`aclose`
unwinds it (the source's ``finally`` blocks run) before closing the source.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ReadyGroups(Generic[T]):
    def __init__(self, events: AsyncIterator[T]) -> None:
        self._events = events
        self._step: Coroutine[Any, Any, T] | None = None  # an __anext__ left waiting on I/O
        self._waiting_on: Any = None
        self._error: BaseException | None = None  # raised after the group that came before it

    async def next(self) -> list[T] | None:
        """The next group (non-empty, in order), or None once the source is exhausted."""
        group: list[T] = []
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self._step is not None:
            try:
                group.append(await self._finish())
            except StopAsyncIteration:
                return None
        while True:
            step: Coroutine[Any, Any, T] = self._events.__anext__()  # type: ignore[assignment]
            try:
                waiting_on = step.send(None)
            except StopIteration as done:
                group.append(done.value)
                continue
            except StopAsyncIteration:
                return group or None
            except Exception as exc:  # the events before it were good: they go out first
                if not group:
                    raise
                self._error = exc
                return group
            self._step, self._waiting_on = step, waiting_on
            if group:
                return group
            group.append(await self._finish())

    async def _finish(self) -> T:
        """Drive the step in flight to its value."""
        step = self._step
        assert step is not None
        try:
            while True:
                pending: BaseException | None = None
                if self._waiting_on is None:  # a bare yield (``asyncio.sleep(0)``): one loop turn
                    try:
                        await asyncio.sleep(0)
                    except BaseException as exc:
                        pending = exc
                else:
                    # What Task.__step does with a yielded future before waiting on it.
                    self._waiting_on._asyncio_future_blocking = False
                    try:
                        await self._waiting_on
                    except BaseException as exc:
                        if not self._waiting_on.done():  # an interruption of ours, not the future's outcome
                            pending = exc
                try:
                    self._waiting_on = step.throw(pending) if pending is not None else step.send(None)
                except StopIteration as done:
                    return done.value
        finally:  # returned or raised: either way the step is over
            self._step = self._waiting_on = None

    async def aclose(self) -> None:
        """Unwind a step in flight (as a cancelled task would) and close the source."""
        if self._step is not None:
            try:
                if self._waiting_on is None:
                    self._waiting_on = self._step.throw(asyncio.CancelledError())
                else:  # what Task.cancel() does: the coroutine finds its future cancelled
                    self._waiting_on.cancel()
                await self._finish()
            except (asyncio.CancelledError, StopAsyncIteration, Exception):
                pass
            self._step = self._waiting_on = None
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()
