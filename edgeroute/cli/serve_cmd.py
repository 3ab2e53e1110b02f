"""``edgeroute serve``, ``status`` and ``stop``: the daemon's life cycle."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from edgeroute.cli.common import config_option, daemon_models, load_or_exit, missing_config_message

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.daemon import DaemonState
    from edgeroute.paths import Paths


@click.command()
@click.option("--host", default=None, help="Address to bind (default: server.host, 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port (default: server.port, 3343)."
)
@config_option
@click.option(
    "--detach", is_flag=True, help="Run in the background (pid file in the runtime dir, log in the log dir)."
)
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(host: str | None, port: int | None, config_path: Path | None, detach: bool, log_level: str) -> None:
    """Serve the OpenAI- and Anthropic-compatible API on localhost."""
    from edgeroute import daemon

    settings, paths = load_or_exit(config_path)
    host = host or settings.server.host
    port = port if port is not None else settings.server.port
    try:
        daemon.check_bind_policy(
            host, bool(settings.server.api_tokens or any(c.token for c in settings.clients))
        )
        running = daemon.read_state(paths)
        if running is not None:
            raise daemon.DaemonError(
                f"edgeroute is already running (pid {running.pid}, {running.url}); stop it with `edgeroute stop`."
            )
        if detach:
            daemon.bind_socket(host, port).close()  # a taken port: say so here, not "see the log"
            argv = ["--host", host, "--port", str(port), "--log-level", log_level]
            if config_path:
                argv += ["--config", str(config_path)]
            state = daemon.start_detached(paths, argv, daemon.url_for(host, port))
            click.echo(f"edgeroute running at {state.url} (pid {state.pid}); log: {state.log_file}")
            return
        sock = daemon.bind_socket(host, port)
    except daemon.DaemonError as exc:
        click.echo(f"edgeroute: {exc}", err=True)
        raise SystemExit(1) from None
    from edgeroute.server.run import run_server

    run_server(settings, paths, sock, daemon.url_for(host, port), log_level)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
def status(as_json: bool, config_path: Path | None) -> None:
    """Show whether the daemon runs: pid, address, uptime, loaded models, cloud models with a key."""
    from edgeroute import daemon
    from edgeroute.paths import resolve_paths

    paths = resolve_paths()
    state, exited = daemon.find_state(paths)
    info = daemon.health(state.url) if state else None
    if state is None or info is None:
        if as_json:
            click.echo(json.dumps({"running": False} | ({"exited_pid": exited.pid} if exited else {})))
        elif exited is not None:
            click.echo(_exited_message(exited))
        elif state is not None:  # the process lives but does not answer: starting, hung, or not ours
            click.echo(
                f"edgeroute (pid {state.pid}) does not answer at {state.url}; see {state.log_file}, "
                "or end it with `edgeroute stop`"
            )
        else:
            click.echo("edgeroute is not running (start it with `edgeroute serve --detach`)")
        raise SystemExit(1)
    settings = _settings_or_none(config_path, paths)
    listed = daemon_models(state.url, settings)
    data: dict[str, Any] = {
        "running": True,
        "pid": state.pid,
        "url": state.url,
        "uptime_s": round(time.time() - state.started, 1),
        **info,
    }
    if listed is not None:
        ready = [
            str(e["id"]).removeprefix("cloud/") for e in listed if str(e.get("id", "")).startswith("cloud/")
        ]
        configured = [m.name for m in settings.cloud] if settings else []
        data["cloud_with_key"] = ready
        data["cloud_without_key"] = [name for name in configured if name not in ready]
    if as_json:
        click.echo(json.dumps(data))
        return
    loaded = ", ".join(info.get("loaded_models") or []) or "none"
    click.echo(f"edgeroute {info.get('version')} running at {state.url} (pid {state.pid})")
    click.echo(f"uptime: {data['uptime_s']:.0f}s   mode: {info.get('mode')}   loaded models: {loaded}")
    if listed is not None:
        _print_cloud_keys(data["cloud_with_key"], data["cloud_without_key"], settings)


def _settings_or_none(config_path: Path | None, paths: Paths) -> Settings | None:
    """The config for the cloud model names and the API token; a broken config must not hide the status."""
    from edgeroute.config import load_settings
    from edgeroute.errors import ConfigError

    try:
        return load_settings(config_path or paths.config_file, explicit=config_path is not None)
    except ConfigError:
        return None


def _print_cloud_keys(ready: list[str], without: list[str], settings: Settings | None) -> None:
    """What the daemon sees, from its own environment and keyring (not this shell's)."""
    from edgeroute.keys import KEY_CACHE_TTL_S

    if ready:
        click.echo("cloud models with a key: " + ", ".join(f"cloud/{n}" for n in ready))
    models = {m.name: m for m in settings.cloud} if settings else {}
    for name in without:
        model = models[name]
        if model.key_env and model.key is None:
            how = (
                f"{model.key_env} is not set in the daemon's environment; restart the daemon with it set "
                f"(or store a key with `edgeroute keys set {model.key_name}`)"
            )
        else:
            how = f"add one with `edgeroute keys set {model.key_name}`"
            if model.key_env:
                how += f" or set {model.key_env} in the daemon's environment"
        click.echo(f"cloud/{name}: the daemon has no key - {how}")
    if without:
        click.echo(f"(a key stored while the daemon runs is seen within {KEY_CACHE_TTL_S:.0f} s)")


def _exited_message(exited: DaemonState) -> str:
    log = f"; its log: {exited.log_file}" if exited.log_file else ""
    return (
        f"edgeroute is not running: the daemon (pid {exited.pid}) exited without shutting down (killed or "
        f"crashed{log}). Cleared its stale state; start it again with `edgeroute serve --detach`."
    )


@click.command()
@config_option
def stop(config_path: Path | None) -> None:
    """Stop the daemon gracefully (in-flight requests finish, up to server.drain_seconds)."""
    from edgeroute import daemon
    from edgeroute.config import ServerConfig, load_settings
    from edgeroute.errors import ConfigError
    from edgeroute.paths import resolve_paths

    paths = resolve_paths()
    try:
        if config_path is not None and not config_path.exists():
            raise ConfigError(missing_config_message(config_path))
        settings = load_settings(config_path or paths.config_file, explicit=config_path is not None)
        drain_s = settings.server.drain_seconds
    except ConfigError as exc:  # a typo in the config must not keep the user from stopping the daemon
        click.echo(f"{exc}\n(stopping anyway, with the default drain time)", err=True)
        drain_s = ServerConfig().drain_seconds
    _, exited = daemon.find_state(paths)
    if exited is not None:
        click.echo(_exited_message(exited))
        raise SystemExit(1)
    state = daemon.stop(paths, drain_s)
    if state is None:
        click.echo("edgeroute is not running")
        raise SystemExit(1)
    click.echo(f"stopped edgeroute (pid {state.pid})")
