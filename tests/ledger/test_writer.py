"""The writer: commits before record() returns, group commit under concurrency, listeners, live events."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeroute.chat import Attempt
from edgeroute.ledger import Ledger, LedgerError, LedgerRecord


async def test_hundred_concurrent_records_give_hundred_rows(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord], caplog: pytest.LogCaptureFixture
) -> None:
    ledger = Ledger.open(ledger_path)
    try:
        records = [record_factory(request_id=f"req_{i}", latency_ms=float(i)) for i in range(100)]
        results = await asyncio.gather(*(ledger.record(r) for r in records), return_exceptions=True)
        assert [r for r in results if r is not None] == []
        assert sorted(r.id for r in records if r.id is not None) == list(range(1, 101))
        assert await ledger.count() == 100
        assert ledger.commits < 100  # grouped: what queued during a commit went into the next one
    finally:
        await ledger.aclose()
    assert "locked" not in caplog.text
    conn = sqlite3.connect(ledger_path)
    ids = {row[0] for row in conn.execute("SELECT request_id FROM requests")}
    conn.close()
    assert ids == {f"req_{i}" for i in range(100)}


async def test_concurrent_writes_while_readers_read(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    """WAL: stats queries in other threads never block or fail the writer."""
    ledger = Ledger.open(ledger_path)
    try:

        async def write(i: int) -> None:
            await ledger.record(record_factory(request_id=f"w{i}"))

        async def read() -> None:
            for _ in range(10):
                await ledger.stats("all")

        await asyncio.gather(*(write(i) for i in range(100)), *(read() for _ in range(5)))
        assert (await ledger.stats("all"))["requests"] == 100
    finally:
        await ledger.aclose()


async def test_row_is_committed_when_record_returns(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    ledger = Ledger.open(ledger_path)
    try:
        rec = record_factory(request_id="req_visible")
        await ledger.record(rec)
        # A different connection (another process would see the same) reads the committed row.
        conn = sqlite3.connect(ledger_path)
        row = conn.execute("SELECT id, request_id FROM requests").fetchone()
        conn.close()
        assert row == (rec.id, "req_visible")
    finally:
        await ledger.aclose()


async def test_ledger_file_is_wal_and_reopens_without_migrating_again(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    ledger = Ledger.open(ledger_path)
    await ledger.record(record_factory())
    await ledger.aclose()
    ledger = Ledger.open(ledger_path)
    try:
        await ledger.record(record_factory())
        assert await ledger.count() == 2
    finally:
        await ledger.aclose()
    conn = sqlite3.connect(ledger_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_record_round_trips_every_field(ledger_path: Path, clock: Callable[[], float]) -> None:
    ledger = Ledger.open(ledger_path, clock=clock)
    rec = LedgerRecord(
        request_id="req_full",
        endpoint="/v1/messages",
        requested_model="auto",
        status=200,
        latency_ms=812.5,
        tier="local",
        served_model="local/gemma3-270m",
        client="ide",
        route_reason="score 0.31<0.58",
        route_score=0.31,
        route_features={"length": 0.2},
        attempts=[
            Attempt(
                "cloud/gpt-5.4", error="upstream_timeout", status=504, latency_ms=5000.0, message="timeout"
            ),
            Attempt("local/gemma3-270m", latency_ms=800.0),
        ],
        prompt_tokens=1234,
        completion_tokens=56,
        cached_tokens=0,
        estimated=True,
        ttft_ms=95.0,
        cost_usd=0.0,
        counterfactual_usd=0.003925,
        saved_usd=0.003925,
        reference_model="cloud/gpt-5.4",
        stream=True,
        prompt_hash="abc",
    )
    try:
        await ledger.record(rec)
        [back] = await ledger.recent(10)
    finally:
        await ledger.aclose()
    assert back == rec
    assert back.ts == clock()
    data = back.to_dict()
    assert data["fallbacks"] == ["cloud/gpt-5.4:upstream_timeout:504:5000ms"]
    assert data["attempts"][0]["error"] == "upstream_timeout"


async def test_recent_pages_newest_first(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    ledger = Ledger.open(ledger_path)
    try:
        for i in range(7):
            await ledger.record(record_factory(request_id=f"r{i}", client="a" if i % 2 else "b"))
        first = await ledger.recent(3)
        assert [r.request_id for r in first] == ["r6", "r5", "r4"]
        second = await ledger.recent(3, before_id=first[-1].id)
        assert [r.request_id for r in second] == ["r3", "r2", "r1"]
        only_a = await ledger.recent(10, client="a")
        assert [r.request_id for r in only_a] == ["r5", "r3", "r1"]
    finally:
        await ledger.aclose()


async def test_listeners_run_before_record_returns_and_a_failing_one_is_contained(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord], caplog: pytest.LogCaptureFixture
) -> None:
    ledger = Ledger.open(ledger_path)
    seen: list[str] = []

    def broken(rec: LedgerRecord) -> None:
        raise RuntimeError("listener bug")

    ledger.add_listener(broken)
    ledger.add_listener(lambda rec: seen.append(rec.request_id))
    try:
        await ledger.record(record_factory(request_id="req_1"))
        assert seen == ["req_1"]
        assert "listener bug" in caplog.text
    finally:
        await ledger.aclose()


async def test_a_bad_row_fails_alone(ledger_path: Path, record_factory: Callable[..., LedgerRecord]) -> None:
    ledger = Ledger.open(ledger_path)
    try:
        good = [record_factory(request_id=f"ok{i}") for i in range(5)]
        bad = record_factory(request_id="bad", tier="moon")  # violates the CHECK constraint
        results = await asyncio.gather(
            *(ledger.record(r) for r in [*good[:2], bad, *good[2:]]), return_exceptions=True
        )
        assert isinstance(results[2], LedgerError)
        assert [r for i, r in enumerate(results) if i != 2] == [None] * 5
        assert await ledger.count() == 5
    finally:
        await ledger.aclose()


async def test_close_writes_what_is_queued_then_refuses(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    ledger = Ledger.open(ledger_path)
    pending = [asyncio.ensure_future(ledger.record(record_factory(request_id=f"q{i}"))) for i in range(20)]
    await asyncio.sleep(0)  # let them enqueue
    await ledger.aclose()
    await asyncio.gather(*pending)
    with pytest.raises(LedgerError):
        await ledger.record(record_factory())
    conn = sqlite3.connect(ledger_path)
    assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 20
    conn.close()


async def test_cancelled_caller_still_gets_its_row_written(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    ledger = Ledger.open(ledger_path)
    try:
        task = asyncio.ensure_future(ledger.record(record_factory(request_id="req_cancelled")))
        await asyncio.sleep(0)
        task.cancel()
        await ledger.record(record_factory(request_id="req_after"))
        assert {r.request_id for r in await ledger.recent(10)} == {"req_cancelled", "req_after"}
    finally:
        await ledger.aclose()


async def test_subscribers_get_each_finished_record(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    ledger = Ledger.open(ledger_path)
    try:
        async with ledger.subscribe() as first, ledger.subscribe() as second:
            assert ledger.subscriber_count == 2
            for i in range(3):
                await ledger.record(record_factory(request_id=f"e{i}"))
            got_first = [(await first.get(timeout=1)) for _ in range(3)]
            got_second = [(await second.get(timeout=1)) for _ in range(3)]
        assert [r.request_id for r in got_first if r] == ["e0", "e1", "e2"]
        assert [r.request_id for r in got_second if r] == ["e0", "e1", "e2"]
        assert all(r is not None and r.id is not None for r in got_first)
        assert ledger.subscriber_count == 0  # closed subscriptions unregister: no leak
    finally:
        await ledger.aclose()


async def test_slow_subscriber_is_dropped_not_buffered_forever(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    ledger = Ledger.open(ledger_path)
    try:
        slow = ledger.subscribe(maxsize=4)
        fast = ledger.subscribe(maxsize=100)
        for i in range(10):
            await ledger.record(record_factory(request_id=f"s{i}"))
        assert slow.dropped and ledger.subscriber_count == 1
        assert [r async for r in slow] == []  # the iteration ends; the client reconnects
        assert (await fast.get(timeout=1)) is not None
        fast.close()
        assert ledger.subscriber_count == 0
    finally:
        await ledger.aclose()


async def test_subscriber_waiting_for_events_ends_when_the_ledger_closes(ledger_path: Path) -> None:
    ledger = Ledger.open(ledger_path)
    sub = ledger.subscribe()

    async def consume() -> list[LedgerRecord]:
        return [r async for r in sub]

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.01)
    await ledger.aclose()
    assert await asyncio.wait_for(task, 2) == []


async def test_a_lone_row_commits_inline_and_a_burst_is_grouped(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    ledger = Ledger.open(ledger_path)  # synchronous=NORMAL: the inline path is on
    try:
        lone = ledger.record(record_factory(request_id="lone"))
        with pytest.raises(StopIteration):  # committed without ever waiting for the writer thread
            lone.send(None)
        await asyncio.sleep(0)  # the next loop turn
        burst = [record_factory(request_id=f"b{i}") for i in range(20)]
        await asyncio.gather(*(ledger.record(r) for r in burst))
        assert await ledger.count() == 21
        assert ledger.commits < 21  # one row inline, the rest of the burst grouped by the thread
    finally:
        await ledger.aclose()


async def test_a_lock_held_elsewhere_never_stalls_the_event_loop(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    ledger = Ledger.open(ledger_path)
    other = sqlite3.connect(ledger_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing: the inline attempt must not wait for it
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(ticker())
    try:
        write = asyncio.create_task(ledger.record(record_factory(request_id="waits")))
        await asyncio.sleep(0.3)
        assert not write.done() and ticks >= 10  # the row waits on the writer thread; the loop runs on
        other.execute("COMMIT")
        await asyncio.wait_for(write, 10)
        assert await ledger.count() == 1
    finally:
        beat.cancel()
        other.close()
        await ledger.aclose()


def checkpointing_ledger(
    path: Path, monkeypatch: pytest.MonkeyPatch, *, quiet_s: float, at_most: int = 10**9
) -> Ledger:
    """A ledger whose WAL checkpoint is due every 5 commits and runs after ``quiet_s`` without one, or at
    ``at_most`` commits."""
    import edgeroute.ledger.writer as writer

    monkeypatch.setattr(writer, "CHECKPOINT_EVERY", 5)
    monkeypatch.setattr(writer, "CHECKPOINT_QUIET_S", quiet_s)
    monkeypatch.setattr(writer, "CHECKPOINT_AT_MOST", at_most)
    return Ledger.open(path)


async def checkpoints_reach(ledger: Ledger, count: int, within_s: float = 3.0) -> int:
    """Wait (bounded) for the writer thread's checkpoints to reach ``count``; the number reached."""
    for _ in range(int(within_s / 0.01)):
        if ledger.checkpoints >= count:
            break
        await asyncio.sleep(0.01)
    return ledger.checkpoints


