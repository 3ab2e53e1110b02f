"""Helpers shared by CLI commands: loading settings with a clean exit on bad config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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


def load_or_exit(config_path: Path | None) -> tuple[Settings, Paths]:
    """Settings and paths, or a ``file: key: reason`` message and exit code 2 (never a traceback)."""
    from edgeroute.config import load_settings
    from edgeroute.errors import ConfigError
    from edgeroute.paths import resolve_paths

    paths = resolve_paths()
    try:
        settings = load_settings(config_path or paths.config_file, explicit=config_path is not None)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None
    return settings, paths
