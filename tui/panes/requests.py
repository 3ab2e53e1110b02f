"""Live requests: a table that grows as the daemon reports finished requests, newest first. Enter (or a
click) on a row opens its full story: the whole reason, the score and the fallback trail."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from .. import fmt
from ..messages import RequestInspected
from ..rows import RequestRow

COLUMNS = (
    ("time", "Time"),
    ("client", "Client"),
    ("route", "Requested → served"),
    ("tier", "Tier"),
    ("reason", "Reason"),
    ("tokens", "Tok in/out"),
    ("latency", "Latency"),
    ("cost", "Cost"),
    ("saved", "Saved"),
)
# The widest a fixed column's text gets; each column also takes two cells of padding.
FIXED_WIDTH = {"time": 8, "client": 12, "tier": 5, "tokens": 10, "latency": 7, "cost": 8, "saved": 8}
ALWAYS = ("time", "route", "tier", "reason", "cost", "saved")
OPTIONAL = ("latency", "tokens", "client")  # shown in this order as the terminal gets wider
MIN_ROUTE, ROUTE_FIRST, MAX_ROUTE, MIN_REASON, MAX_REASON = 18, 24, 40, 16, 80
KEEP_FOR_TEXT = 8  # an optional column only comes in if route and reason keep this much beyond their minimum
SCROLLBAR = 2


@dataclass(frozen=True, slots=True)
class TableLayout:
    """Which columns fit and how wide the free-text ones may be: what a row costs and saves must be on
    screen at 80 columns, and a wide terminal shows the whole routing reason instead of 20 characters."""

    columns: tuple[str, ...]
    route: int
    reason: int


def layout_for(width: int) -> TableLayout:
    room = width - SCROLLBAR
    shown = list(ALWAYS)
    used = sum(FIXED_WIDTH[c] + 2 for c in ALWAYS if c in FIXED_WIDTH) + MIN_ROUTE + MIN_REASON + 4
    for column in OPTIONAL:
        if used + FIXED_WIDTH[column] + 2 + KEEP_FOR_TEXT <= room:
            shown.append(column)
            used += FIXED_WIDTH[column] + 2
    spare = max(0, room - used)
    route = MIN_ROUTE + min(spare, ROUTE_FIRST - MIN_ROUTE)  # room for a model pair first,
    spare -= route - MIN_ROUTE
    reason = MIN_REASON + min(spare, MAX_REASON - MIN_REASON)  # then the whole reason,
    spare -= reason - MIN_REASON
    route += min(spare, MAX_ROUTE - route)  # then long model names
    return TableLayout(tuple(key for key, _ in COLUMNS if key in shown), route, reason)


WIDE = layout_for(10_000)
TIER_STYLE = {"local": "green", "cloud": "magenta"}


class TimeCell:
    """A clock time that sorts by its timestamp (the table is kept newest first)."""

    __slots__ = ("ts",)

    def __init__(self, ts: float) -> None:
        self.ts = ts

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(fmt.clock_time(self.ts), no_wrap=True)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> object:
        from rich.measure import Measurement

        return Measurement(8, 8)


def short_model(name: str | None) -> str:
    """``local/gemma3-270m`` → ``gemma3-270m``: the tier column already says where it ran."""
    if not name:
        return "—"
    tier, _, rest = name.partition("/")
    return rest if tier in ("local", "cloud") and rest else name


def route_text(row: RequestRow, width: int) -> str:
    """``auto → gemma3-270m``, clipped on the requested side: where it ran matters more than what was asked."""
    served = short_model(row.served_model)
    if row.served_model is None or row.requested_model in (served, row.served_model):
        return fmt.clip(row.requested_model, width)  # nothing served (an error), or served as asked
    tail = f" → {served}"
    if len(tail) + 4 > width:
        return fmt.clip(row.requested_model + tail, width)
    return fmt.clip(row.requested_model, width - len(tail)) + tail


def reason_text(row: RequestRow) -> str:
    """A fallback leads, since the route alone (``auto → gemma3-270m``) does not show that one happened."""
    if not row.ok:
        return row.error or row.status or row.reason
    failed = [a.error for a in row.fallbacks if a.error]
    if failed and "fallback" not in row.reason:
        return f"fallback ({', '.join(failed)}); {row.reason}" if row.reason else f"fallback ({failed[0]})"
    return row.reason


def cells(row: RequestRow, layout: TableLayout = WIDE) -> tuple[object, ...]:
    """The table cells; user-supplied text goes in ``Text`` so brackets are never read as markup."""
    tier = Text(row.tier or ("error" if not row.ok else "—"), style=TIER_STYLE.get(row.tier or "", "red"))
    tokens = f"{fmt.count(row.prompt_tokens)}/{fmt.count(row.completion_tokens)}" + (
        "~" if row.estimated else ""
    )
    saved_style = "green" if (row.saved_usd or 0) > 0 else ""
    every = {
        "time": TimeCell(row.time),
        "client": Text(fmt.clip(row.client or "—", FIXED_WIDTH["client"])),
        "route": Text(route_text(row, layout.route)),
        "tier": tier,
        "reason": Text(fmt.clip(reason_text(row), layout.reason), style="" if row.ok else "red"),
        "tokens": Text(tokens, justify="right"),
        "latency": Text(fmt.ms(row.latency_ms), justify="right"),
        "cost": Text(fmt.usd(row.cost_usd), justify="right"),
        "saved": Text(fmt.usd(row.saved_usd), justify="right", style=saved_style),
    }
    return tuple(every[key] for key in layout.columns)


class RequestsTable(DataTable[object]):
    BINDINGS: ClassVar[list[BindingType]] = [("enter", "select_cursor", "Details")]


def empty_hint(base_url: str) -> str:
    """What an empty table says: a first-time user's next step is to point a client at the daemon."""
    return (
        f"No requests yet. Point a client at {base_url}/v1 (OpenAI API) or {base_url} (Anthropic API)"
        " with model auto; docs/clients.md has the settings for each IDE."
    )


