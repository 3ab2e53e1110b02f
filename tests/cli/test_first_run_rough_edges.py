"""Rough edges a new user hit on a first walkthrough of the CLI, each driven through the real CLI (click's
CliRunner in-process, or the console script in a subprocess) in a tmp EDGEROUTE_HOME."""

from __future__ import annotations

import json
import os
import pty
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeroute.cli.main import cli

EXE = str(Path(sys.executable).parent / "edgeroute")
ENV_ONLY = """
[[cloud]]
name = "gpt"
provider = "openai"
model = "gpt-4o"
key_env = "MY_OPENAI_KEY"
"""


def write_config(home: Path, text: str) -> Path:
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("MY_OPENAI_KEY", raising=False)


# ---------------------------------------------------------------- keys list: key_env models


def test_keys_list_shows_an_env_only_model_by_its_variable_not_a_missing_keyring_entry(
    edgeroute_home: Path, no_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(edgeroute_home, ENV_ONLY)
    runner = CliRunner()
    unset = runner.invoke(cli, ["keys", "list"])
    assert unset.exit_code == 0, unset.output
    assert unset.stdout.splitlines()[1].split() == [
        "openai",
        "env",
        "MY_OPENAI_KEY",
        "not",
        "set",
        "cloud/gpt",
    ]
    assert "missing" not in unset.stdout and "keys set openai" not in unset.stderr
    assert "MY_OPENAI_KEY is not set in this shell" in unset.stderr and "edgeroute status" in unset.stderr

    monkeypatch.setenv("MY_OPENAI_KEY", "sk-from-env-abcdefgh4321")
    found = runner.invoke(cli, ["keys", "list"])
    assert found.stdout.splitlines()[1].split() == ["openai", "env", "MY_OPENAI_KEY", "…4321", "cloud/gpt"]
    assert "sk-from-env" not in found.output


def test_keys_list_prints_the_keyring_howto_only_when_a_keyring_is_needed(
    edgeroute_home: Path, no_keyring: None
) -> None:
    write_config(edgeroute_home, ENV_ONLY)
    runner = CliRunner()
    env_only = runner.invoke(cli, ["keys", "list"])
    assert env_only.exit_code == 0
    assert "No usable OS keyring" not in env_only.output and "gnome-keyring" not in env_only.output
    assert "keyring: none (not needed" in env_only.stdout

    write_config(
        edgeroute_home, ENV_ONLY + '\n[[cloud]]\nname = "claude"\nprovider = "anthropic"\nmodel = "c"\n'
    )
    needs_one = runner.invoke(cli, ["keys", "list"])
    assert "No usable OS keyring" in needs_one.stderr and "gnome-keyring" in needs_one.stderr
    assert "anthropic: no key - add one with `edgeroute keys set anthropic`" in needs_one.stderr


# ---------------------------------------------------------------- keys set/rm with a daemon running


def test_keys_set_and_rm_say_when_a_running_daemon_sees_the_change(
    edgeroute_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    runner = CliRunner()
    alone = runner.invoke(cli, ["keys", "set", "openai", "--stdin"], input="sk-first-key-000011112222\n")
    assert alone.exit_code == 0 and "running daemon" not in alone.output

    from edgeroute.paths import resolve_paths

    paths = resolve_paths()  # a daemon stand-in: this (live) process, named in the state file
    paths.runtime_dir.mkdir(parents=True, exist_ok=True)
    paths.state_file.write_text(
        json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:9", "started": time.time()})
    )
    stored = runner.invoke(cli, ["keys", "set", "openai", "--stdin"], input="sk-second-key-00001111333\n")
    assert stored.exit_code == 0, stored.output
    assert f"The running daemon (pid {os.getpid()}) picks it up within 10 s." in stored.stdout
    removed = runner.invoke(cli, ["keys", "rm", "openai"])
    assert removed.exit_code == 0 and "stops using it within 10 s" in removed.stdout


# ---------------------------------------------------------------- models


def test_models_without_downloads_does_not_contradict_its_own_table(
    edgeroute_home: Path, starter_gguf: Path, minilm_gguf: Path
) -> None:
    """The starter models are served; the message says so instead of "no models" above a table of them."""
    from edgeroute.engine.minilm_gguf import MINILM_FILE
    from edgeroute.paths import resolve_paths

    starter = resolve_paths().models_dir / "starter"  # the cached files, so nothing is assembled or built
    starter.mkdir(parents=True)
    (starter / starter_gguf.name).symlink_to(starter_gguf)
    (starter / MINILM_FILE).symlink_to(minilm_gguf)
    out = CliRunner().invoke(cli, ["models"])
    assert out.exit_code == 0, out.output
    first, blank, header, *rows = out.stdout.splitlines()
    assert "Try `edgeroute pull --list`" not in out.stdout
    assert first.startswith("No models downloaded yet; the models below come with edgeroute.")
    assert "`edgeroute pull --list` shows more to download" in first
    assert blank == "" and header.split()[:2] == ["NAME", "SOURCE"]
    assert {r.split()[0]: r.split()[1] for r in rows if r and not r.startswith("(")} == {
        "gemma3-270m": "starter",
        "minilm": "starter",
    }


# ---------------------------------------------------------------- status / stop after a crash


def test_status_and_stop_say_the_daemon_exited_when_its_pid_is_dead_or_a_zombie(edgeroute_home: Path) -> None:
    from edgeroute.paths import resolve_paths

    paths = resolve_paths()
    paths.runtime_dir.mkdir(parents=True, exist_ok=True)
    runner = CliRunner()

    def leave_state(pid: int) -> None:
        state = {
            "pid": pid,
            "url": "http://127.0.0.1:9",
            "started": time.time(),
            "log_file": "/x/edgeroute.log",
        }
        paths.state_file.write_text(json.dumps(state))

    # killed and not reaped (a container whose init never waits): the pid still exists, as a zombie
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        zombie.kill()
        for _ in range(200):
            if Path(f"/proc/{zombie.pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                break
            time.sleep(0.01)
        leave_state(zombie.pid)
        status = runner.invoke(cli, ["status"])
        assert status.exit_code == 1
        assert f"the daemon (pid {zombie.pid}) exited without shutting down" in status.stdout
        assert "does not answer" not in status.stdout and "/x/edgeroute.log" in status.stdout
        assert not paths.state_file.exists()  # the stale state is cleared
        assert "not running (start it" in runner.invoke(cli, ["status"]).stdout  # and not reported twice

        leave_state(zombie.pid)
        stopped = runner.invoke(cli, ["stop"])
        assert stopped.exit_code == 1 and "exited without shutting down" in stopped.stdout
        assert not paths.state_file.exists()
    finally:
        zombie.wait()

    leave_state(zombie.pid)  # reaped: the pid is gone altogether
    as_json = runner.invoke(cli, ["status", "--json"])
    assert as_json.exit_code == 1 and json.loads(as_json.stdout) == {
        "running": False,
        "exited_pid": zombie.pid,
    }


# ---------------------------------------------------------------- config validate / --config


def test_validate_without_a_file_says_the_defaults_apply(edgeroute_home: Path) -> None:
    out = CliRunner().invoke(cli, ["config", "validate"])
    assert out.exit_code == 0, out.output
    path = edgeroute_home / "config" / "config.toml"
    assert out.stdout.startswith(f"{path}: no such file; the defaults apply") and "OK" not in out.stdout


def test_validate_reports_local_targets_no_model_answers_to(edgeroute_home: Path) -> None:
    cfg = write_config(
        edgeroute_home,
        ENV_ONLY
        + 'fallbacks = ["local/gemma3-270m"]\n'  # the starter model: known
        + '[router]\ndefault_fallbacks = ["local/nosuch"]\n'
        + '[[router.routes]]\nname = "code"\nkeywords = ["def"]\ntarget = "local/coder"\nfallbacks = ["cloud/gpt"]\n',
    )
    out = CliRunner().invoke(cli, ["config", "validate"])
    assert out.exit_code == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2, out.stderr
    assert lines[0].startswith(f"{cfg}: router.default_fallbacks: local/nosuch names no local model (known: ")
    assert "local/gemma3-270m" in lines[0] and "edgeroute pull" in lines[0]
    assert lines[1].startswith(f"{cfg}: router.routes 'code': local/coder names no local model")

    from edgeroute.paths import resolve_paths

    pulled = resolve_paths().models_dir / "coder"  # a pulled model's manifest makes the name known
    pulled.mkdir(parents=True)
    manifest = {"name": "coder", "source": "hf:o/r", "files": ["c.gguf"], "quant": "Q4_K_M", "sha256": {}}
    (pulled / "manifest.json").write_text(
        json.dumps(manifest | {"size": 1, "role": "code", "pulled_at": "x"})
    )
    write_config(edgeroute_home, cfg.read_text().replace("local/nosuch", "local/coder"))
    fixed = CliRunner().invoke(cli, ["config", "validate"])
    assert fixed.exit_code == 0, fixed.output
    assert fixed.stdout.strip() == f"{cfg}: OK"


def test_a_missing_explicit_config_suggests_init_for_that_path(tmp_path: Path) -> None:
    target = tmp_path / "my dir" / "nonexist.toml"
    out = subprocess.run([EXE, "serve", "--config", str(target)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "file not found" in out.stderr
    suggested = out.stderr.split("`")[1]
    assert suggested == f"edgeroute config init --path '{target}'"
    made = subprocess.run(  # the command as suggested, word for word
        [EXE, *shlex.split(suggested)[1:]], capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr
    checked = CliRunner().invoke(cli, ["config", "validate", "--config", str(target)])
    assert checked.exit_code == 0 and checked.stdout.strip() == f"{target}: OK"


# ---------------------------------------------------------------- route on a terminal


def test_route_without_a_file_on_a_terminal_is_a_usage_error_not_a_hang(edgeroute_home: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [EXE, "route", "--no-embedding"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    os.close(slave)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("edgeroute route waited on the terminal for input")
    finally:
        os.close(master)
    assert proc.returncode == 2 and "Usage:" in err and "- to read rows from standard input" in err
    assert out == "" and "Traceback" not in err


def test_route_without_a_file_still_reads_a_pipe(edgeroute_home: Path) -> None:
    row = {"id": "a", "messages": [{"role": "user", "content": "hi"}]}
    out = subprocess.run(
        [EXE, "route", "--no-embedding"],
        input=json.dumps(row) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    assert json.loads(line)["id"] == "a"
