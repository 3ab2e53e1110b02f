"""``edgeroute config init|show|path|validate``."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from edgeroute.cli.common import config_option, load_or_exit

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.paths import Paths


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
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
    settings, paths = load_or_exit(config_path)
    source = config_path or paths.config_file
    problems = [f"{source}: {problem}" for problem in _unknown_local_targets(settings, paths)]
    if problems:
        click.echo("\n".join(problems), err=True)
        raise SystemExit(2)
    if not source.exists():
        click.echo(
            f"{source}: no such file; the defaults apply (write a starter file: `edgeroute config init`)"
        )
        return
    click.echo(f"{source}: OK")


def _known_local_names(settings: Settings, paths: Paths) -> set[str]:
    """The names the daemon would serve as local/NAME, found without reading a model file: ``[[local]]``
    entries, pulled models' manifests, and the starter models whose packages are installed."""
    from edgeroute.engine.minilm_gguf import MINILM_NAME, minilm_available
    from edgeroute.hub.store import ModelStore
    from edgeroute.starter import STARTER_NAME, starter_available

    names = {m.name for m in settings.local}
    names |= {m.name for m in ModelStore(paths.models_dir).list() if m.folder.name != "starter"}
    if not settings.local and starter_available():  # the starter chat model is served only then
        names.add(STARTER_NAME)
    if minilm_available():
        names.add(MINILM_NAME)
    return names


def _unknown_local_targets(settings: Settings, paths: Paths) -> list[str]:
    refs = [(where, ref) for where, ref in settings.target_refs() if ref.startswith("local/")]
    if not refs:
        return []
    known = _known_local_names(settings, paths)
    shown = ", ".join(f"local/{n}" for n in sorted(known)) or "none"
    return [
        f"{where}: {ref} names no local model (known: {shown}; pull one with `edgeroute pull`)"
        for where, ref in refs
        if ref.removeprefix("local/") not in known
    ]


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(value: str) -> str:
    # JSON's string escapes are TOML's too; TOML also wants DEL escaped.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        pairs = (f"{_key(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(pairs) + "}"
    return _string(str(value))


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit_table(path: list[str], data: dict[str, Any], out: list[str], header: str | None) -> None:
    """One table's plain keys under its header, then its sub-tables and arrays of tables (TOML has no
    null: unset keys are left out)."""
    if header is not None:
        out.append(header)
    for key, value in data.items():
        if value is not None and not isinstance(value, dict) and not _is_table_array(value):
            out.append(f"{_key(key)} = {_toml_value(value)}")
    if header is not None:
        out.append("")
    for key, value in data.items():
        sub = [*path, _key(key)]
        if isinstance(value, dict):
            _emit_table(sub, value, out, f"[{'.'.join(sub)}]")
        elif _is_table_array(value):
            for item in value:
                _emit_table(sub, item, out, f"[[{'.'.join(sub)}]]")


def _to_toml(data: dict[str, Any]) -> str:
    """The effective config as TOML that loads back (``config show > config.toml`` works)."""
    out: list[str] = []
    _emit_table([], data, out, None)
    return "\n".join(out).rstrip() + "\n"
