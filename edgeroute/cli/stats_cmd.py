"""``edgeroute stats [--window today|7d|30d|all] [--json]``: the /api/stats numbers as a table.

Asks the running daemon (its address is in the state file) and, when none answers, reads the ledger file
directly, so the numbers are there for people without the TUI and after the daemon stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from edgeroute.cli.common import config_option, load_or_exit

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.paths import Paths

WINDOW_CHOICES = ("today", "7d", "30d", "all")


def daemon_url(paths: Paths) -> str | None:
    """The running daemon's base URL from the state file, if there is one."""
    try:
        state = json.loads(paths.state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = state.get("url") if isinstance(state, dict) else None
    return url.rstrip("/") if isinstance(url, str) and url else None


def fetch_from_daemon(url: str, settings: Settings, window: str) -> dict[str, Any] | None:
    """GET /api/stats; None when the daemon does not answer (a stale state file) or answers an error."""
    import httpx

    headers = (
        {"Authorization": f"Bearer {settings.server.api_tokens[0]}"} if settings.server.api_tokens else {}
    )
    try:
        response = httpx.get(f"{url}/api/stats", params={"window": window}, headers=headers, timeout=5.0)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def read_ledger(paths: Paths, settings: Settings, window: str) -> dict[str, Any]:
    import time

    from edgeroute.ledger.budgets import BudgetGuard
    from edgeroute.ledger.reader import LedgerReader

    reader = LedgerReader(paths.ledger_file)
    guard = BudgetGuard.from_settings(settings)
    guard.load_from(reader)
    return reader.stats(window, time.time(), budget=guard.snapshot())


@click.command()
@click.option("--window", type=click.Choice(WINDOW_CHOICES), default="today", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the /api/stats JSON document.")
@config_option
def stats(window: str, as_json: bool, config_path: Path | None) -> None:
    """Show requests, spend and savings.

    Asks the running daemon, or reads the ledger file when none is running."""
    settings, paths = load_or_exit(config_path)
    url = daemon_url(paths)
    data = fetch_from_daemon(url, settings, window) if url else None
    source = f"daemon at {url}" if data is not None else f"ledger file {paths.ledger_file}"
    if data is None:
        import sqlite3

        try:
            data = read_ledger(paths, settings, window)
        except sqlite3.Error as exc:  # a damaged or foreign file where the ledger should be
            click.echo(f"error: cannot read the ledger {paths.ledger_file}: {exc}", err=True)
            raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(render_stats(data, source=source))


# ---- the table ------------------------------------------------------------------------------------


def _usd(value: Any) -> str:
    from edgeroute.ledger.money import format_usd

    return format_usd(value if isinstance(value, int | float) else None)


def _pct(value: Any) -> str:
    return f"{value:.1f}%" if isinstance(value, int | float) else "-"


def _ms(value: Any) -> str:
    return f"{value:,.0f} ms" if isinstance(value, int | float) else "-"


def _breakdown(title: str, rows: dict[str, dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    width = max(len(title), *(len(name) for name in rows))
    lines = [
        "",
        f"{title:<{width}}  {'requests':>8}  {'errors':>6}  {'tokens':>10}  {'cost':>10}  {'saved':>10}",
    ]
    for name, row in rows.items():
        tokens = int(row.get("prompt_tokens", 0)) + int(row.get("completion_tokens", 0))
        unknown = int(row.get("unknown_cost_requests", 0))
        cost, saved = _usd(row.get("cost_usd")), _usd(row.get("saved_usd"))
        if unknown and unknown >= int(row.get("requests", 0)):
            cost = saved = "unknown"
        elif unknown:
            cost += "+?"
        lines.append(
            f"{name:<{width}}  {row.get('requests', 0):>8}  {row.get('errors', 0):>6}  {tokens:>10,}  "
            f"{cost:>10}  {saved:>10}"
        )
    return lines


def _budget_line(label: str, entry: Any) -> str | None:
    if not isinstance(entry, dict) or entry.get("limit") is None:
        return None
    return (
        f"{label:<19}{_usd(entry['limit'])}: {_usd(entry.get('spent'))} spent, {_usd(entry.get('left'))} left, "
        f"resets {entry.get('resets_at', '?')}"
    )


def render_stats(data: dict[str, Any], *, source: str = "") -> str:
    """The stats document as plain text for a terminal."""
    tokens = data.get("tokens", {})
    latency = data.get("latency_ms", {})
    unknown = data.get("unknown_cost_requests", 0)
    lines = [
        f"edgeroute stats: {data.get('window', '?')}" + (f"  ({source})" if source else ""),
        "",
        f"{'requests':<19}{data.get('requests', 0):,}  (local {data.get('local_requests', 0):,}, "
        f"cloud {data.get('cloud_requests', 0):,}, errors {data.get('errors', 0):,})",
        f"{'local share':<19}{_pct(None if data.get('local_share') is None else 100 * data['local_share'])}",
        f"{'spent':<19}{_usd(data.get('cost_usd'))}"
        + (f"  (+ {unknown} request{'s' if unknown != 1 else ''} at an unknown price)" if unknown else ""),
        f"{'premium would cost':<19}{_usd(data.get('counterfactual_usd'))}",
        f"{'saved':<19}{_usd(data.get('saved_usd'))}  ({_pct(data.get('saved_pct'))})",
        f"{'tokens':<19}prompt {tokens.get('prompt', 0):,}, completion {tokens.get('completion', 0):,}"
        + (f"  ({data['estimated_requests']} estimated)" if data.get("estimated_requests") else ""),
        f"{'latency':<19}p50 {_ms(latency.get('p50'))}, p95 {_ms(latency.get('p95'))}, p99 {_ms(latency.get('p99'))}",
    ]
    budget = data.get("budget") or {}
    for period in ("daily", "monthly"):
        line = _budget_line(f"{period} budget", budget.get(period))
        if line:
            lines.append(line)
    for client, periods in (budget.get("clients") or {}).items():
        for period in ("daily", "monthly"):
            line = _budget_line(
                f"{client} {period}", periods.get(period) if isinstance(periods, dict) else None
            )
            if line:
                lines.append(line)
    lines += _breakdown("tier", data.get("by_tier") or {})
    lines += _breakdown("model", data.get("by_model") or {})
    lines += _breakdown("client", data.get("by_client") or {})
    return "\n".join(lines)
