"""Plain SQL against the ledger: row <-> record mapping and the few read queries. Sync functions on a
connection, so the daemon runs them in a thread and ``edgeroute stats`` runs them directly."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgeroute import jsonio
from edgeroute.ledger.money import opt_nano_to_usd, opt_usd_to_nano
from edgeroute.ledger.record import LedgerRecord, attempts_from_json, attempts_to_json, prompt_hash

COLUMNS = (
    "ts",
    "request_id",
    "client",
    "endpoint",
    "requested_model",
    "tier",
    "served_model",
    "route_reason",
    "route_score",
    "route_features",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "estimated",
    "ttft_ms",
    "latency_ms",
    "status",
    "error",
    "cost_nusd",
    "counterfactual_nusd",
    "saved_nusd",
    "reference_model",
    "stream",
    "prompt_hash",
    "prompt_text",
    "web_searches",
)
INSERT_SQL = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
SELECT_SQL = f"SELECT id, {', '.join(COLUMNS)} FROM requests"


def record_to_row(rec: LedgerRecord, *, log_prompts: bool) -> tuple[object, ...]:
    assert rec.ts is not None, "the ledger stamps ts before writing"
    return (
        rec.ts,
        rec.request_id,
        rec.client,
        rec.endpoint,
        rec.requested_model,
        rec.tier,
        rec.served_model,
        rec.route_reason,
        rec.route_score,
        jsonio.dumps_str(rec.route_features),
        attempts_to_json(rec.attempts),
        int(rec.prompt_tokens),
        int(rec.completion_tokens),
        int(rec.cached_tokens),
        int(rec.cache_write_tokens),
        int(rec.cache_write_1h_tokens),
        int(rec.estimated),
        rec.ttft_ms,
        float(rec.latency_ms),
        int(rec.status),
        rec.error,
        opt_usd_to_nano(rec.cost_usd),
        opt_usd_to_nano(rec.counterfactual_usd),
        opt_usd_to_nano(rec.saved_usd),
        rec.reference_model,
        int(rec.stream),
        rec.prompt_hash or (prompt_hash(rec.prompt_text) if rec.prompt_text is not None else ""),
        rec.prompt_text if log_prompts else None,
        int(rec.web_searches),
    )


def row_to_record(row: Sequence[Any]) -> LedgerRecord:
    (
        id_,
        ts,
        request_id,
        client,
        endpoint,
        requested_model,
        tier,
        served_model,
        route_reason,
        route_score,
        route_features,
        attempts,
        prompt_tokens,
        completion_tokens,
        cached_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        estimated,
        ttft_ms,
        latency_ms,
        status,
        error,
        cost_nusd,
        counterfactual_nusd,
        saved_nusd,
        reference_model,
        stream,
        phash,
        prompt_text,
        web_searches,
    ) = row
    return LedgerRecord(
        id=int(id_),
        ts=float(ts),
        request_id=str(request_id),
        client=client,
        endpoint=str(endpoint),
        requested_model=str(requested_model),
        tier=tier,
        served_model=served_model,
        route_reason=route_reason,
        route_score=route_score,
        route_features=json.loads(route_features or "{}"),
        attempts=attempts_from_json(attempts),
        prompt_tokens=int(prompt_tokens),
        completion_tokens=int(completion_tokens),
        cached_tokens=int(cached_tokens),
        cache_write_tokens=int(cache_write_tokens),
        cache_write_1h_tokens=int(cache_write_1h_tokens),
        web_searches=int(web_searches),
        estimated=bool(estimated),
        ttft_ms=ttft_ms,
        latency_ms=float(latency_ms),
        status=int(status),
        error=error,
        cost_usd=opt_nano_to_usd(cost_nusd),
        counterfactual_usd=opt_nano_to_usd(counterfactual_nusd),
        saved_usd=opt_nano_to_usd(saved_nusd),
        reference_model=reference_model,
        stream=bool(stream),
        prompt_hash=str(phash),
        prompt_text=prompt_text,
    )


def has_table(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'requests'").fetchone()
        is not None
    )


def _range(since: float | None, until: float | None) -> tuple[str, list[float]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("ts >= ?")
        params.append(since)
    if until is not None:
        clauses.append("ts <= ?")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def fetch_recent(
    conn: sqlite3.Connection, limit: int = 50, before_id: int | None = None, client: str | None = None
) -> list[LedgerRecord]:
    """Newest first; page with ``before_id`` (the smallest id of the previous page)."""
    clauses: list[str] = []
    params: list[object] = []
    if before_id is not None:
        clauses.append("id < ?")
        params.append(before_id)
    if client is not None:
        clauses.append("client = ?")
        params.append(client)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    params.append(max(0, min(int(limit), 1000)))
    rows = conn.execute(f"{SELECT_SQL}{where} ORDER BY id DESC LIMIT ?", params).fetchall()
    return [row_to_record(r) for r in rows]


def count_rows(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


@dataclass(frozen=True, slots=True)
class Group:
    """Aggregates for one (tier, served model, client): the unit every breakdown is summed from."""

    tier: str | None
    model: str | None
    client: str | None
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    estimated: int
    cost_nusd: int
    unknown_cost: int
    counterfactual_nusd: int
    unknown_counterfactual: int
    saved_nusd: int
    saved_basis_nusd: int  # counterfactual of the rows whose saving is known: the base of saved_pct


def fetch_groups(conn: sqlite3.Connection, since: float | None, until: float | None) -> list[Group]:
    where, params = _range(since, until)
    sql = f"""
        SELECT tier, served_model, client, COUNT(*),
               SUM(error IS NOT NULL OR status >= 400),
               SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens),
               SUM(cache_write_tokens), SUM(estimated),
               COALESCE(SUM(cost_nusd), 0), SUM(cost_nusd IS NULL),
               COALESCE(SUM(counterfactual_nusd), 0), SUM(counterfactual_nusd IS NULL),
               COALESCE(SUM(saved_nusd), 0),
               COALESCE(SUM(CASE WHEN saved_nusd IS NOT NULL THEN counterfactual_nusd END), 0)
        FROM requests{where}
        GROUP BY tier, served_model, client
    """
    return [Group(*row) for row in conn.execute(sql, params)]


def fetch_latencies(
    conn: sqlite3.Connection, since: float | None, until: float | None
) -> tuple[list[float], list[float]]:
    """Sorted total latencies and times to first token (ms) of the successful requests."""
    where, params = _range(since, until)
    ok = (" AND " if where else " WHERE ") + "error IS NULL AND status < 400"
    latency = [r[0] for r in conn.execute(f"SELECT latency_ms FROM requests{where}{ok} ORDER BY 1", params)]
    ttft = [
        r[0]
        for r in conn.execute(
            f"SELECT ttft_ms FROM requests{where}{ok} AND ttft_ms IS NOT NULL ORDER BY 1", params
        )
    ]
    return latency, ttft


def fetch_cloud_spend(conn: sqlite3.Connection, since: float) -> dict[str | None, int]:
    """Known cloud spend (nano-dollars) since ``since``, per client (None = requests without a client)."""
    rows = conn.execute(
        "SELECT client, COALESCE(SUM(cost_nusd), 0) FROM requests "
        "WHERE ts >= ? AND tier = 'cloud' GROUP BY client",
        (since,),
    )
    return {client: int(total) for client, total in rows}


def fetch_scores(conn: sqlite3.Connection, since: float | None) -> list[float]:
    where, params = _range(since, None)
    cond = (" AND " if where else " WHERE ") + "route_score IS NOT NULL"
    return [
        float(r[0])
        for r in conn.execute(f"SELECT route_score FROM requests{where}{cond} ORDER BY ts", params)
    ]


def fetch_timeseries(conn: sqlite3.Connection, since: float | None, bucket_s: float) -> list[dict[str, Any]]:
    """Spend against counterfactual spend per time bucket (the TUI's chart); unknown prices count as 0."""
    where, args = _range(since, None)
    rows = conn.execute(
        f"SELECT CAST(ts / ? AS INTEGER) AS b, COALESCE(SUM(cost_nusd), 0), "
        f"COALESCE(SUM(counterfactual_nusd), 0), COUNT(*) FROM requests {where} GROUP BY b ORDER BY b",
        [bucket_s, *args],
    ).fetchall()
    return [
        {
            "t": b * bucket_s,
            "cost_usd": opt_nano_to_usd(cost),
            "counterfactual_usd": opt_nano_to_usd(counterfactual),
            "requests": n,
        }
        for b, cost, counterfactual, n in rows
    ]