class RequestsPane(Vertical):
    def __init__(self, limit: int, base_url: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.limit = limit
        self.base_url = base_url
        self.rows: dict[str, RequestRow] = {}
        self.table_layout = WIDE

    def compose(self) -> ComposeResult:
        self.table_layout = layout_for(self.app.size.width - 2)  # the tab's padding; on_resize keeps it right
        yield self._new_table()
        yield Static(empty_hint(self.base_url), id="requests-empty")

    def _new_table(self) -> RequestsTable:
        table = RequestsTable(id="requests-table", cursor_type="row", zebra_stripes=True)
        labels = dict(COLUMNS)
        for key in self.table_layout.columns:
            table.add_column(labels[key], key=key)
        return table

    @property
    def table(self) -> RequestsTable:
        return self.query_one(RequestsTable)

    async def on_resize(self, event: events.Resize) -> None:
        """A new layout gets a new table: DataTable keeps stale column widths when its columns are replaced."""
        layout = layout_for(event.size.width)
        if event.size.width <= 0 or layout == self.table_layout:
            return  # a hidden tab has no width; keep what it had
        self.table_layout = layout
        old = self.table
        selected, focused = self._cursor_key(), old.has_focus
        await old.remove()
        table = self._new_table()
        await self.mount(table, before=0)
        for key, row in self.rows.items():  # rows that arrived meanwhile are in self.rows
            table.add_row(*cells(row, layout), key=key)
        self._sort(table, selected)
        if focused:
            table.focus()

    def add(self, rows: Iterable[RequestRow]) -> int:
        """Add rows not shown yet (the periodic reload and the live stream overlap); returns how many."""
        table = self.query(RequestsTable).first() if self.query(RequestsTable) else None
        added = 0
        for row in rows:
            if row.key in self.rows:
                continue
            self.rows[row.key] = row
            if table is not None:  # else the table is being replaced and takes every row of self.rows
                table.add_row(*cells(row, self.table_layout), key=row.key)
            added += 1
        if not added:
            return 0
        self.query_one("#requests-empty").display = False
        if len(self.rows) > self.limit:
            for key in sorted(self.rows, key=lambda k: self.rows[k].time)[: len(self.rows) - self.limit]:
                del self.rows[key]
                if table is not None:
                    table.remove_row(key)
        if table is not None:
            self._sort(table, self._cursor_key())
        return added

    def _sort(self, table: RequestsTable, selected: str | None) -> None:
        table.sort("time", key=lambda cell: cell.ts, reverse=True)
        if selected is not None and selected in self.rows and table.cursor_row > 0:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def _cursor_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # the cursor may sit past the end while rows are replaced
            return None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self.rows.get(str(event.row_key.value))
        if row is not None:
            self.post_message(RequestInspected(row))
