"""The starter MiniLM GGUF is built on first use in a child process, so the daemon that asked for it does not
keep numpy and gguf resident for a file it writes once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edgeroute.engine.minilm_gguf import MINILM_FILE

PROBE = """
import json, sys
from pathlib import Path
from edgeroute.engine.minilm_gguf import starter_minilm_path
path = starter_minilm_path(Path(sys.argv[1]))
print(json.dumps({"path": str(path), "numpy": "numpy" in sys.modules, "gguf": "gguf" in sys.modules}))
"""


def test_first_use_builds_in_a_child_and_reuses_the_file(tmp_path: Path) -> None:
    models = tmp_path / "models"
    for _ in range(2):  # built the first time, found the second
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(models)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert seen == {"path": str(models / "starter" / MINILM_FILE), "numpy": False, "gguf": False}
    gguf = models / "starter" / MINILM_FILE
    assert gguf.read_bytes()[:4] == b"GGUF" and gguf.stat().st_size > 40_000_000
