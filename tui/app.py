"""The dashboard app. Built by :func:`create_app` from :class:`TuiSettings` and an injectable
:class:`ApiClient`; every call to the daemon runs in a worker, and panes only draw and post messages."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from .api import ApiClient, ApiError, DaemonUnavailable
from .backoff import Backoff
from .connection import follow_events
from .messages import (
    CloudShareRequested,
    ConnectionChanged,
    LinkState,
    ModelActionRequested,
    ModeRequested,
    PullRequested,
    RequestArrived,
    RequestInspected,
    StartDaemonRequested,
)
from .panes.models import ModelsPane
from .panes.overview import OverviewPane
from .panes.requests import RequestsPane
from .panes.router import RouterPane
from .rows import dense_hours, free_memory_mb, hourly_points, local_models
from .settings import TuiSettings
from .snapshot import STATS_WINDOWS, load_snapshot
from .status_bar import StatusBar

RATE_WINDOW_S = 300.0


class EdgerouteTui(App[None]):
    CSS_PATH = "edgeroute.tcss"
    TITLE = "edgeroute"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_tab('overview')", "Overview", show=False),
        Binding("2", "show_tab('requests')", "Requests", show=False),
        Binding("3", "show_tab('models')", "Models", show=False),
        Binding("4", "show_tab('router')", "Router", show=False),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("t", "toggle_theme", "Theme"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, settings: TuiSettings, api: ApiClient) -> None:
        super().__init__()
        self.settings = settings
        self.api = api
        self.link: LinkState = "connecting"
        self.ever_connected = False
        self.routing_mode = "?"
        self.stats: dict[str, dict[str, Any] | None] = {}
        self.first_load = asyncio.Event()
        self._refresh_timer: Timer | None = None
        self._reported: set[str] = set()
        self.theme = settings.textual_theme

    # ---- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with TabbedContent(id="tabs", initial="overview"):
            with TabPane("1 Overview", id="overview"):
                yield OverviewPane(id="overview-pane")
            with TabPane("2 Requests", id="requests"):
                yield RequestsPane(self.settings.request_limit, self.api.base_url, id="requests-pane")
            with TabPane("3 Models", id="models"):
                yield ModelsPane(id="models-pane")
            with TabPane("4 Router", id="router"):
                yield RouterPane(id="router-pane")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self._show_status()
        self.follow_events()
        self.set_interval(self.settings.refresh_s, self._tick)

    async def on_unmount(self) -> None:
        await self.api.aclose()

    # ---- the connection ------------------------------------------------------------------------

    @work(exclusive=True, group="events", exit_on_error=False)
    async def follow_events(self) -> None:
        """Hold the event stream open; when it drops, retry with backoff and say so on screen."""
        await follow_events(
            self.api,
            Backoff(self.settings.reconnect_initial_s, self.settings.reconnect_cap_s),
            self.post_message,
            was_connected=lambda: self.ever_connected,
            poll_s=self.settings.refresh_s,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A bug or a surprising reply in one worker is a notification, never a crashed dashboard."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(f"{event.worker.name}: {type(error).__name__}: {error}", severity="error", timeout=15)
            if event.worker.group == "events":
                self.set_timer(self.settings.reconnect_cap_s, self.follow_events)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        from .screens.offline import OfflineScreen

        previous, self.link = self.link, message.state
        self._show_status(message)
        if self._screens_gone:
            return
        offline = self.screen if isinstance(self.screen, OfflineScreen) else None
        if message.state == "connected":
            if offline is not None:
                self.pop_screen()
            if previous == "reconnecting":
                self.notify(f"Reconnected to {message.url}", title="Daemon back")
            if previous != "connected":
                self.ever_connected = True
                self.refresh_data()
        elif message.state == "refused":
            if offline is not None:
                self.pop_screen()
            if previous != "refused":
                self.notify(
                    message.detail, title="The daemon refused the dashboard", severity="error", timeout=30
                )
        elif message.state == "offline":
            status = f"Retrying in {message.retry_in_s or 0:.1f}s (attempt {message.attempt})"
            if offline is None:
                self.push_screen(OfflineScreen(message.url, self.settings.is_loopback, status))
            else:
                offline.show_status(status)
        elif message.state == "reconnecting" and previous == "connected":
            self.notify("Lost the daemon; reconnecting…", title="Daemon gone", severity="warning")

    @property
    def _screens_gone(self) -> bool:
        """The event worker can post one last message while the app tears its screens down."""
        return not self.screen_stack

    def _show_status(self, message: ConnectionChanged | None = None) -> None:
        # A connection change can still arrive while the app shuts down and its widgets are gone.
        for bar in self.query(StatusBar):
            bar.show(self.api.base_url, self.routing_mode, self.link, message)

    # ---- loading data --------------------------------------------------------------------------

    def _tick(self) -> None:
        if self.link == "connected":
            self.refresh_data()

    def _schedule_refresh(self) -> None:
        """Coalesce a burst of events into one reload of the aggregates."""
        if self._refresh_timer is None:

            def fire() -> None:
                self._refresh_timer = None
                self.refresh_data()

            self._refresh_timer = self.set_timer(0.3, fire)

    @work(exclusive=True, group="refresh", exit_on_error=False)
    async def refresh_data(self) -> None:
        snapshot = await load_snapshot(self.api, self.settings.request_limit)
        if snapshot is None:
            return  # nothing answered: the event loop notices and says so
        for name, error in snapshot.errors.items():
            self._report_once(name, error)
        self._apply(snapshot.got)
        self.first_load.set()

    def _report_once(self, name: str, error: ApiError) -> None:
        key = f"{name}:{error.status}"
        if error.status == 404 or key in self._reported:
            return  # an older daemon without this endpoint: the pane just stays empty
        self._reported.add(key)
        self.notify(f"{name.split(':')[0]}: {error.message}", title="Daemon error", severity="error")

    def _apply(self, got: dict[str, Any]) -> None:
        health = got.get("health") or {}
        router = got.get("router") or {}
        mode = router.get("mode") or health.get("mode")
        if mode:
            self.routing_mode = str(mode)
        if "requests" in got:
            self.query_one(RequestsPane).add(got["requests"])
        self.stats = {w: got.get(f"stats:{w}") for w in STATS_WINDOWS}
        overview = self.query_one(OverviewPane)
        overview.show_stats(self.stats, self.requests_per_minute())
        if "timeseries" in got:
            overview.show_series(dense_hours(got["timeseries"], self.settings.clock()))
        elif "requests" in got:
            rows = list(self.query_one(RequestsPane).rows.values())
            overview.show_series(hourly_points(rows, self.settings.clock()))
        if router:
            self.query_one(RouterPane).show(router, self.latest_threshold())
        elif mode:
            self.query_one(RouterPane).show_mode(str(mode))
        if "models" in got:
            engine = got.get("engine")
            self.query_one(ModelsPane).show(local_models(got["models"], engine), free_memory_mb(engine))
        self._show_status()

    def latest_threshold(self) -> float | None:
        rows = [r for r in self.query_one(RequestsPane).rows.values() if r.threshold is not None]
        return max(rows, key=lambda r: r.time).threshold if rows else None

    def requests_per_minute(self) -> float | None:
        rows = self.query_one(RequestsPane).rows
        if not rows:
            return None
        since = self.settings.clock() - RATE_WINDOW_S
        return sum(1 for r in rows.values() if r.time >= since) / (RATE_WINDOW_S / 60.0)

    def on_request_arrived(self, message: RequestArrived) -> None:
        if self._screens_gone:
            return
        self.query_one(RequestsPane).add([message.row])
        self._schedule_refresh()

    # ---- actions the panes ask for -------------------------------------------------------------

    @on(ModeRequested)
    def _mode_requested(self, message: ModeRequested) -> None:
        self.apply_routing_mode(message.mode)

    @work(exclusive=True, group="mode", exit_on_error=False)
    async def apply_routing_mode(self, mode: str) -> None:
        try:
            new = await self.api.set_mode(mode)
        except (ApiError, DaemonUnavailable) as exc:
            self.notify(f"Could not switch mode: {exc}", severity="error")
            return
        self.routing_mode = new
        self.query_one(RouterPane).show_mode(new)
        self._show_status()
        self.notify(f"Routing mode: {new}")
        self.refresh_data()

    @on(CloudShareRequested)
    def _share_requested(self, message: CloudShareRequested) -> None:
        self.apply_cloud_share(message.share)

    @work(exclusive=True, group="share", exit_on_error=False)
    async def apply_cloud_share(self, share: float) -> None:
        try:
            await self.api.set_cloud_share(share)
        except (ApiError, DaemonUnavailable) as exc:
            self.notify(f"Could not set the cloud share: {exc}", severity="error")
            return
        self.notify(f"Target cloud share: {share:.0%}")
        self.refresh_data()

    @on(ModelActionRequested)
    def _model_action(self, message: ModelActionRequested) -> None:
        self.model_action(message.name, message.action)

    @work(group="models", exit_on_error=False)
    async def model_action(self, name: str, action: str) -> None:
        self.notify(f"{'Loading' if action == 'load' else 'Unloading'} {name}…")
        try:
            await (self.api.load(name) if action == "load" else self.api.unload(name))
        except (ApiError, DaemonUnavailable) as exc:
            self.notify(f"Could not {action} {name}: {exc}", severity="error")
            return
        self.notify(f"{name} {'loaded' if action == 'load' else 'unloaded'}")
        self.refresh_data()

    @on(PullRequested)
    def _pull_requested(self, message: PullRequested) -> None:
        self.pull_model(message.model)

    @work(exclusive=True, group="pull", exit_on_error=False)
    async def pull_model(self, model: str) -> None:
        pane = self.query_one(ModelsPane)
        pane.show_pull(model, "starting…")
        try:
            async for event in self.api.pull(model):
                status = str(event.get("status") or "")
                if status == "error":
                    why = str(event.get("message") or "failed")
                    pane.show_pull(model, f"failed: {why}")
                    self.notify(f"Pull {model}: {why}", severity="error")
                    return
                if status == "done":
                    pane.show_pull(model, f"done ({event.get('name') or model})")
                    self.notify(f"Pulled {event.get('name') or model}")
                    self.refresh_data()
                    return
                total = event.get("total")
                pane.show_pull(
                    model, "downloading", int(event.get("bytes") or 0), int(total) if total else None
                )
        except (ApiError, DaemonUnavailable) as exc:
            pane.show_pull(model, f"failed: {exc}")
            self.notify(f"Pull {model}: {exc}", severity="error")
            return
        pane.show_pull(model, "stream ended before the pull finished")

    @on(RequestInspected)
    def _inspect(self, message: RequestInspected) -> None:
        from .screens.request_detail import RequestDetailScreen

        self.push_screen(RequestDetailScreen(message.row))

    @on(StartDaemonRequested)
    def _start_requested(self) -> None:
        self.start_daemon()

    @work(exclusive=True, group="start", exit_on_error=False)
    async def start_daemon(self) -> None:
        from .screens.offline import OfflineScreen
        from .settings import discover_url
        from .starter import start_daemon

        if isinstance(self.screen, OfflineScreen):
            self.screen.show_status("Starting: edgeroute serve --detach …")
        ok, output = await start_daemon(self.api.base_url, self.settings.url_discovered)
        if not ok:
            self.notify(output, title="Could not start edgeroute", severity="error", timeout=15)
            if isinstance(self.screen, OfflineScreen):
                self.screen.show_status(output)
            return
        if self.settings.url_discovered:
            self.api.base_url = discover_url()
        self.follow_events()  # restart the loop now rather than after its backoff sleep

    # ---- keys ----------------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self._focus_pane(tab)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._focus_pane(event.pane.id)

    def _focus_pane(self, tab: str) -> None:
        """Put the focus inside the pane so its own keys (load, mode, …) work right away."""
        target = {"requests": "#requests-table", "models": "#models-table", "router": "#mode-auto"}.get(tab)
        self.query_one(target or "#tabs Tabs").focus()

    def action_refresh(self) -> None:
        self.refresh_data()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"


def create_app(settings: TuiSettings, api: ApiClient | None = None) -> EdgerouteTui:
    """The dashboard for ``settings``; tests pass an ``api`` pointed at their own daemon."""
    return EdgerouteTui(settings, api or ApiClient(settings.url, settings.token))
