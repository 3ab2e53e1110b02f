"""The daemon's side of one worker process: start it, route its messages, notice when it dies, stop it.

The worker's socket is read by one asyncio task; each request gets its own queue of messages, so a stale
message (a token after a cancel) simply finds no queue. When the socket closes without a goodbye, every
waiting request receives ``("crashed", returncode)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from edgeroute.engine.protocol import HEADER, MAX_MESSAGE, Finished, WorkerInfo, WorkerSpec, decode, encode

log = logging.getLogger("edgeroute.engine")
worker_log = logging.getLogger("edgeroute.engine.worker")

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent.parent)


class WorkerDied(Exception):
    """The worker process ended without being asked to (a native crash, a kill, the OOM killer)."""

    def __init__(self, name: str, returncode: int | None) -> None:
        self.returncode = returncode
        super().__init__(f"the worker for local/{name} {describe_exit(returncode)}")


class WorkerLoadFailed(Exception):
    """llama.cpp refused the model (a broken or unsupported file): not a crash, no retry."""


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "stopped responding"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def worker_env() -> dict[str, str]:
    """The daemon's environment, with edgeroute importable even when it runs from a source checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class WorkerHandle:
    """A started worker. Use :meth:`start`; then ``open``/``send``/``close_stream`` per request."""

    def __init__(self, spec: WorkerSpec, proc: asyncio.subprocess.Process, sock: socket.socket) -> None:
        self.spec = spec
        self.proc = proc
        self._sock = sock
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._streams: dict[str, asyncio.Queue[tuple[Any, ...]]] = {}
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._stopping = False
        self._cancelled: set[str] = set()
        self.last_cancelled: Finished | None = None  # how far the last cancelled generation got
        self.info: WorkerInfo | None = None
        self.alive = True
        self.returncode: int | None = None
        self.started_at = time.time()
        self.requests_started = 0

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    # ---- lifecycle ----------------------------------------------------------------------------------

    @classmethod
    async def start(cls, spec: WorkerSpec) -> WorkerHandle:
        """Spawn the process, send it the spec and wait until its model is loaded (and warmed up).

        Raises :class:`WorkerDied` when it dies first, :class:`WorkerLoadFailed` when llama.cpp refuses."""
        parent, child = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "edgeroute.engine.worker",
                str(child.fileno()),
                pass_fds=(child.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=worker_env(),
                start_new_session=True,  # the terminal's Ctrl-C belongs to the daemon, which stops workers itself
            )
        finally:
            child.close()
        handle = cls(spec, proc, parent)
        try:
            await handle._connect()
        except BaseException:
            handle.kill()
            handle._close_channel()
            raise
        return handle

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(sock=self._sock)
        if self.proc.stderr is not None:
            self._tasks.append(asyncio.create_task(self._read_stderr(self.proc.stderr)))
        self._send(("init", self.spec))
        while True:
            message = await self._read_message()
            if message is None:
                self.returncode = await self._wait_exit()
                self.alive = False
                raise WorkerDied(self.spec.name, self.returncode)
            if message[0] == "log":
                self._log(message)
            elif message[0] == "ready":
                self.info = message[1]
                break
            elif message[0] == "load_failed":
                await self._wait_exit()
                self.alive = False
                raise WorkerLoadFailed(str(message[1]))
        self._tasks.append(asyncio.create_task(self._read_loop()))

    async def _wait_exit(self, timeout: float = 5.0) -> int | None:
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.kill()
            return await self.proc.wait()

    async def stop(self, timeout: float = 3.0) -> None:
        """Ask the worker to exit; kill it when it does not within ``timeout`` (a stuck decode)."""
        self._stopping = True
        if self.alive:
            with contextlib.suppress(OSError, RuntimeError):
                self._send(("shutdown",))
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.kill()
            await self.proc.wait()
        finally:
            if self.proc.returncode is None:  # cancelled while waiting: never leave a worker behind
                self.kill()
        self._mark_dead(self.proc.returncode)
        await self._close_transport()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

    async def _close_transport(self) -> None:
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._close_channel()
        if self._writer is not None:
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()

    def _close_channel(self) -> None:
        """Close the daemon's end of the socket as soon as the worker is gone. Left to the garbage collector,
        uvloop closed it twice: the socket object's finalizer freed the fd number, and the transport's own
        close, run later, then closed whatever had reused that number, e.g. the next worker's socket."""
        if self._writer is not None:
            self._writer.close()
        else:
            self._sock.close()

    # ---- messages -----------------------------------------------------------------------------------

    def _send(self, message: tuple[Any, ...]) -> None:
        if self._writer is None or self._writer.is_closing():
            raise ConnectionError("worker channel closed")
        self._writer.write(encode(message))

    async def _read_message(self) -> tuple[Any, ...] | None:
        assert self._reader is not None
        try:
            (length,) = HEADER.unpack(await self._reader.readexactly(HEADER.size))
            if length > MAX_MESSAGE:
                raise ValueError("oversized worker message")
            return decode(await self._reader.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return None

    async def _read_loop(self) -> None:
        streams = self._streams
        while True:
            message = await self._read_message()
            if message is None:
                break
            kind = message[0]
            if kind == "log":
                self._log(message)
                continue
            queue = streams.get(message[1])
            if queue is not None:
                queue.put_nowait(message)
            elif kind in ("done", "error") and message[1] in self._cancelled:
                self._cancelled.discard(message[1])
                if kind == "done":
                    self.last_cancelled = message[2]
        returncode = await self._wait_exit()
        if not self._stopping:
            tail = " | ".join(self._stderr_tail)
            log.error(
                "local/%s worker (pid %d) %s%s",
                self.spec.name,
                self.pid,
                describe_exit(returncode),
                f"; last stderr: {tail}" if tail else "",
            )
        self._mark_dead(returncode)
        self._close_channel()

    def _mark_dead(self, returncode: int | None) -> None:
        if not self.alive:
            return
        self.alive = False
        self.returncode = returncode
        for queue in self._streams.values():
            queue.put_nowait(("crashed", returncode))

    def _log(self, message: tuple[Any, ...]) -> None:
        worker_log.log(int(message[1]), "local/%s: %s", self.spec.name, message[2])

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", errors="replace").rstrip()
            if text:
                self._stderr_tail.append(text)
                worker_log.warning("local/%s worker stderr: %s", self.spec.name, text)

    # ---- requests -----------------------------------------------------------------------------------

    def open(self, kind: str, *payload: Any) -> tuple[str, asyncio.Queue[tuple[Any, ...]]]:
        """Send a request; its replies arrive on the returned queue (ending with done/error/result/crashed)."""
        rid = f"r{next(self._ids)}"
        queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        if not self.alive:
            queue.put_nowait(("crashed", self.returncode))
            return rid, queue
        self._streams[rid] = queue
        try:
            self._send((kind, rid, *payload))
        except (ConnectionError, OSError, RuntimeError):
            queue.put_nowait(("crashed", self.returncode))
        return rid, queue

    def close_stream(self, rid: str, *, cancel: bool) -> None:
        """Forget a request; with ``cancel`` the worker stops generating it at the next token."""
        self._streams.pop(rid, None)
        if cancel and self.alive:
            self._cancelled.add(rid)
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                self._send(("cancel", rid))

    async def call(self, kind: str, *payload: Any) -> Any:
        """A request with a single answer (tokenize, embed)."""
        rid, queue = self.open(kind, *payload)
        try:
            return await queue.get()
        finally:
            self._streams.pop(rid, None)

    def rss(self) -> int | None:
        """Resident memory of the worker process (weights that are mapped and touched count here)."""
        if not self.alive:
            return None
        try:
            import psutil

            return int(psutil.Process(self.pid).memory_info().rss)
        except Exception:
            return None
