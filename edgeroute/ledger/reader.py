"""Read side of the ledger: a fresh connection per call, so it works from any thread (the daemon runs it
in a worker thread; ``edgeroute stats`` calls it directly while the daemon, if any, keeps writing)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any, TypeVar

from edgeroute.ledger import queries
from edgeroute.ledger.record import LedgerRecord
from edgeroute.ledger.schema import MIGRATIONS, connect_reader, connect_writer, migrate, schema_version
from edgeroute.ledger.stats import summarize
from edgeroute.ledger.windows import window_since

T = TypeVar("T")


class LedgerReader:
    def __init__(self, path: Path, *, tz: tzinfo | None = None) -> None:
        self.path = Path(path)
        self.tz = tz

    def _with(self, fn: Callable[[sqlite3.Connection], T], empty: T) -> T:
        """Run ``fn`` on a reader connection; a missing file or table reads as an empty ledger. A file an
        older edgeroute wrote is upgraded first (``edgeroute stats`` right after an upgrade, before the
        daemon reopened it): the queries name columns its migrations lack."""
        if not self.path.exists():
            return empty
        conn = connect_reader(self.path)
        try:
            if not queries.has_table(conn):
                return empty
            if schema_version(conn) < len(MIGRATIONS):
                self._upgrade()
            return fn(conn)
        finally:
            conn.close()

    def _upgrade(self) -> None:
        writer = connect_writer(self.path)
        try:
            migrate(writer)
        finally:
            writer.close()

    def recent(
        self, limit: int = 50, before_id: int | None = None, client: str | None = None
    ) -> list[LedgerRecord]:
        return self._with(lambda c: queries.fetch_recent(c, limit, before_id, client), [])

    def count(self) -> int:
        return self._with(queries.count_rows, 0)

    def stats(self, window: str, now: float, budget: dict[str, Any] | None = None) -> dict[str, Any]:
        since = window_since(window, now, self.tz)

        def run(conn: sqlite3.Connection) -> dict[str, Any]:
            groups = queries.fetch_groups(conn, since, now)
            latencies, ttfts = queries.fetch_latencies(conn, since, now)
            return summarize(groups, latencies, ttfts, window=window, since=since, now=now, budget=budget)

        return self._with(run, summarize([], [], [], window=window, since=since, now=now, budget=budget))

    def timeseries(self, window: str, now: float, bucket_s: float) -> list[dict[str, Any]]:
        since = window_since(window, now, self.tz)
        return self._with(lambda c: queries.fetch_timeseries(c, since, bucket_s), [])

    def cloud_spend(self, since: float) -> dict[str | None, int]:
        return self._with(lambda c: queries.fetch_cloud_spend(c, since), {})

    def scores(self, since: float | None = None) -> list[float]:
        return self._with(lambda c: queries.fetch_scores(c, since), [])
