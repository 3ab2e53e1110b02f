"""``edgeroute service install|uninstall``: start the daemon at login (systemd user unit or launchd agent)."""

from __future__ import annotations

import os
import sys

import click


@click.group()
def service() -> None:
    """Run edgeroute at login: a systemd user unit (Linux) or a launchd agent (macOS)."""


@service.command()
def install() -> None:
    """Write the unit/agent file and print how to enable it."""
    from edgeroute import daemon

    env = dict(os.environ)
    if sys.platform == "darwin":
        path = daemon.launchd_plist_path(env)
        text = daemon.launchd_plist(sys.executable, env)
        hint = f"launchctl load -w {path}"
    else:
        path = daemon.systemd_unit_path(env)
        text = daemon.systemd_unit(sys.executable, env)
        hint = "systemctl --user daemon-reload && systemctl --user enable --now edgeroute"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    click.echo(f"Wrote {path}\nEnable it with:\n  {hint}")


@service.command()
def uninstall() -> None:
    """Remove the unit/agent file (stop it first with systemctl/launchctl)."""
    from edgeroute import daemon

    env = dict(os.environ)
    path = daemon.launchd_plist_path(env) if sys.platform == "darwin" else daemon.systemd_unit_path(env)
    if not path.exists():
        click.echo(f"No service file at {path}")
        raise SystemExit(1)
    path.unlink()
    hint = (
        f"launchctl unload {path}" if sys.platform == "darwin" else "systemctl --user disable --now edgeroute"
    )
    click.echo(f"Removed {path} (if it was running: {hint})")
