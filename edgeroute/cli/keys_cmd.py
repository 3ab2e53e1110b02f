"""``edgeroute keys set|list|rm NAME``: cloud API keys in the OS keyring (service ``edgeroute``).

NAME is a provider (``openai``, ``anthropic``) or the ``key`` a ``[[cloud]]`` entry names. Keys are read
without echo (or from stdin) and only their last four characters are ever printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from edgeroute.cli.common import config_option, load_or_exit

if TYPE_CHECKING:
    from edgeroute.keys import KeyStore


def _store() -> KeyStore:
    from edgeroute.keys import KeyStore

    return KeyStore()


def _check_name(name: str) -> str:
    from edgeroute.config import NAME_RE

    if not NAME_RE.match(name):
        raise click.BadParameter("use letters, digits, '.', '_', ':' or '-'", param_hint="NAME")
    return name


def _read_secret(name: str, from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        secret = sys.stdin.read().strip()
    else:
        secret = str(
            click.prompt(f"API key for {name}", hide_input=True, default="", show_default=False)
        ).strip()
    if not secret:
        click.echo("No key given; nothing stored.", err=True)
        raise SystemExit(1)
    if any(ch.isspace() for ch in secret):
        click.echo("The key contains spaces or line breaks; expected one key on one line.", err=True)
        raise SystemExit(1)
    return secret


@click.group()
def keys() -> None:
    """Store cloud API keys in the OS keyring: set, list, rm."""


@keys.command("set")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the key from standard input (no prompt).")
def set_key(name: str, from_stdin: bool) -> None:
    """Store the API key for NAME in the OS keyring (typed without echo)."""
    from keyring.errors import KeyringError

    from edgeroute.keys import NoKeyringBackend, mask

    _check_name(name)
    store = _store()
    try:
        store.backend()  # before the prompt: no point typing a key that cannot be stored
    except NoKeyringBackend as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from None
    secret = _read_secret(name, from_stdin)
    try:
        store.set(name, secret)
    except NoKeyringBackend as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from None
    except KeyringError as exc:
        click.echo(f"The keyring refused to store the key ({type(exc).__name__}).", err=True)
        raise SystemExit(1) from None
    click.echo(f"Stored the key for {name} ({mask(secret)}) in {store.backend_name()}.")
    _note_running_daemon("picks it up")


@keys.command("list")
@config_option
def list_keys(config_path: Path | None) -> None:
    """Show every key name, where its key comes from (keyring or environment) and a masked tail."""
    from keyring.errors import KeyringError

    from edgeroute.keys import NoKeyringBackend, keyring_needed

    settings, _ = load_or_exit(config_path)
    store = _store()
    try:
        rows = store.list_keys(settings)
    except KeyringError as exc:  # e.g. a locked keyring the user declined to unlock
        click.echo(f"The keyring refused to read the keys ({type(exc).__name__}).", err=True)
        raise SystemExit(1) from None
    needed = keyring_needed(settings)
    if needed:
        try:
            store.backend()
        except NoKeyringBackend as exc:  # the how-to, or why the chosen PYTHON_KEYRING_BACKEND fails
            click.echo(exc.message + "\n", err=True)
    if not rows:
        click.echo("No keys yet. Add one with `edgeroute keys set openai` (or anthropic, ...).")
        return
    keys_shown = {"unset": "not set", "missing": "-"}
    table = [("NAME", "SOURCE", "KEY", "USED BY")]
    table += [
        (r.name, r.where, r.masked or keys_shown.get(r.source, "-"), ", ".join(r.used_by) or "-")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3]
        )
    for info in rows:
        if info.source == "missing":
            click.echo(f"\n{info.name}: no key - add one with `edgeroute keys set {info.name}`.", err=True)
        elif info.source == "unset":
            users = ", ".join(info.used_by)
            variables = " or ".join(info.env_vars)
            click.echo(
                f"\n{users}: {variables} is not set in this shell. The daemon reads its own environment: "
                "`edgeroute status` shows whether it has the key.",
                err=True,
            )
    backend = store.backend_name()
    if backend == "none" and not needed:
        backend += " (not needed: every cloud model reads its key from an environment variable)"
    click.echo(f"\nkeyring: {backend}")


@keys.command("rm")
@click.argument("name")
def rm_key(name: str) -> None:
    """Delete the key NAME from the OS keyring."""
    from keyring.errors import KeyringError

    from edgeroute.keys import NoKeyringBackend

    _check_name(name)
    store = _store()
    try:
        removed = store.delete(name)
    except NoKeyringBackend as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from None
    except KeyringError as exc:
        click.echo(f"The keyring refused to delete the key ({type(exc).__name__}).", err=True)
        raise SystemExit(1) from None
    if not removed:
        click.echo(f"No key named {name} in the keyring.", err=True)
        raise SystemExit(1)
    click.echo(f"Removed the key for {name}.")
    _note_running_daemon("stops using it")


def _note_running_daemon(what: str) -> None:
    """The daemon caches keyring lookups (a key, or no key) briefly and has no endpoint to drop the cache,
    so a change takes effect there within that time, not at once."""
    from edgeroute.daemon import read_state
    from edgeroute.keys import KEY_CACHE_TTL_S
    from edgeroute.paths import resolve_paths

    state = read_state(resolve_paths())
    if state is not None:
        click.echo(f"The running daemon (pid {state.pid}) {what} within {KEY_CACHE_TTL_S:.0f} s.")
