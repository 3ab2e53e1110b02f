"""Helpers shared by CLI commands: loading settings with a clean exit on bad config, and asking the running
daemon what it serves."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.paths import Paths

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: the user config dir's config.toml).",
)


def missing_config_message(path: Path) -> str:
    """An explicit ``--config`` that does not exist: the ``config init`` that would create that very file
    (a bare ``config init`` writes the default path, which ``--config`` would still not read)."""
    return f"{path}: file not found (create it with `edgeroute config init --path {shlex.quote(str(path))}`)"


def load_or_exit(config_path: Path | None) -> tuple[Settings, Paths]:
    """Settings and paths, or a ``file: key: reason`` message and exit code 2 (never a traceback)."""
    from edgeroute.config import load_settings
    from edgeroute.errors import ConfigError
    from edgeroute.paths import resolve_paths

    paths = resolve_paths()
    if config_path is not None and not config_path.exists():
        click.echo(missing_config_message(config_path), err=True)
        raise SystemExit(2)
    try:
        settings = load_settings(config_path or paths.config_file, explicit=config_path is not None)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None
    return settings, paths


def auth_headers(settings: Settings | None) -> dict[str, str]:
    """The bearer token the daemon's guard wants when the config sets tokens (none: loopback is open)."""
    if settings is None:
        return {}
    tokens = list(settings.server.api_tokens) + [c.token for c in settings.clients if c.token]
    return {"Authorization": f"Bearer {tokens[0]}"} if tokens else {}


def daemon_models(url: str, settings: Settings | None, timeout: float = 2.0) -> list[dict[str, Any]] | None:
    """The running daemon's ``/v1/models`` entries, or None when it does not answer with a list. Cloud
    models appear there only when the daemon has their key, so this is the daemon's view of the keys, from
    its own environment and keyring rather than this shell's."""
    import httpx

    try:
        response = httpx.get(f"{url.rstrip('/')}/v1/models", headers=auth_headers(settings), timeout=timeout)
        data = response.json().get("data") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    if not isinstance(data, list):
        return None
    return [e for e in data if isinstance(e, dict)]
