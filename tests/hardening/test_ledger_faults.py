"""The ledger's file failing under a serving daemon: the disk filling up (SQLite's own "database or disk is
full", from a page limit on the writer's connection) and the database locked by another process (a
``sqlite3`` shell left in a transaction). The ledger promises a row for every answer a client received in
full; so an answer whose row cannot be written ends with a clean ``ledger_error`` instead of its success
terminator, quickly, with a log line, and the daemon records again once the file is writable."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgeroute.ledger import Ledger
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud
from tests.hardening.conftest import MSG, cloud_settings, error_event, memory_keys, stream_chat
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer

BUSY_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def served(
    clouds: tuple[FakeCloud, FakeCloud], starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Ledger]]:
    gpt, claude = clouds
    paths = home_paths(tmp_path_factory.mktemp("home"))
    ledger = Ledger.open(paths.ledger_file, busy_timeout_s=BUSY_TIMEOUT_S)
    settings = make_settings(starter_gguf, cloud=cloud_settings(gpt, claude))
    with LiveServer(create_app(settings, paths, keys=memory_keys(), ledger=ledger)) as live:
        yield live.url, ledger


def rows(ledger: Ledger) -> int:
    with contextlib.closing(sqlite3.connect(ledger.path)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


def ask(url: str, stream: bool) -> tuple[bool, str | None, float]:
    """(complete answer?, error code, seconds) for one cloud request."""
    started = time.monotonic()
    if stream:
        r, events = stream_chat(url, {"model": "cloud/gpt", "messages": MSG})
        error = error_event(events)
        complete = r.status_code == 200 and error is None and events[-1] == "[DONE]"
        return complete, error["code"] if error else None, time.monotonic() - started
    r = httpx.post(url + "/v1/chat/completions", json={"model": "cloud/gpt", "messages": MSG}, timeout=60)
    code = None if r.status_code == 200 else r.json()["error"]["code"]
    return r.status_code == 200, code, time.monotonic() - started


def _writer_sql(ledger: Ledger, sql: str) -> Any:
    # The writer's own connection: SQLite connections are serialised, and the writer is idle between
    # requests. A page limit is per connection, so it must be set on this one.
    return ledger._conn.execute(sql).fetchone()


def test_disk_full_fails_answers_cleanly_and_recovers(
    served: tuple[str, Ledger], caplog: pytest.LogCaptureFixture
) -> None:
    url, ledger = served
    caplog.set_level(logging.ERROR, logger="edgeroute")
    for stream in (False, True):
        assert ask(url, stream)[0]
    complete = rows(ledger)
    pages = _writer_sql(ledger, "PRAGMA page_count")[0]
    _writer_sql(ledger, f"PRAGMA max_page_count = {pages}")  # the disk is now full
    failures: list[tuple[bool, str | None, float]] = []
    try:
        for i in range(200):  # rows fill the last pages' free space, then every write fails
            result = ask(url, stream=bool(i % 2))
            if result[0]:
                complete += 1
            else:
                failures.append(result)
            if len(failures) >= 4:
                break
    finally:
        _writer_sql(ledger, "PRAGMA max_page_count = 1073741823")
    assert len(failures) >= 4
    assert {code for _, code, _ in failures} == {"ledger_error"}
    assert all(seconds < 10 for _, _, seconds in failures)
    assert rows(ledger) == complete  # every complete answer has its row; no row, no complete answer
    assert any("ledger write failed" in m and "full" in m for m in caplog.messages), caplog.messages
    for stream in (False, True):  # space is back: answered and recorded again
        assert ask(url, stream)[0]
    assert rows(ledger) == complete + 2


def test_a_short_lock_delays_answers_and_loses_no_row(served: tuple[str, Ledger]) -> None:
    url, ledger = served
    before = rows(ledger)
    results: list[tuple[bool, str | None, float]] = []
    with contextlib.closing(sqlite3.connect(ledger.path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock

        def send(i: int) -> None:
            results.append(ask(url, stream=bool(i % 2)))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(BUSY_TIMEOUT_S * 0.6)
        other.execute("COMMIT")  # released within the writer's busy timeout
    for t in threads:
        t.join(timeout=30)
    assert [ok for ok, _, _ in results] == [True] * 4
    assert rows(ledger) == before + 4


def test_a_lock_held_too_long_fails_fast_and_recovers(
    served: tuple[str, Ledger], caplog: pytest.LogCaptureFixture
) -> None:
    url, ledger = served
    caplog.set_level(logging.ERROR, logger="edgeroute")
    before = rows(ledger)
    results: list[tuple[bool, str | None, float]] = []
    with contextlib.closing(sqlite3.connect(ledger.path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")

        def send(i: int) -> None:
            results.append(ask(url, stream=bool(i % 2)))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        other.execute("COMMIT")
    assert len(results) == 6
    assert {code for _, code, _ in results} == {"ledger_error"}
    # a batch fails as one: nobody waits out the busy timeout once per queued row
    assert max(seconds for _, _, seconds in results) < 4 * BUSY_TIMEOUT_S + 3
    assert rows(ledger) == before
    assert any("database is locked" in m for m in caplog.messages), caplog.messages
    assert ask(url, stream=True)[0] and rows(ledger) == before + 1
