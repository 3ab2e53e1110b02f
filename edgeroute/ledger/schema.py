"""The ledger's SQLite schema: append-only migrations and connection setup.

Migrations are never edited once released (a test pins their hashes): a change is a new entry at the end.
``PRAGMA user_version`` counts the ones applied; each runs in its own transaction with the version bump,
so a crash mid-migration leaves the file at the previous version.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Literal

MIGRATIONS: tuple[str, ...] = (
    # 1: one row per finished request. Money in integer nano-dollars (NULL = unknown price).
    """
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        request_id TEXT NOT NULL,
        client TEXT,
        endpoint TEXT NOT NULL,
        requested_model TEXT NOT NULL,
        tier TEXT CHECK (tier IN ('local', 'cloud')),
        served_model TEXT,
        route_reason TEXT,
        route_score REAL,
        route_features TEXT NOT NULL DEFAULT '{}',
        attempts TEXT NOT NULL DEFAULT '[]',
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        estimated INTEGER NOT NULL DEFAULT 0,
        ttft_ms REAL,
        latency_ms REAL NOT NULL,
        status INTEGER NOT NULL,
        error TEXT,
        cost_nusd INTEGER,
        counterfactual_nusd INTEGER,
        saved_nusd INTEGER,
        reference_model TEXT,
        stream INTEGER NOT NULL DEFAULT 0,
        prompt_hash TEXT NOT NULL DEFAULT '',
        prompt_text TEXT
    );
    CREATE INDEX requests_ts ON requests (ts);
    CREATE INDEX requests_client_ts ON requests (client, ts);
    CREATE INDEX requests_request_id ON requests (request_id);
    """,
    # 2: no query looks rows up by request_id, and each index costs every commit a B-tree insert and a
    # page written to the WAL (a lookup by id for debugging scans the table: milliseconds).
    """
    DROP INDEX requests_request_id;
    """,
    # 3: prompt-cache writes (part of prompt_tokens), billed above the input price; the 1-hour ones higher.
    """
    ALTER TABLE requests ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE requests ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: web searches the provider ran for the answer, billed per search (Anthropic: $0.01 each).
    """
    ALTER TABLE requests ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
    """,
)

Synchronous = Literal["NORMAL", "FULL"]


class LedgerSchemaError(Exception):
    """The ledger file was written by a newer edgeroute (more migrations than this one knows)."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: tuple[str, ...] = MIGRATIONS) -> int:
    """Apply the migrations this file lacks; returns the resulting version."""
    version = schema_version(conn)
    if version > len(migrations):
        raise LedgerSchemaError(
            f"the ledger is at schema version {version} but this edgeroute knows {len(migrations)}; "
            "upgrade edgeroute (the file is left untouched)"
        )
    for number, script in enumerate(migrations[version:], start=version + 1):
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def connect_writer(
    path: Path, *, synchronous: Synchronous = "FULL", busy_timeout_s: float = 30.0
) -> sqlite3.Connection:
    """The one connection that writes: WAL (readers never block it), explicit transactions."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():  # private from the start: SQLite gives the -wal/-shm files the same mode
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":  # pragma: no cover - only on filesystems without shared memory
        raise sqlite3.OperationalError(f"cannot put the ledger in WAL mode (got {mode})")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def connect_checkpointer(path: Path) -> sqlite3.Connection:
    """A second connection to the writer's file for WAL checkpoints: a checkpoint holds no lock that a
    commit needs, so it should not hold the writer's connection either."""
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only-by-pragma connection; WAL lets it read while the writer commits."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA query_only = 1")
    return conn
