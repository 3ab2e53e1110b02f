"""``edgeroute config init|show|path|validate``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeroute.cli.common import config_option, load_or_exit


@click.group()
def config() -> None:
    """Create, show and validate the config file."""


@config.command()
def path() -> None:
    """Print where the config file lives."""
    from edgeroute.paths import resolve_paths

    click.echo(str(resolve_paths().config_file))


@config.command()
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--path", "target", type=click.Path(dir_okay=False, path_type=Path), default=None)
def init(force: bool, target: Path | None) -> None:
    """Write a commented starter config file."""
    from importlib.resources import files

    from edgeroute.paths import ensure_dir, resolve_paths

    dest = target or resolve_paths().config_file
    if dest.exists() and not force:
        click.echo(f"{dest} already exists; pass --force to overwrite it.", err=True)
        raise SystemExit(1)
    ensure_dir(dest.parent)
    dest.write_text(files("edgeroute").joinpath("config.example.toml").read_text(encoding="utf-8"))
    click.echo(f"Wrote {dest}")


@config.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML-like text.")
def show(config_path: Path | None, as_json: bool) -> None:
    """Print the effective config (file + EDGEROUTE_* overrides); secrets are masked."""
    settings, _ = load_or_exit(config_path)
    data = settings.redacted()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(_to_toml(data))


@config.command()
@config_option
def validate(config_path: Path | None) -> None:
    """Check the config file; exit 2 with `file: key: reason` lines when it is wrong."""
    from edgeroute.paths import resolve_paths

    load_or_exit(config_path)
    click.echo(f"{config_path or resolve_paths().config_file}: OK")


def _toml_value(value: object) -> str:
    if value is None:
        return '"" # unset'
    return json.dumps(value)


def _to_toml(data: dict[str, object]) -> str:
    """Render plain config data as TOML for reading (None values shown as comments)."""
    out: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            out.append(f"[{key}]")
            out += [f"{k} = {_toml_value(v)}" for k, v in value.items() if v is not None]
            out.append("")
        elif isinstance(value, list):
            for item in value:
                out.append(f"[[{key}]]")
                out += [f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None]
                out.append("")
    return "\n".join(out).rstrip() + "\n"
