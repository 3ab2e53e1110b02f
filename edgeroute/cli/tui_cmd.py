"""``edgeroute tui``: the live dashboard of routing and savings, talking to the daemon over its API."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--url",
    default=None,
    help="The daemon's address (default: the running daemon's, else http://127.0.0.1:3343).",
)
@click.option(
    "--token",
    envvar="EDGEROUTE_TOKEN",
    default=None,
    show_envvar=True,
    help="API token, when the daemon requires one (server.api_tokens).",
)
@click.option("--theme", type=click.Choice(["dark", "light"]), default="dark", show_default=True)
def tui(url: str | None, token: str | None, theme: str) -> None:
    """Live dashboard: local-vs-cloud routing, savings, requests, models and the router."""
    from edgeroute.tui.app import create_app
    from edgeroute.tui.settings import TuiSettings, discover_url

    settings = TuiSettings(
        url=(url or discover_url()).rstrip("/"), token=token or None, theme=theme, url_discovered=url is None
    )
    create_app(settings).run()
