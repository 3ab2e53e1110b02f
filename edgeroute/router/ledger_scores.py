"""Where ``edgeroute calibrate`` gets scores: the ledger's ``requests.route_score`` (read-only), or a
JSONL file with a ``score`` per line (``edgeroute route`` output)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


def ledger_scores(ledger_file: Path, since: float) -> list[float]:
    """Scores of requests the router scored since ``since`` (epoch seconds); [] without a ledger."""
    if not ledger_file.exists():
        return []
    conn = sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True, timeout=5.0)
    try:
        rows = conn.execute(
            "SELECT route_score FROM requests WHERE route_score IS NOT NULL AND ts >= ?", (since,)
        ).fetchall()
    except sqlite3.Error as exc:
        raise ValueError(f"the ledger cannot be read ({exc})") from None
    finally:
        conn.close()
    return [float(r[0]) for r in rows]


def scores_from_jsonl(path: Path) -> list[float]:
    """The ``score`` of every line that has a number there."""
    out: list[float] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line).get("score")
            except (json.JSONDecodeError, AttributeError):
                raise ValueError(f"line {lineno}: not a JSON object") from None
            if isinstance(value, (int, float)):
                out.append(float(value))
    return out
