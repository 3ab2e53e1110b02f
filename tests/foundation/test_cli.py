"""The CLI as a user runs it: real console script in a subprocess, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeroute import __version__

EXE = str(Path(sys.executable).parent / "edgeroute")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60
    )


def test_version() -> None:
    for flag in ("--version", "-V"):
        out = run(flag)
        assert out.returncode == 0
        assert __version__ in out.stdout


def test_python_dash_m_runs_the_same_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "edgeroute", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_help_lists_every_registered_command() -> None:
    from edgeroute.cli.main import COMMANDS

    out = run("--help")
    assert out.returncode == 0
    for name, (_, short_help) in COMMANDS.items():
        assert name in out.stdout
        assert short_help.split()[0] in out.stdout


def test_every_registered_command_imports_and_has_help() -> None:
    from edgeroute.cli.main import COMMANDS

    for name in COMMANDS:
        out = run(name, "--help")
        assert out.returncode == 0, (name, out.stderr)
        assert "Usage:" in out.stdout


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from edgeroute.cli.main import cli\n"
        "try:\n    cli(['--help'], prog_name='edgeroute')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('llama_cpp', 'fastapi', 'textual', 'pydantic', 'numpy', 'httpx') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY=\n" in out.stdout, out.stdout


def test_config_path_follows_edgeroute_home(edgeroute_home: Path) -> None:
    out = run("config", "path")
    assert out.stdout.strip() == str(edgeroute_home.resolve() / "config" / "config.toml")


def test_config_init_writes_then_refuses_without_force(edgeroute_home: Path) -> None:
    first = run("config", "init")
    assert first.returncode == 0
    path = edgeroute_home.resolve() / "config" / "config.toml"
    assert path.exists() and "target_cloud_share" in path.read_text()
    second = run("config", "init")
    assert second.returncode == 1 and "--force" in second.stderr
    path.write_text("# edited\n")
    third = run("config", "init", "--force")
    assert third.returncode == 0 and "target_cloud_share" in path.read_text()
    # the starter file itself is valid
    assert run("config", "validate").returncode == 0


def test_validate_reports_file_key_reason_exit_2_no_traceback(edgeroute_home: Path) -> None:
    cfg = edgeroute_home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[router]\ntarget_cloud_share = 3\n")
    out = run("config", "validate")
    assert out.returncode == 2
    assert out.stderr.strip() == f"{cfg.resolve()}: router.target_cloud_share: must be between 0 and 1"
    assert "Traceback" not in out.stderr + out.stdout


def test_explicit_missing_config_exits_2(tmp_path: Path) -> None:
    out = run("config", "validate", "--config", str(tmp_path / "nope.toml"))
    assert out.returncode == 2 and "file not found" in out.stderr and "Traceback" not in out.stderr


def test_show_prints_effective_config_with_env_override_and_masks_secrets(edgeroute_home: Path) -> None:
    cfg = edgeroute_home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        '[server]\napi_tokens = ["tok-SECRETVALUE-1234"]\n[[clients]]\nname = "ide"\ntoken = "cli-TOPSECRET-99"\n'
    )
    out = run("config", "show", "--json", env={"EDGEROUTE_ROUTER__TARGET_CLOUD_SHARE": "0.45"})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["router"]["target_cloud_share"] == 0.45
    assert "SECRETVALUE" not in out.stdout and "TOPSECRET" not in out.stdout
    text = run("config", "show")
    assert "[router]" in text.stdout and "SECRETVALUE" not in text.stdout


@pytest.mark.parametrize("args", [["nosuchcommand"], ["config", "nosuch"]])
def test_unknown_command_is_a_usage_error(args: list[str]) -> None:
    out = run(*args)
    assert out.returncode == 2 and "Traceback" not in out.stderr
