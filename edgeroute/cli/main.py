"""The root command group. Commands are listed here with their one-line help and imported lazily, so
``edgeroute --help`` never pays for pydantic, fastapi, llama_cpp or textual."""

from __future__ import annotations

import importlib

import click

from edgeroute import __version__

# name -> ("module:attribute", one-line help). Keep the help here in sync with the command's docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("edgeroute.cli.config_cmd:config", "Create, show and validate the config file."),
    "route": (
        "edgeroute.cli.route_cmd:route",
        "Route prompts from a JSONL file and print one decision per line.",
    ),
    "eval": (
        "edgeroute.cli.route_cmd:eval_",
        "Measure the router on per-prompt outcomes: APGR, CPT, baselines.",
    ),
    "calibrate": (
        "edgeroute.cli.route_cmd:calibrate",
        "Calibrate router thresholds on your own recent traffic.",
    ),
    "keys": ("edgeroute.cli.keys_cmd:keys", "Store cloud API keys in the OS keyring: set, list, rm."),
    "stats": ("edgeroute.cli.stats_cmd:stats", "Show requests, spend and savings."),
    "pull": ("edgeroute.cli.models_cmd:pull", "Download a model from the Hugging Face hub."),
    "models": (
        "edgeroute.cli.models_cmd:models",
        "List the local models served; `models info NAME` shows one.",
    ),
    "rm": ("edgeroute.cli.models_cmd:rm", "Delete a downloaded model."),
    "serve": (
        "edgeroute.cli.serve_cmd:serve",
        "Serve the OpenAI- and Anthropic-compatible API on localhost.",
    ),
    "status": (
        "edgeroute.cli.serve_cmd:status",
        "Show whether the daemon runs: pid, address, uptime, loaded models, cloud models with a key.",
    ),
    "stop": ("edgeroute.cli.serve_cmd:stop", "Stop the daemon gracefully."),
    "tui": (
        "edgeroute.cli.tui_cmd:tui",
        "Live dashboard: local-vs-cloud routing, savings, requests, models.",
    ),
    "service": (
        "edgeroute.cli.service_cmd:service",
        "Run edgeroute at login (systemd user unit / launchd agent).",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="edgeroute")
def cli() -> None:
    """edgeroute: answer LLM requests on this machine when a small local model is good enough, and send
    the rest to a premium cloud model. OpenAI- and Anthropic-compatible API on http://127.0.0.1:3343."""


def main() -> None:
    """Console-script entry point. A file-system error no command expected (a config or service folder
    that cannot be created, a full disk) ends in one line and exit 1, not a traceback."""
    try:
        cli(prog_name="edgeroute")
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"edgeroute: {exc.strerror or exc}{where}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
