"""SIGKILL durability: a row whose record() returned is in the file even if the process dies right after.

Real subprocesses, real SIGKILL: no close(), no checkpoint, no atexit."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from edgeroute.ledger import Ledger, LedgerRecord

    path, n, concurrency, synchronous, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]

    def rec(i):
        return LedgerRecord(request_id=f"req_{i}", endpoint="/v1/chat/completions", requested_model="auto",
                            status=200, latency_ms=1.0, tier="cloud", served_model="cloud/x", cost_usd=0.001)

    async def main():
        ledger = Ledger.open(Path(path), synchronous=synchronous)
        i = 0
        while mode == "stream" or i < n:
            batch = [rec(j) for j in range(i, i + concurrency)]
            await asyncio.gather(*(ledger.record(r) for r in batch))
            for r in batch:
                sys.stdout.write(r.request_id + "\\n")
            sys.stdout.flush()
            i += concurrency
        # the last record() returned: die now, without closing anything
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
    """
)


def spawn(path: Path, n: int, concurrency: int, synchronous: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(n), str(concurrency), synchronous, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT request_id FROM requests")}
    finally:
        conn.close()


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
@pytest.mark.parametrize("concurrency", [1, 25])
def test_killed_right_after_the_last_record_keeps_every_row(
    tmp_path: Path, synchronous: str, concurrency: int
) -> None:
    path = tmp_path / "ledger.sqlite3"
    n = 100
    child = spawn(path, n, concurrency, synchronous, "fixed")
    out, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, err
    assert len(out.split()) == n
    assert Path(f"{path}-wal").exists()  # nothing was checkpointed or closed: the rows live in the WAL
    assert rows(path) == {f"req_{i}" for i in range(n)}


def test_killed_mid_stream_keeps_every_acknowledged_row(tmp_path: Path) -> None:
    """The parent kills the child at an arbitrary moment: every id it reported (after record() returned)
    must be in the file."""
    path = tmp_path / "ledger.sqlite3"
    child = spawn(path, 0, 10, "FULL", "stream")
    assert child.stdout is not None
    acknowledged: list[str] = []
    for line in child.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) >= 300:
            os.kill(child.pid, signal.SIGKILL)
            break
    acknowledged += [line.strip() for line in child.stdout]
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    stored = rows(path)
    assert set(acknowledged) <= stored
    assert len(stored) >= 300
