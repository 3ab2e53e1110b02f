"""Error paths a user pasting the README's commands runs into: each ends in a clear message and a non-zero
exit code, never a Python traceback (real console script in a subprocess, tmp EDGEROUTE_HOME)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXE = str(Path(sys.executable).parent / "edgeroute")


def run(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def failed_cleanly(out: subprocess.CompletedProcess[str], code: int) -> bool:
    return out.returncode == code and "Traceback" not in out.stderr + out.stdout


def write_config(home: Path, text: str) -> Path:
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_route_on_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    out = run("route", str(tmp_path / "prompts.jsonl"), "--no-embedding")
    assert failed_cleanly(out, 2) and "does not exist" in out.stderr


def test_serve_refuses_a_port_out_of_range() -> None:
    out = run("serve", "--port", "99999")
    assert failed_cleanly(out, 2) and "65535" in out.stderr


def test_serve_detach_on_a_taken_port_says_so(edgeroute_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run("serve", "--detach", "--port", str(port))
    assert failed_cleanly(out, 1) and f"Port {port}" in out.stderr and "already in use" in out.stderr
    from edgeroute.paths import resolve_paths

    assert not resolve_paths().state_file.exists()


def test_status_and_stop_of_a_daemon_that_does_not_answer_despite_a_config_typo(edgeroute_home: Path) -> None:
    """A daemon stand-in (a sleeping process named in the state file): `status` says it does not answer
    rather than "not running", and `stop` ends it even though the config has an unknown key (the config
    error is still shown)."""
    write_config(edgeroute_home, "[server]\nprot = 4000\n")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    reaper = threading.Thread(target=sleeper.wait, daemon=True)  # no zombie for `stop` to wait on
    reaper.start()
    try:
        from edgeroute.paths import resolve_paths

        paths = resolve_paths()
        paths.runtime_dir.mkdir(parents=True, exist_ok=True)
        paths.state_file.write_text(
            json.dumps({"pid": sleeper.pid, "url": "http://127.0.0.1:9", "started": time.time()})
        )
        status = run("status")
        assert failed_cleanly(status, 1) and f"edgeroute (pid {sleeper.pid}) does not answer" in status.stdout
        out = run("stop")
        assert out.returncode == 0, out.stderr
        assert f"stopped edgeroute (pid {sleeper.pid})" in out.stdout
        assert "server.prot: unknown key" in out.stderr and "Traceback" not in out.stderr
        reaper.join(timeout=10)
        assert sleeper.returncode is not None
    finally:
        sleeper.kill()
        reaper.join(timeout=10)
    again = run("stop")
    assert failed_cleanly(again, 1) and "not running" in again.stdout


def test_keys_set_without_a_keyring_fails_before_asking_for_the_key() -> None:
    out = run(
        "keys", "set", "openai", "--stdin", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    )
    assert failed_cleanly(out, 1)
    assert "gnome-keyring" in out.stderr and "No key given" not in out.stderr


def test_keys_list_says_why_the_chosen_backend_fails() -> None:
    out = run("keys", "list", env={"PYTHON_KEYRING_BACKEND": "no_such_module.Keyring"})
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "The configured keyring backend cannot be used" in out.stderr


def test_eval_on_rows_without_an_id_names_the_field(tmp_path: Path) -> None:
    rows = tmp_path / "outcomes.jsonl"
    row = {"messages": [{"role": "user", "content": "x"}], "outcomes": {"a": {"score": 1}, "b": {"score": 0}}}
    rows.write_text(json.dumps(row) + "\n")
    out = run("eval", str(rows), "--weak", "a", "--strong", "b", "--no-embedding")
    assert failed_cleanly(out, 2) and "'id'" in out.stderr


@pytest.mark.parametrize("args", [["--min-requests", "0"], ["--days", "0"]])
def test_calibrate_refuses_empty_windows(tmp_path: Path, args: list[str]) -> None:
    scores = tmp_path / "scores.jsonl"
    scores.write_text('{"id": "a", "score": 0.5}\n')
    out = run("calibrate", "--from", str(scores), "--dry-run", *args)
    assert failed_cleanly(out, 2) and args[0] in out.stderr


ROUTES_CONFIG = """
[server]
api_tokens = ["tok-\u00e9-SECRET-1234"]

[router]
target_cloud_share = 0.25

[[router.routes]]
name = "sql"
keywords = ["sql"]
target = "auto"

[router.cascade]
enabled = true
"""


def test_config_show_prints_toml_that_loads_back(edgeroute_home: Path, tmp_path: Path) -> None:
    write_config(edgeroute_home, ROUTES_CONFIG)
    shown = run("config", "show")
    assert shown.returncode == 0, shown.stderr
    parsed = tomllib.loads(shown.stdout)  # no JSON nulls or inline JSON objects
    assert parsed["router"]["routes"][0]["keywords"] == ["sql"]
    assert parsed["router"]["cascade"]["enabled"] is True
    assert "SECRET" not in shown.stdout and "\\u2026" not in shown.stdout
    copy = tmp_path / "shown.toml"
    copy.write_text(shown.stdout)
    assert run("config", "validate", "--config", str(copy)).returncode == 0
    original = json.loads(run("config", "show", "--json").stdout)
    reloaded = json.loads(run("config", "show", "--json", "--config", str(copy)).stdout)
    original["server"]["api_tokens"] = reloaded["server"]["api_tokens"]  # masked tokens differ
    assert reloaded == original


def test_models_info_and_rm_know_configured_models(edgeroute_home: Path, starter_gguf: Path) -> None:
    write_config(edgeroute_home, f'[[local]]\nname = "mine"\npath = "{starter_gguf}"\n')
    info = run("models", "info", "local/mine", "--json")
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert facts["served as"] == "local/mine" and facts["architecture"] == "gemma3"
    removed = run("rm", "mine")
    assert failed_cleanly(removed, 1) and "[[local]]" in removed.stderr
    assert starter_gguf.exists()
    missing = run("models", "info", "nope")
    assert failed_cleanly(missing, 1) and "mine" in missing.stderr


def test_models_notes_a_broken_config_and_unservable_entries(edgeroute_home: Path) -> None:
    write_config(edgeroute_home, '[[local]]\nname = "coder"\nmodel = "qwen2.5-coder:1.5b"\n')
    out = run("models")
    assert out.returncode == 0 and "edgeroute pull qwen2.5-coder:1.5b" in out.stderr
    write_config(edgeroute_home, "[server\n")
    broken = run("models")
    assert broken.returncode == 0 and "not valid TOML" in broken.stderr and "Traceback" not in broken.stderr


def test_file_system_errors_are_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    out = run("config", "init", "--path", str(a_file / "config.toml"))
    assert failed_cleanly(out, 1) and out.stderr.startswith("edgeroute: ")
    assert len(out.stderr.strip().splitlines()) == 1
    service = run("service", "install", env={"XDG_CONFIG_HOME": str(a_file), "HOME": str(a_file)})
    assert failed_cleanly(service, 1) and str(a_file) in service.stderr


def test_stats_on_a_damaged_ledger_says_so(edgeroute_home: Path) -> None:
    from edgeroute.paths import resolve_paths

    ledger = resolve_paths().ledger_file
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.write_text("not a database")
    out = run("stats")
    assert failed_cleanly(out, 1) and "cannot read the ledger" in out.stderr
