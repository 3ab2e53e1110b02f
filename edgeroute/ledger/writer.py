"""The ledger: one SQLite connection that writes, a writer thread with group commit, and an inline fast path.

``await ledger.record(rec)`` returns only once the row's transaction has committed. In WAL mode a committed
transaction is in the -wal file before COMMIT returns, so a SIGKILL right afterwards loses nothing
(``synchronous=FULL`` also fsyncs it against power loss, at a few ms per commit).

Two ways a row gets written, never at once (one lock guards the connection):
- **inline**, on the event loop, when nothing is queued, the connection is free and no other row was written
  inline in this turn of the loop (a burst goes to the thread, grouped): one autocommit ``INSERT`` that
  may not wait for any lock (busy timeout 0). It costs the loop about 40 us and
  saves the two thread hand-offs of the queue (about 90 us of each answer's latency). Only with
  ``synchronous=NORMAL``, where a commit writes the WAL without fsync; WAL checkpoints, which do fsync, run
  on the writer thread (autocheckpoint is off on this connection), on a connection of their own, once due
  and at a quiet moment: a checkpoint's fsync takes milliseconds, and WAL lets commits go on meanwhile.
- **queued**, on the writer thread: everything else. Whatever is queued while a commit runs goes into the
  next transaction together (group commit), so 100 concurrent requests cost a handful of commits; it waits
  out a lock another process holds (busy timeout) and handles a full disk. An inline attempt that meets any
  SQLite error rolls back and takes this path, so the failure handling is one and the same.
Readers open their own connections.

After each commit, on the event loop: listeners (budgets, rate limits, metrics) see the record, then live
subscribers (``/api/events``), then the ``record()`` call returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from edgeroute.errors import EdgerouteError
from edgeroute.ledger import queries
from edgeroute.ledger.events import EventHub, Subscription
from edgeroute.ledger.reader import LedgerReader
from edgeroute.ledger.record import LedgerRecord, prompt_hash
from edgeroute.ledger.schema import Synchronous, connect_checkpointer, connect_writer, migrate

log = logging.getLogger(__name__)

Listener = Callable[[LedgerRecord], None]


class LedgerError(EdgerouteError):
    """A row could not be written (disk full, file removed...): the request is answered, the ledger says why."""

    status = 500
    code = "ledger_error"


@dataclass(slots=True)
class _Pending:
    record: LedgerRecord
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop


_STOP = object()
_CHECKPOINT = object()
CHECKPOINT_EVERY = 500  # commits before a WAL checkpoint is due (SQLite's own default is every 1000 pages)
CHECKPOINT_QUIET_S = 0.2  # a due checkpoint waits for this long a spell without commits...
CHECKPOINT_AT_MOST = 2000  # ...but not past this many commits (the WAL grows about 13 KB a commit)


class Ledger:
    """Open with :meth:`open`; close with :meth:`close` / :meth:`aclose` (pending records are written first)."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        *,
        clock: Callable[[], float],
        tz: tzinfo | None,
        log_prompts: bool,
        batch_max: int,
        inline: bool = False,
        busy_timeout_ms: int = 30_000,
    ) -> None:
        self.path = path
        self.log_prompts = log_prompts
        self.reader = LedgerReader(path, tz=tz)
        self.commits = 0
        self.checkpoints = 0
        self.rows_written = 0
        self._conn = conn
        self._clock = clock
        self._batch_max = batch_max
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn_lock = threading.Lock()  # the connection is the inline path's or the thread's, never both
        self._inline = inline
        self._busy_timeout_ms = busy_timeout_ms
        self._since_checkpoint = 0
        self._checkpoint_asked = False
        self._inline_this_turn = False
        self._listeners: list[Listener] = []
        self._hub = EventHub()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="edgeroute-ledger", daemon=True)
        self._thread.start()

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
        log_prompts: bool = False,
        synchronous: Synchronous = "NORMAL",
        batch_max: int = 512,
        busy_timeout_s: float = 30.0,
    ) -> Ledger:
        """Create or upgrade the file (migrations) and start the writer thread. ``busy_timeout_s``: how long
        a commit waits for a lock another process holds before the batch fails with :class:`LedgerError`."""
        path = Path(path)
        conn = connect_writer(path, synchronous=synchronous, busy_timeout_s=busy_timeout_s)
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        inline = synchronous == "NORMAL"
        if inline:
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints (fsync) run on the writer thread
            conn.execute("PRAGMA busy_timeout = 0")  # inline commits never wait; the thread sets its own
        return cls(
            path,
            conn,
            clock=clock,
            tz=tz,
            log_prompts=log_prompts,
            batch_max=batch_max,
            inline=inline,
            busy_timeout_ms=int(busy_timeout_s * 1000),
        )

    # ---- write side -------------------------------------------------------------------------------

    async def record(self, rec: LedgerRecord) -> None:
        """Write one finished request; returns after its transaction committed (``rec.id`` is then set).
        Cancelling the caller does not cancel the write."""
        if self._closed:
            raise LedgerError("the ledger is closed")
        if rec.ts is None:
            rec.ts = self._clock()
        loop = asyncio.get_running_loop()
        if self._inline and not self._inline_this_turn and self._queue.empty():
            # One inline commit per loop turn: a burst of rows finishing together is grouped by the thread.
            self._inline_this_turn = True
            loop.call_soon(self._next_turn)
            if self._try_inline(rec):
                return
        future: asyncio.Future[None] = loop.create_future()
        # A cancelled caller never awaits it: mark a failure as seen so asyncio does not warn at GC.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.put(_Pending(rec, future, loop))
        await asyncio.shield(future)

    def _next_turn(self) -> None:
        self._inline_this_turn = False

    def _try_inline(self, rec: LedgerRecord) -> bool:
        """Commit ``rec`` right here if the connection is free and no lock must be waited for; False (with
        nothing written) sends it to the writer thread instead."""
        if not self._conn_lock.acquire(blocking=False):
            return False
        try:
            # One statement in autocommit mode is its own transaction: no BEGIN / COMMIT round trips.
            row_id = self._conn.execute(queries.INSERT_SQL, self._prepare(rec)).lastrowid
        except Exception:  # locked, full, a bad row...: the writer thread's path decides, as for any row
            return False  # (a failed autocommit statement has rolled itself back)
        finally:
            self._conn_lock.release()
        self.commits += 1
        self.rows_written += 1
        self._committed(1)
        rec.id = row_id
        self._announce(rec)
        return True

    def _committed(self, commits: int) -> None:
        self._since_checkpoint += commits
        if self._inline and self._since_checkpoint >= CHECKPOINT_EVERY and not self._checkpoint_asked:
            self._checkpoint_asked = True
            self._queue.put(_CHECKPOINT)

    def _announce(self, rec: LedgerRecord) -> None:
        for listener in self._listeners:
            try:
                listener(rec)
            except Exception:
                log.exception("ledger listener %r failed", listener)
        self._hub.publish(rec)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(record)`` on the event loop after each commit (before ``record()`` returns).
        A listener that raises is logged, never breaks the ledger."""
        self._listeners.append(listener)

    def subscribe(self, maxsize: int = 256) -> Subscription:
        """Live feed of committed records for ``/api/events``: ``async with ledger.subscribe() as sub:
        async for rec in sub: ...``. A subscriber ``maxsize`` records behind is dropped."""
        return self._hub.subscribe(maxsize)

    @property
    def subscriber_count(self) -> int:
        return len(self._hub)

    def _run(self) -> None:
        """The writer thread: queued rows in batches, and WAL checkpoints. A checkpoint, once due, waits for
        a quiet spell (no commit for ``CHECKPOINT_QUIET_S``), so that its fsync and page copying, which
        made the answers around it a few ms late on a 2-core machine, fall between requests; under
        sustained traffic it runs anyway once ``CHECKPOINT_AT_MOST`` commits have piled up."""
        checkpoint_due = False
        seen = 0  # commits at the last look while a checkpoint waits
        try:
            while True:
                try:
                    item = self._queue.get(timeout=CHECKPOINT_QUIET_S if checkpoint_due else None)
                except queue.Empty:  # nothing queued for a while; inline commits may still have come
                    if self.commits == seen or self._since_checkpoint >= CHECKPOINT_AT_MOST:
                        self._checkpoint()
                        checkpoint_due = False
                    seen = self.commits
                    continue
                if item is _STOP:
                    break
                if item is _CHECKPOINT:
                    checkpoint_due, seen = True, self.commits
                    continue
                batch: list[_Pending] = [item]
                stop = False
                while len(batch) < self._batch_max:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop = True
                        break
                    if nxt is _CHECKPOINT:
                        checkpoint_due, seen = True, self.commits
                        continue
                    batch.append(nxt)
                try:
                    with self._conn_lock, self._patient():
                        self._write(batch)
                except Exception as exc:  # never let a bug kill the writer: every later record() would hang
                    log.exception("ledger writer failed on a batch")
                    with contextlib.suppress(sqlite3.Error):
                        if self._conn.in_transaction:
                            self._conn.execute("ROLLBACK")
                    self._deliver_all([(p, None, exc) for p in batch])
                if checkpoint_due and self._since_checkpoint >= CHECKPOINT_AT_MOST:
                    self._checkpoint()
                    checkpoint_due = False
                if stop:
                    break
        finally:
            try:
                self._fail_leftovers()
            finally:
                self._conn.close()

    @contextlib.contextmanager
    def _patient(self) -> Iterator[None]:
        """The writer thread waits out another process's lock (busy timeout); inline commits do not."""
        if not self._inline:
            yield
            return
        self._conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        try:
            yield
        finally:
            self._conn.execute("PRAGMA busy_timeout = 0")

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file (PASSIVE: waits for no reader or writer) on the checkpoint
        connection, so rows keep committing on the other one while it fsyncs."""
        self._since_checkpoint = 0
        self._checkpoint_asked = False
        try:
            # Opened for each checkpoint: a second connection kept open slows every commit a little.
            with contextlib.closing(connect_checkpointer(self.path)) as conn:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self.checkpoints += 1
        except sqlite3.Error as exc:  # a later one will do; the WAL just grows meanwhile
            log.warning("ledger checkpoint failed: %s", exc)

    def _prepare(self, rec: LedgerRecord) -> tuple[object, ...]:
        if not rec.prompt_hash and rec.prompt_text is not None:
            rec.prompt_hash = prompt_hash(rec.prompt_text)
        if not self.log_prompts:
            rec.prompt_text = None
        return queries.record_to_row(rec, log_prompts=self.log_prompts)

    def _write(self, batch: list[_Pending]) -> None:
        results: list[tuple[_Pending, int | None, BaseException | None]] = []
        rows: list[tuple[_Pending, tuple[object, ...]]] = []
        for pending in batch:
            try:
                rows.append((pending, self._prepare(pending.record)))
            except Exception as exc:  # a record that cannot be serialised fails alone
                results.append((pending, None, exc))
        try:
            results.extend(self._commit(rows))
        except sqlite3.OperationalError as exc:
            # The file, not a row, is at fault (locked past busy_timeout, disk full, I/O error): retrying
            # row by row would make every waiting request wait out busy_timeout once more.
            results.extend((pending, None, exc) for pending, _ in rows)
        except Exception:
            # One bad row (a constraint, a value SQLite cannot store) must not take the others down: retry
            # each in its own transaction.
            for pending, row in rows:
                try:
                    results.extend(self._commit([(pending, row)]))
                except Exception as exc:
                    results.append((pending, None, exc))
        self._deliver_all(results)

    def _commit(
        self, rows: list[tuple[_Pending, tuple[object, ...]]]
    ) -> list[tuple[_Pending, int | None, BaseException | None]]:
        if not rows:
            return []
        ids = self._commit_rows(self._conn, [row for _, row in rows])
        self._committed(1)
        return [(pending, row_id, None) for (pending, _), (row_id,) in zip(rows, ids, strict=True)]

    def _commit_rows(
        self, conn: sqlite3.Connection, rows: list[tuple[object, ...]]
    ) -> list[tuple[int | None]]:
        """One transaction for ``rows``; rolled back on any error."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            ids = [(conn.execute(queries.INSERT_SQL, row).lastrowid,) for row in rows]
            conn.execute("COMMIT")
        except BaseException:  # a value SQLite refused (OverflowError...) must not leave the write lock held
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.commits += 1
        self.rows_written += len(rows)
        return ids

    def _deliver_all(self, results: list[tuple[_Pending, int | None, BaseException | None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, int | None, BaseException | None]]] = {}
        for item in results:
            by_loop.setdefault(item[0].loop, []).append(item)
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these any more
                loop.call_soon_threadsafe(self._deliver, items)

    def _deliver(self, items: list[tuple[_Pending, int | None, BaseException | None]]) -> None:
        for pending, row_id, exc in items:
            if exc is None:
                pending.record.id = row_id
                self._announce(pending.record)
                if not pending.future.done():
                    pending.future.set_result(None)
            else:
                log.error("ledger write failed for %s: %s", pending.record.request_id, exc)
                if not pending.future.done():
                    pending.future.set_exception(LedgerError(f"could not write the ledger row: {exc}"))

    def _fail_leftovers(self) -> None:
        leftovers: list[tuple[_Pending, int | None, BaseException | None]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Pending):  # not the stop or checkpoint markers
                leftovers.append((item, None, LedgerError("the ledger closed before this row was written")))
        self._deliver_all(leftovers)

    def close(self) -> None:
        """Write what is queued, stop the thread, close the file. Idempotent."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()
        self._hub.close_all()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)
        # Let the last deliveries (scheduled with call_soon_threadsafe) run before we return.
        await asyncio.sleep(0)
        self._hub.close_all()

    # ---- read side (each call in a worker thread, its own connection) -------------------------------

    async def recent(
        self, limit: int = 50, before_id: int | None = None, client: str | None = None
    ) -> list[LedgerRecord]:
        return await asyncio.to_thread(self.reader.recent, limit, before_id, client)

    async def stats(
        self, window: str = "today", now: float | None = None, budget: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The ``/api/stats`` document (see :mod:`edgeroute.ledger.stats` for the definitions); ``budget``
        is ``BudgetGuard.snapshot()``, passed through."""
        return await asyncio.to_thread(
            self.reader.stats, window, self._clock() if now is None else now, budget
        )

    async def timeseries(self, window: str = "7d", bucket_s: float = 3600.0) -> list[dict[str, Any]]:
        """Spend and counterfactual spend per ``bucket_s`` seconds over ``window`` (oldest first)."""
        return await asyncio.to_thread(self.reader.timeseries, window, self._clock(), bucket_s)

    async def scores(self, since: float | None = None) -> list[float]:
        """Router scores recorded since ``since`` (oldest first), for ``edgeroute calibrate``."""
        return await asyncio.to_thread(self.reader.scores, since)

    async def cloud_spend(self, since: float) -> dict[str | None, int]:
        """Known cloud spend per client since ``since``, in nano-dollars (seeds the budget guard)."""
        return await asyncio.to_thread(self.reader.cloud_spend, since)

    async def count(self) -> int:
        return await asyncio.to_thread(self.reader.count)
