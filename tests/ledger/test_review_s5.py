"""Review of session 5: a ledger file written before migration 3 (prompt-cache writes) is read by the new
code before any daemon of it has opened (and upgraded) the file: `edgeroute stats` right after an
upgrade, with the daemon stopped."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from edgeroute.ledger import LedgerReader, LedgerRecord, queries
from edgeroute.ledger.schema import MIGRATIONS, migrate


def _v2_file(path: Path, now: float) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:2])
    rec = LedgerRecord(
        "old",
        "/v1/chat/completions",
        "auto",
        200,
        120.0,
        tier="cloud",
        served_model="cloud/x",
        prompt_tokens=1000,
        completion_tokens=50,
        cached_tokens=400,
        cost_usd=0.002,
    )
    rec.ts = now - 60
    row = dict(zip(queries.COLUMNS, queries.record_to_row(rec, log_prompts=False), strict=True))
    v2 = [
        c for c in queries.COLUMNS if c not in ("cache_write_tokens", "cache_write_1h_tokens", "web_searches")
    ]
    conn.execute(f"INSERT INTO requests ({', '.join(v2)}) VALUES ({', '.join('?' * len(v2))})",
                 [row[c] for c in v2])  # fmt: skip
    conn.close()


def test_a_version_2_file_is_read_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    now = time.time()
    _v2_file(path, now)
    reader = LedgerReader(path)
    stats = reader.stats("all", now)
    assert stats["requests"] == 1
    assert stats["tokens"]["prompt"] == 1000
    assert stats["tokens"]["cache_write"] == 0
    (old,) = reader.recent(5)
    assert (old.request_id, old.cached_tokens, old.cache_write_tokens) == ("old", 400, 0)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
