"""The long schema-fuzzing run: tests/hardening/test_schema_fuzz.py (schemathesis against a live daemon's
own OpenAPI document: no 5xx, every response as documented) with many more examples per operation than
the suite's 30. Hypothesis keeps what it finds in .hypothesis/ so a failure replays on the next run.

Run: .venv/bin/python scripts/fuzz_api.py [--examples 500] [-- extra pytest arguments]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="examples per operation")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (e.g. -k messages)")
    args = parser.parse_args()
    env = {**os.environ, "EDGEROUTE_FUZZ_EXAMPLES": str(args.examples)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--timeout=3600",
        "tests/hardening/test_schema_fuzz.py",
        *args.pytest_args,
    ]
    sys.exit(subprocess.call(command, cwd=REPO, env=env))


if __name__ == "__main__":
    main()
