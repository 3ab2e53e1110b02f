"""One file from a URL to disk: resumable, verified, and never half-visible.

Bytes go to ``<file>.partial`` beside the destination, with ``<file>.partial.json`` recording what they belong
to (the expected sha256 and size). A later run sends ``Range: bytes=N-`` and carries on, re-hashing the
partial once so the sha256 covers every byte; only a verified file is renamed into place. We do this
ourselves because ``huggingface_hub`` deletes a failed download's partial file (>= 1.18).

A dropped connection is retried a few times within the run; Ctrl-C, a kill or a full disk keep the partial.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from edgeroute.hub.errors import (
    ChecksumMismatch,
    GatedRepo,
    HubUnreachable,
    NotEnoughDisk,
    RemoteFileNotFound,
)
from edgeroute.hub.progress import NullProgress, Progress, human_bytes

if TYPE_CHECKING:
    import httpx

CHUNK = 1 << 20
FSYNC_EVERY = 64 << 20
RETRIES = 3
DiskProbe = Callable[[Path], int]


def free_bytes(path: Path) -> int:
    """Free space on the file system that holds ``path`` (its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


@dataclass(frozen=True, slots=True)
class DownloadTarget:
    url: str
    dest: Path
    size: int | None
    sha256: str | None
    label: str

    @property
    def partial(self) -> Path:
        return self.dest.with_name(self.dest.name + ".partial")

    @property
    def sidecar(self) -> Path:
        return self.dest.with_name(self.dest.name + ".partial.json")

    @property
    def key(self) -> dict[str, object]:
        """What a partial must belong to for its bytes to be reused."""
        return {"sha256": self.sha256, "size": self.size, "url": None if self.sha256 else self.url}


def resumable_bytes(target: DownloadTarget) -> int:
    """Bytes already on disk for this target that a download would keep (0 when the partial is stale)."""
    if not target.partial.exists():
        return 0
    try:
        key = json.loads(target.sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    size = target.partial.stat().st_size
    if key != target.key or (target.size is not None and size > target.size):
        return 0
    return size


def check_disk(folder: Path, needed: int, disk_free: DiskProbe = free_bytes) -> None:
    free = disk_free(folder)
    if needed > free:
        raise NotEnoughDisk(
            f"not enough disk space in {folder}: the download needs {human_bytes(needed)} more, "
            f"{human_bytes(free)} is free. Free some space (or move EDGEROUTE_HOME) and pull again."
        )


class _State:
    """Bytes written so far and their running sha256: always in step, whatever fails."""

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.offset = 0

    def restart(self, target: DownloadTarget) -> None:
        """Empty the partial file (truncated in place rather than unlinked, so a partial path that the user
        pointed elsewhere, such as another disk, stays where they put it)."""
        self.hasher = hashlib.sha256()
        self.offset = 0
        with target.partial.open("wb"):
            pass


def download(
    target: DownloadTarget,
    client: httpx.Client,
    headers: dict[str, str],
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Fetch ``target`` to ``target.dest`` and return its sha256 (hex). Raises ChecksumMismatch (the file is
    deleted), NotEnoughDisk on ENOSPC (the partial is kept), or HubUnreachable after the retries."""
    import httpx

    progress = progress or NullProgress()
    target.dest.parent.mkdir(parents=True, exist_ok=True)
    state = _prepare_partial(target)
    progress.start(target.label, target.size, state.offset)
    failures = 0
    while target.size is None or state.offset < target.size:
        try:
            finished = _fetch(target, client, headers, state, progress)
        except httpx.TransportError as exc:
            failures += 1
            if failures > RETRIES:
                raise HubUnreachable(
                    f"download of {target.label} failed at {human_bytes(state.offset)} "
                    f"({type(exc).__name__}). Run the same command again to resume."
                ) from exc
            sleep(min(2.0**failures, 10.0))
            continue
        failures = 0
        if finished:
            break
    progress.finish()
    return _verify_and_publish(target, state)


def _prepare_partial(target: DownloadTarget) -> _State:
    """Hash the reusable part of an existing partial once, or start afresh."""
    state = _State()
    reusable = resumable_bytes(target)
    if reusable == 0:
        state.restart(target)
        _write_sidecar(target)
        return state
    with target.partial.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            state.hasher.update(block)
            state.offset += len(block)
    return state


def _write_sidecar(target: DownloadTarget) -> None:
    target.sidecar.write_text(json.dumps(target.key), encoding="utf-8")


def _fetch(
    target: DownloadTarget, client: httpx.Client, headers: dict[str, str], state: _State, progress: Progress
) -> bool:
    """One HTTP request; True when the file is complete. A server that ignores Range restarts at 0."""
    request_headers = dict(headers)
    if state.offset:
        request_headers["Range"] = f"bytes={state.offset}-"
    with client.stream("GET", target.url, headers=request_headers) as response:
        if response.status_code == 416 and state.offset and target.size == state.offset:
            return True
        _raise_for_status(target, response)
        if not _range_starts_at(response, state.offset):
            state.restart(target)
        try:
            with target.partial.open("ab") as fh:
                _copy(response.iter_bytes(), fh, state, progress)  # as received: a drop loses nothing
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise NotEnoughDisk(
                    f"the disk filled up while writing {target.dest.name} (ENOSPC). The partial download "
                    f"({human_bytes(state.offset)}) is kept: free some space and pull again to resume."
                ) from exc
            raise
    return target.size is None or state.offset >= target.size


def _range_starts_at(response: httpx.Response, offset: int) -> bool:
    if response.status_code != 206:
        return offset == 0
    return response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")


def _copy(chunks: Iterator[bytes], fh: BinaryIO, state: _State, progress: Progress) -> None:
    unsynced = 0
    for chunk in chunks:
        fh.write(chunk)
        state.hasher.update(chunk)
        state.offset += len(chunk)
        unsynced += len(chunk)
        if unsynced >= FSYNC_EVERY:
            fh.flush()
            os.fsync(fh.fileno())
            unsynced = 0
        progress.update(state.offset)
    fh.flush()
    os.fsync(fh.fileno())


def _raise_for_status(target: DownloadTarget, response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    error_code = response.headers.get("X-Error-Code", "")
    if error_code == "GatedRepo" or (status in (401, 403) and error_code != "RepoNotFound"):
        raise GatedRepo(f"{target.label}: access denied ({status}); the repo is gated or private.")
    if status in (401, 404):
        raise RemoteFileNotFound(f"{target.label}: not found on the hub ({status}).")
    raise HubUnreachable(f"{target.label}: the hub answered {status}; try again later.")


def _verify_and_publish(target: DownloadTarget, state: _State) -> str:
    digest = state.hasher.hexdigest()
    size = target.partial.stat().st_size if target.partial.exists() else 0
    wrong_size = target.size is not None and size != target.size
    if wrong_size or (target.sha256 is not None and digest != target.sha256.lower()):
        target.partial.unlink(missing_ok=True)
        target.sidecar.unlink(missing_ok=True)
        expected = f"sha256 {target.sha256}" if target.sha256 else f"{target.size} bytes"
        raise ChecksumMismatch(
            f"{target.dest.name}: checksum mismatch (expected {expected}, got sha256 {digest}, {size} bytes). "
            "The file was deleted; pull again to download it afresh."
        )
    if not target.partial.exists():  # an empty file: nothing was ever written
        target.partial.touch()
    os.replace(target.partial, target.dest)
    target.sidecar.unlink(missing_ok=True)
    _fsync_dir(target.dest.parent)
    return digest


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
