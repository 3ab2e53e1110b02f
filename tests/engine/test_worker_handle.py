"""The daemon's side of a worker process, on uvloop as the daemon runs it (uvicorn[standard] picks it)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from pathlib import Path

import uvloop

from edgeroute.engine.handle import WorkerHandle
from edgeroute.engine.protocol import WorkerSpec


def vocab_spec(gguf: Path) -> WorkerSpec:
    """A vocabulary-only worker: it starts in a fraction of a second and answers ``tokenize``."""
    return WorkerSpec(
        name="gemma",
        model_path=str(gguf),
        n_ctx=512,
        n_threads=1,
        n_gpu_layers=0,
        use_extra_bufts=False,
        vocab_only=True,
        warmup=False,
    )


async def until_dead(handle: WorkerHandle) -> None:
    for _ in range(400):
        if not handle.alive:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker's death went unnoticed")


def take_numbers_below(fd: int) -> list[int]:
    """Hold every free descriptor number below ``fd``: the next socket made gets ``fd`` once it is free."""
    taken: list[int] = []
    while (n := os.open(os.devnull, os.O_RDONLY)) < fd:
        taken.append(n)
    os.close(n)
    return taken


async def a_dead_worker_then_a_fresh_one(gguf: Path) -> None:
    spec = vocab_spec(gguf)
    dead = await WorkerHandle.start(spec)
    fd = dead._sock.fileno()
    os.kill(dead.pid, signal.SIGKILL)
    await until_dead(dead)
    cycle: list[object] = [dead]
    cycle.append(cycle)  # in the daemon an exception's traceback held it: the GC frees it, not a refcount
    del dead, cycle
    taken = take_numbers_below(fd)
    try:
        gc.collect()
        fresh = await WorkerHandle.start(spec)  # its socket gets the dead worker's descriptor number
    finally:
        for n in taken:
            os.close(n)
    try:
        message = await fresh.call("tokenize", "Hello world", False)
        assert message[0] == "result" and message[2] == 3, message
    finally:
        await fresh.stop()


def test_a_dead_workers_socket_is_closed_when_its_death_is_noticed(starter_gguf: Path) -> None:
    """Left to the garbage collector, a dead worker's socket was closed twice under uvloop: the socket
    object's finalizer freed the descriptor number, then the transport's own deferred close closed the number
    again, by then the next worker's socket (EBADF while starting it: a 502 ``internal_error``)."""
    uvloop.run(a_dead_worker_then_a_fresh_one(starter_gguf))
