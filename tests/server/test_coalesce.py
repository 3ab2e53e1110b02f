"""ReadyGroups: events that are ready together come out as one group; nothing is held back while the source
waits; errors, cancellation and closing mid-wait unwind the source as a task would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from edgeroute.server.coalesce import ReadyGroups


async def bursts(log: list[str], *sizes: int, gap: float = 0.01) -> AsyncIterator[int]:
    n = 0
    try:
        for size in sizes:
            await asyncio.sleep(gap)  # waits on I/O (a timer future)
            for _ in range(size):
                n += 1
                yield n
    finally:
        log.append("closed")


async def drain(groups: ReadyGroups[int]) -> list[list[int]]:
    out = []
    while (group := await groups.next()) is not None:
        out.append(group)
    return out


async def test_events_ready_together_form_one_group() -> None:
    log: list[str] = []
    assert await drain(ReadyGroups(bursts(log, 3, 1, 2))) == [[1, 2, 3], [4], [5, 6]]
    assert log == ["closed"]


async def test_a_source_that_never_waits_is_one_group() -> None:
    async def ready() -> AsyncIterator[int]:
        for i in range(5):
            yield i

    assert await drain(ReadyGroups(ready())) == [[0, 1, 2, 3, 4]]


async def test_nothing_is_held_back_while_the_source_waits() -> None:
    log: list[str] = []
    groups = ReadyGroups(bursts(log, 2, 2, gap=0.2))
    assert await groups.next() == [1, 2]
    started = asyncio.get_running_loop().time()
    assert await groups.next() == [3, 4]  # the first group was out before the second wait
    assert asyncio.get_running_loop().time() - started >= 0.15
    assert await groups.next() is None


async def test_an_error_after_a_wait_reaches_the_consumer_after_the_ready_events() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(0.01)
        yield 2
        await asyncio.sleep(0.01)
        raise ValueError("upstream broke")

    groups = ReadyGroups(failing())
    assert await groups.next() == [1]
    assert await groups.next() == [2]
    with pytest.raises(ValueError, match="upstream broke"):
        await groups.next()


async def test_an_error_ready_with_good_events_comes_after_them() -> None:
    async def breaks_mid_read() -> AsyncIterator[int]:
        await asyncio.sleep(0.01)
        yield 1
        yield 2
        raise ValueError("malformed JSON")

    groups = ReadyGroups(breaks_mid_read())
    assert await groups.next() == [1, 2]
    with pytest.raises(ValueError, match="malformed JSON"):
        await groups.next()


async def test_bare_yields_are_driven() -> None:
    async def polite() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(0)
            yield i

    assert [e for group in await drain(ReadyGroups(polite())) for e in group] == [0, 1, 2]


async def test_closing_with_a_step_in_flight_unwinds_the_source() -> None:
    log: list[str] = []
    groups = ReadyGroups(bursts(log, 2, 2, gap=0.05))
    assert await groups.next() == [1, 2]  # the next __anext__ is now waiting on its timer
    await groups.aclose()
    assert log == ["closed"]


async def test_a_cancelled_reader_then_aclose_unwinds_the_source() -> None:
    log: list[str] = []
    groups = ReadyGroups(bursts(log, 1, 1, gap=30))

    async def consume() -> None:
        await drain(groups)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await task
    await groups.aclose()  # what the response's cleanup does
    assert log == ["closed"]


async def test_a_timeout_inside_the_source_stays_inside_it() -> None:
    """The upstream's deadline cancels the task it runs in and turns that into its own error: the reader
    gets the error, and is not cancelled itself (even while it is busy elsewhere)."""

    async def deadline_source() -> AsyncIterator[int]:
        yield 1
        task = asyncio.current_task()
        assert task is not None
        fired = asyncio.get_running_loop().call_later(0.02, task.cancel)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            task.uncancel()
            raise TimeoutError("no token in time") from None
        finally:
            fired.cancel()

    groups = ReadyGroups(deadline_source())
    assert await groups.next() == [1]
    await asyncio.sleep(0.1)  # the reader is busy elsewhere (sending to a slow client) when it fires
    with pytest.raises(TimeoutError, match="no token in time"):
        await groups.next()


async def test_a_source_that_waits_then_ends_empty() -> None:
    async def nothing() -> AsyncIterator[int]:
        await asyncio.sleep(0.01)
        return
        yield 0  # pragma: no cover - makes this an async generator

    assert await ReadyGroups(nothing()).next() is None


async def test_a_slow_reader_pauses_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    import edgeroute.server.coalesce as coalesce

    monkeypatch.setattr(coalesce, "MAX_BUFFERED", 3)
    pulled: list[int] = []

    async def fast() -> AsyncIterator[int]:
        for i in range(10):
            pulled.append(i)
            yield i

    groups = ReadyGroups(fast())
    assert await groups.next() == [0, 1, 2]  # the source stopped at the limit
    await asyncio.sleep(0.01)
    assert len(pulled) <= 6
    rest = [e for group in [await groups.next() for _ in range(4)] if group for e in group]
    assert rest == list(range(3, 10))
