"""Starting a daemon from the dashboard: the same ``edgeroute serve --detach`` a person would type."""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import urlsplit


def serve_argv(url: str, discovered: bool) -> list[str]:
    """The command line; a URL given with ``--url`` also fixes the port the daemon should take."""
    argv = [sys.executable, "-m", "edgeroute", "serve", "--detach"]
    if not discovered:
        port = urlsplit(url).port
        if port is not None:
            argv += ["--port", str(port)]
    return argv


async def start_daemon(url: str, discovered: bool, timeout_s: float = 90.0) -> tuple[bool, str]:
    """Run ``serve --detach`` and wait for it; returns (started, the command's last line of output)."""
    proc = await asyncio.create_subprocess_exec(
        *serve_argv(url, discovered),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return False, f"edgeroute serve --detach did not finish within {timeout_s:.0f}s"
    lines = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
    return proc.returncode == 0, lines[-1] if lines else f"exit code {proc.returncode}"