async def test_wal_checkpoints_run_on_the_writer_thread(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = checkpointing_ledger(ledger_path, monkeypatch, quiet_s=0.05)
    try:
        assert ledger._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        for expected in (1, 2):
            for i in range(6):
                await ledger.record(record_factory(request_id=f"r{expected}.{i}"))
                await asyncio.sleep(0)
            assert await checkpoints_reach(ledger, expected) == expected
        assert await ledger.count() == 12
    finally:
        await ledger.aclose()


async def test_a_checkpoint_asked_for_mid_batch_runs_after_it(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows queue up while the thread works; a checkpoint request among them is not lost in their batch."""
    import edgeroute.ledger.writer as writer

    monkeypatch.setattr(writer, "CHECKPOINT_EVERY", 10**9)  # only the one queued by hand below
    ledger = Ledger.open(ledger_path)
    try:
        with ledger._conn_lock:  # the thread waits to write a first row while the queue fills behind it
            first = asyncio.create_task(ledger.record(record_factory(request_id="first")))
            await asyncio.sleep(0.05)
            a = asyncio.create_task(ledger.record(record_factory(request_id="a")))
            await asyncio.sleep(0.01)
            ledger._queue.put(writer._CHECKPOINT)
            b = asyncio.create_task(ledger.record(record_factory(request_id="b")))
            await asyncio.sleep(0.01)
        await asyncio.wait_for(asyncio.gather(first, a, b), 10)
        assert await checkpoints_reach(ledger, 1) == 1 and await ledger.count() == 3
        assert ledger.commits == 2  # "a" and "b" went in one transaction, the checkpoint after it
    finally:
        await ledger.aclose()


async def test_a_checkpoint_does_not_hold_up_commits(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint fsyncs (milliseconds) on a connection of its own: rows commit inline meanwhile, where
    they used to wait for it (every 500th answer was a few ms late)."""
    import edgeroute.ledger.schema as schema
    import edgeroute.ledger.writer as writer

    inside, release = threading.Event(), threading.Event()
    real_connect = schema.connect_checkpointer

    def held_checkpointer(path: Path) -> sqlite3.Connection:
        conn = real_connect(path)

        def trace(statement: str) -> None:  # runs on the writer thread as the checkpoint starts
            inside.set()
            release.wait(10)

        conn.set_trace_callback(trace)
        return conn

    ledger = Ledger.open(ledger_path)
    try:
        await ledger.record(record_factory(request_id="before"))
        monkeypatch.setattr(writer, "connect_checkpointer", held_checkpointer)  # the real one, paused
        try:
            ledger._queue.put(writer._CHECKPOINT)
            assert await asyncio.to_thread(inside.wait, 10)
            for i in range(3):  # the checkpoint is in progress on the writer thread
                await asyncio.wait_for(ledger.record(record_factory(request_id=f"during{i}")), 2)
                await asyncio.sleep(0)
        finally:
            release.set()
        assert await checkpoints_reach(ledger, 1) == 1 and await ledger.count() == 4
    finally:
        release.set()
        await ledger.aclose()


async def test_closing_with_a_checkpoint_queued_closes_the_file(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    import edgeroute.ledger.writer as writer

    ledger = Ledger.open(ledger_path)
    with ledger._conn_lock:  # the thread waits to write a row; behind it: stop, then a checkpoint
        pending = asyncio.create_task(ledger.record(record_factory(request_id="a")))
        await asyncio.sleep(0.05)
        ledger._closed = True
        ledger._queue.put(writer._STOP)
        ledger._queue.put(writer._CHECKPOINT)
    await asyncio.wait_for(pending, 10)
    ledger._thread.join(10)
    assert not ledger._thread.is_alive()
    with pytest.raises(sqlite3.ProgrammingError):  # closed by the writer thread, which did not die first
        ledger._conn.execute("SELECT 1")


async def test_a_value_sqlite_refuses_fails_its_row_alone(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord]
) -> None:
    """A row SQLite cannot store fails alone: the inline attempt does not leave the write lock held, and
    the rows grouped with it in the thread's batch are written."""
    ledger = Ledger.open(ledger_path)
    try:
        huge = ledger.record(record_factory(request_id="huge", completion_tokens=10**20))
        fine = ledger.record(record_factory(request_id="fine"))
        results = await asyncio.gather(huge, fine, return_exceptions=True)
        assert isinstance(results[0], LedgerError) and results[1] is None
        assert await ledger.count() == 1
    finally:
        await ledger.aclose()


async def test_a_due_checkpoint_waits_for_a_pause_in_commits(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint made the answers around it a few ms late: once due, it runs when commits pause."""
    ledger = checkpointing_ledger(ledger_path, monkeypatch, quiet_s=1.0)
    try:
        for i in range(30):  # due after the fifth; a commit every 50 ms never leaves a 1 s pause
            await ledger.record(record_factory(request_id=f"busy{i}"))
            await asyncio.sleep(0.05)
        assert ledger.checkpoints == 0
        assert await checkpoints_reach(ledger, 1) == 1  # the pause
        assert await ledger.count() == 30
    finally:
        await ledger.aclose()


async def test_under_sustained_commits_a_checkpoint_runs_at_the_cap(
    ledger_path: Path, record_factory: Callable[..., LedgerRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Traffic that never pauses still gets its checkpoints, so the WAL stays bounded."""
    ledger = checkpointing_ledger(ledger_path, monkeypatch, quiet_s=0.5, at_most=20)
    try:
        i = 0
        while not ledger.checkpoints and i < 200:  # a commit every 10 ms: no 500 ms pause
            await ledger.record(record_factory(request_id=f"r{i}"))
            await asyncio.sleep(0.01)
            i += 1
        assert ledger.checkpoints == 1
        assert 20 <= i < 200
    finally:
        await ledger.aclose()
