"""Review of session 5's commits: each test here failed before its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from edgeroute.daemon import read_state
from edgeroute.paths import resolve_paths


@pytest.mark.skipif(sys.platform != "linux", reason="Linux derives create_time from the clock read now")
def test_a_clock_stepped_forward_since_the_daemon_started_does_not_orphan_it(edgeroute_home: Path) -> None:
    """The daemon started while the clock ran an hour behind (a board without a clock battery before NTP,
    WSL2 after a sleep) and the clock was set right since: Linux now reports the process as started an
    hour after the state says, and the state of a live daemon must not be dropped (`stop` would say it
    is not running and leave it running)."""
    paths = resolve_paths()
    paths.runtime_dir.mkdir(parents=True, exist_ok=True)
    step = 3600.0
    state = {
        "pid": os.getpid(),  # this live process plays the daemon
        "url": "http://127.0.0.1:9",
        "started": time.time() - step,  # as the clock read then
        "boot": psutil.boot_time() - step,
        "log_file": "",
    }
    paths.state_file.write_text(json.dumps(state))
    found = read_state(paths)
    assert found is not None and found.pid == os.getpid()
    assert paths.state_file.exists()


def test_a_reused_pid_is_still_refused_with_the_boot_time_recorded(edgeroute_home: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        paths = resolve_paths()
        paths.runtime_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "pid": bystander.pid,
            "url": "http://127.0.0.1:9",
            "started": time.time() - 600.0,
            "boot": psutil.boot_time(),
        }
        paths.state_file.write_text(json.dumps(state))
        assert read_state(paths) is None
        assert not paths.state_file.exists()
    finally:
        bystander.kill()
        bystander.wait()
