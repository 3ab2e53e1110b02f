"""Live requests: a table that grows as the daemon reports finished requests, newest first. Enter (or a
click) on a row opens its full story: the whole reason, the score and the fallback trail."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import DataTable
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
    ("tokens", "Tokens"),
    ("latency", "Latency"),
    ("cost", "Cost"),
    ("saved", "Saved"),
)
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


def cells(row: RequestRow) -> tuple[object, ...]:
    """The table cells; user-supplied text goes in ``Text`` so brackets are never read as markup."""
    served = short_model(row.served_model)
    route = (
        row.requested_model
        if row.requested_model in (served, row.served_model)
        else f"{row.requested_model} → {served}"
    )
    tier = Text(row.tier or ("error" if not row.ok else "—"), style=TIER_STYLE.get(row.tier or "", "red"))
    reason = row.reason if row.ok else (row.error or row.status or row.reason)
    tokens = f"{row.prompt_tokens}/{row.completion_tokens}" + ("~" if row.estimated else "")
    return (
        TimeCell(row.time),
        Text(fmt.clip(row.client or "—", 12)),
        Text(fmt.clip(route, 30)),
        tier,
        Text(fmt.clip(reason, 20), style="" if row.ok else "red"),
        Text(tokens, justify="right"),
        Text(fmt.ms(row.latency_ms), justify="right"),
        Text(fmt.usd(row.cost_usd), justify="right"),
        Text(fmt.usd(row.saved_usd), justify="right", style="green" if (row.saved_usd or 0) > 0 else ""),
    )


class RequestsTable(DataTable[object]):
    BINDINGS: ClassVar[list[BindingType]] = [("enter", "select_cursor", "Details")]


class RequestsPane(Vertical):
    def __init__(self, limit: int, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.limit = limit
        self.rows: dict[str, RequestRow] = {}

    def compose(self) -> ComposeResult:
        table = RequestsTable(id="requests-table", cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table

    @property
    def table(self) -> RequestsTable:
        return self.query_one(RequestsTable)

    def add(self, rows: Iterable[RequestRow]) -> int:
        """Add rows not shown yet (the periodic reload and the live stream overlap); returns how many."""
        table = self.table
        added = 0
        for row in rows:
            if row.key in self.rows:
                continue
            self.rows[row.key] = row
            table.add_row(*cells(row), key=row.key)
            added += 1
        if not added:
            return 0
        if len(self.rows) > self.limit:
            for key in sorted(self.rows, key=lambda k: self.rows[k].time)[: len(self.rows) - self.limit]:
                del self.rows[key]
                table.remove_row(key)
        selected = self._cursor_key()
        table.sort("time", key=lambda cell: cell.ts, reverse=True)
        if selected is not None and selected in self.rows and table.cursor_row > 0:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        return added

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
