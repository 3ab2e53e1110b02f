"""``edgeroute pull``: resolve what the user typed, check the disk, download and verify every file, and write
the manifest last, so the engine's next scan of the models folder serves the model without a restart."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from edgeroute.hub.catalog import Catalog
from edgeroute.hub.download import (
    DiskProbe,
    DownloadTarget,
    check_disk,
    download,
    free_bytes,
    resumable_bytes,
)
from edgeroute.hub.errors import ChecksumMismatch, GatedRepo, OfflineError, PullError
from edgeroute.hub.hfapi import HubClient, token_help
from edgeroute.hub.progress import NullProgress, Progress
from edgeroute.hub.resolve import DEFAULT_QUANT, ModelSpec, RemoteFile, local_name, parse_spec, select_files
from edgeroute.hub.store import MANIFEST, Manifest, ModelStore, StoredModel

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class PullResult:
    model: StoredModel
    up_to_date: bool


def _ignore(_: str) -> None:
    pass


class Puller:
    """Everything a pull touches is passed in, so tests use a loopback hub, a temp folder and a fake disk
    probe without patching anything."""

    def __init__(
        self,
        store: ModelStore,
        hub: HubClient,
        catalog: Catalog,
        *,
        progress: Progress | None = None,
        notes: Callable[[str], None] = _ignore,
        disk_free: DiskProbe = free_bytes,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.catalog = catalog
        self.progress = progress or NullProgress()
        self.notes = notes
        self.disk_free = disk_free
        self.transport = transport

    def pull(self, text: str, name: str | None = None) -> PullResult:
        spec = parse_spec(text, self.catalog)
        if self.hub.offline:
            return self._offline(spec, name)
        listing = self.hub.listing(spec.repo, spec.revision)
        selection = select_files(listing, spec)
        if spec.entry is not None and selection.files[0].path != spec.entry.file:
            self.notes(f"{spec.entry.file} is no longer in {spec.repo}; using {selection.files[0].path}.")
        name = name or local_name(spec, selection.quant)
        expected = {f.path: self._expected_sha(spec, f) for f in selection.files}
        existing = self.store.load(name)
        if (
            existing is not None
            and existing.is_complete()
            and self._same_files(existing, selection.files, expected)
        ):
            return PullResult(existing, up_to_date=True)
        folder = self.store.folder(name)
        with self.store.lock(name) as locked:
            if not locked:
                raise PullError(f"another `edgeroute pull` of {name} is running; wait for it to finish.")
            targets = [
                DownloadTarget(
                    url=self.hub.file_url(spec.repo, listing.revision, f.path),
                    dest=folder / PurePosixPath(f.path).name,
                    size=f.size,
                    sha256=expected[f.path],
                    label=PurePosixPath(f.path).name,
                )
                for f in selection.files
            ]
            try:
                digests = self._download_all(spec, targets)
            except BaseException:
                _tidy(folder)
                raise
        manifest = Manifest(
            name=name,
            source=f"hf:{spec.repo}",
            files=[t.dest.name for t in targets],
            quant=selection.quant,
            sha256=digests,
            size=sum(t.dest.stat().st_size for t in targets),
            role=spec.entry.role if spec.entry is not None else detect_role(targets[0].dest),
            revision=listing.revision,
            alias=spec.entry.alias if spec.entry is not None else None,
            license=spec.entry.license if spec.entry is not None else None,
        )
        return PullResult(self.store.save(folder, manifest), up_to_date=False)

    def _offline(self, spec: ModelSpec, name: str | None) -> PullResult:
        """Offline, a pull can only confirm a model that is already here."""
        quant = spec.entry.quant if spec.entry is not None else (spec.quant or DEFAULT_QUANT)
        existing = self.store.get(name or local_name(spec, quant))
        if existing is None or not existing.is_complete():
            raise OfflineError(
                f"HF_HUB_OFFLINE is set and {spec.display} is not downloaded; unset HF_HUB_OFFLINE to pull it."
            )
        self.notes(
            f"HF_HUB_OFFLINE is set: using the downloaded {existing.name} without checking for updates."
        )
        return PullResult(existing, up_to_date=True)

    def _expected_sha(self, spec: ModelSpec, remote: RemoteFile) -> str | None:
        pinned = spec.entry.sha256 if spec.entry is not None and spec.entry.file == remote.path else None
        if pinned and remote.sha256 and pinned != remote.sha256:
            raise ChecksumMismatch(
                f"{remote.path} changed on the hub: its sha256 is {remote.sha256}, the catalog pins {pinned}. "
                f"Nothing was downloaded; pull {spec.repo}/{remote.path} to take the hub's version."
            )
        return remote.sha256 or pinned

    @staticmethod
    def _same_files(
        model: StoredModel, files: tuple[RemoteFile, ...], expected: dict[str, str | None]
    ) -> bool:
        names = [PurePosixPath(f.path).name for f in files]
        if model.manifest.files != names:
            return False
        shas = [expected[f.path] for f in files]
        return all(
            sha is not None and model.manifest.sha256.get(n) == sha
            for n, sha in zip(names, shas, strict=True)
        )

    def _download_all(self, spec: ModelSpec, targets: list[DownloadTarget]) -> dict[str, str]:
        import httpx

        needed = sum((t.size or 0) - resumable_bytes(t) for t in targets)
        check_disk(targets[0].dest.parent, needed, self.disk_free)
        timeout = httpx.Timeout(30.0, read=60.0)
        digests: dict[str, str] = {}
        with httpx.Client(follow_redirects=True, timeout=timeout, transport=self.transport) as client:
            for target in targets:
                try:
                    digests[target.dest.name] = download(target, client, self.hub.headers(), self.progress)
                except GatedRepo as exc:
                    raise GatedRepo(
                        f"{spec.repo} is gated. {token_help(spec.repo, self.hub.endpoint)}"
                    ) from exc
        return digests


def _tidy(folder: Path) -> None:
    """After a failed pull, drop a folder that holds nothing worth keeping (no manifest, no partial bytes)."""
    if (folder / MANIFEST).exists():
        return
    if any(p.name.endswith(".partial") and p.stat().st_size > 0 for p in folder.iterdir()):
        return
    shutil.rmtree(folder, ignore_errors=True)


def detect_role(path: Path) -> str | None:
    """The engine's own default (embed for encoders, code with FIM tokens, chat otherwise), recorded in the
    manifest so `edgeroute models` shows it; None when the file's header cannot be read."""
    from edgeroute.engine.registry import default_role
    from edgeroute.gguf_meta import GGUFError, read_gguf_info

    try:
        return default_role(read_gguf_info(path))
    except (GGUFError, OSError):
        return None
