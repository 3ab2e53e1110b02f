"""Prompt privacy (a hash unless log_prompts) and the append-only schema."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from edgeroute.ledger import Ledger, LedgerRecord, LedgerSchemaError, prompt_hash, queries
from edgeroute.ledger.schema import MIGRATIONS, migrate

SECRET = "my password is hunter2-0b5e4c9a and my card 4111111111111111"


def rec() -> LedgerRecord:
    return LedgerRecord("req_p", "/v1/chat/completions", "auto", 200, 5.0, tier="local", prompt_text=SECRET)


def all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())


async def test_prompt_text_never_reaches_the_file_by_default(ledger_path: Path) -> None:
    ledger = Ledger.open(ledger_path)
    try:
        async with ledger.subscribe() as sub:
            await ledger.record(rec())
            live = await sub.get(timeout=1)
        # while open: database, -wal and -shm files
        assert SECRET.encode() not in all_bytes(ledger_path.parent)
        assert b"hunter2" not in all_bytes(ledger_path.parent)
        [stored] = await ledger.recent(1)
    finally:
        await ledger.aclose()
    assert SECRET.encode() not in all_bytes(ledger_path.parent)  # and after the checkpoint on close
    assert stored.prompt_text is None and stored.prompt_hash == hashlib.sha256(SECRET.encode()).hexdigest()
    assert live is not None and live.prompt_text is None and "prompt_text" not in live.to_dict()


async def test_log_prompts_opt_in_stores_the_text(ledger_path: Path) -> None:
    ledger = Ledger.open(ledger_path, log_prompts=True)
    try:
        await ledger.record(rec())
        [stored] = await ledger.recent(1)
    finally:
        await ledger.aclose()
    assert stored.prompt_text == SECRET and stored.prompt_hash == prompt_hash(SECRET)
    assert SECRET.encode() in all_bytes(ledger_path.parent)


def test_migrations_are_append_only() -> None:
    """Released migrations never change: a schema change is a new entry at the end of MIGRATIONS.
    When you append one, add its hash here; never edit an existing line."""
    released = ["405e7e1dbf3000a0", "12919f8c79426143", "fbde8948f47f7ba2", "545254c80c246bd5"]
    hashes = [hashlib.sha256(m.encode()).hexdigest()[:16] for m in MIGRATIONS]
    assert hashes[: len(released)] == released


async def test_a_version_1_file_upgrades_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:1])
    old = rec()
    old.ts = 1.0
    row = dict(zip(queries.COLUMNS, queries.record_to_row(old, log_prompts=False), strict=True))
    v1 = [
        c for c in queries.COLUMNS if c not in ("cache_write_tokens", "cache_write_1h_tokens", "web_searches")
    ]
    conn.execute(f"INSERT INTO requests ({', '.join(v1)}) VALUES ({', '.join('?' * len(v1))})",
                 [row[c] for c in v1])  # fmt: skip
    conn.close()
    ledger = Ledger.open(path)
    try:
        await ledger.record(rec())
        assert await ledger.count() == 2
        first = (await ledger.recent(2))[-1]
        assert (first.ts, first.cache_write_tokens, first.cache_write_1h_tokens, first.web_searches) == (
            1.0,
            0,
            0,
            0,
        )
    finally:
        await ledger.aclose()
    conn = sqlite3.connect(path)
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    assert version == len(MIGRATIONS) == 4
    assert indexes == {"requests_ts", "requests_client_ts"}


def test_a_file_from_a_newer_edgeroute_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(LedgerSchemaError, match="upgrade edgeroute"):
        Ledger.open(path)


def test_migration_runs_in_one_transaction(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "l.sqlite3", isolation_level=None)
    broken = (*MIGRATIONS, "CREATE TABLE extra (x INTEGER); CREATE TABLE extra (x INTEGER);")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchone() is None
    conn.close()


async def test_ledger_files_are_private(ledger_path: Path) -> None:
    ledger = Ledger.open(ledger_path)
    try:
        await ledger.record(rec())
        modes = {p.name: p.stat().st_mode & 0o777 for p in ledger_path.parent.iterdir()}
    finally:
        await ledger.aclose()
    assert modes["ledger.sqlite3"] == 0o600 and modes["ledger.sqlite3-wal"] == 0o600
    assert ledger_path.parent.stat().st_mode & 0o777 == 0o700
