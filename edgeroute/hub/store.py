"""The models folder, shared with the engine: ``<models_dir>/<name>/manifest.json`` plus the GGUF file(s).

A folder counts as a model only once its manifest is written, and the manifest is written last (atomically),
after every file is verified: the engine never sees a half-pulled model. ``manifest.json``::

    {"name", "source": "hf:owner/repo", "files": [first = the one to load], "quant",
     "sha256": {file: hex}, "size", "role": "chat"|"code"|"embed"|null, "pulled_at",
     "revision": commit, "alias": catalog alias or null, "license": catalog licence or null}

Names: a catalog alias with ':' as '-' (``qwen2.5-coder:1.5b`` -> ``qwen2.5-coder-1.5b``); lookups accept
the alias, the name, and ``local/<name>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgeroute.hub.resolve import safe_name

MANIFEST = "manifest.json"
_ROLES = ("chat", "code", "embed")


@dataclass(frozen=True, slots=True)
class Manifest:
    name: str
    source: str
    files: list[str]
    quant: str | None
    sha256: dict[str, str]
    size: int
    role: str | None
    pulled_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    revision: str | None = None
    alias: str | None = None
    license: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        files = data.get("files")
        if not isinstance(data.get("name"), str) or not isinstance(files, list) or not files:
            raise ValueError("manifest needs a name and a non-empty files list")
        if not all(isinstance(f, str) and f and "/" not in f and f not in (".", "..") for f in files):
            raise ValueError("manifest files must be plain file names in the model's folder")
        role = data.get("role")
        return cls(
            name=data["name"],
            source=str(data.get("source", "")),
            files=list(files),
            quant=data.get("quant"),
            sha256=dict(data.get("sha256") or {}),
            size=int(data.get("size") or 0),
            role=role if role in _ROLES else None,
            pulled_at=str(data.get("pulled_at", "")),
            revision=data.get("revision"),
            alias=data.get("alias"),
            license=data.get("license"),
        )


@dataclass(frozen=True, slots=True)
class StoredModel:
    folder: Path
    manifest: Manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def path(self) -> Path:
        """The file llama.cpp loads (the first part of a split model)."""
        return self.folder / self.manifest.files[0]

    @property
    def paths(self) -> list[Path]:
        return [self.folder / f for f in self.manifest.files]

    def is_complete(self) -> bool:
        return all(p.is_file() for p in self.paths)


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, name: str) -> Path:
        return self.root / name

    def list(self) -> list[StoredModel]:
        """Every model with a readable manifest, by name; folders without one (a pull in progress) are skipped."""
        if not self.root.is_dir():
            return []
        models = [m for d in sorted(self.root.iterdir()) if d.is_dir() and (m := self._read(d)) is not None]
        return sorted(models, key=lambda m: m.name)

    def load(self, name: str) -> StoredModel | None:
        """The model in exactly ``<root>/<name>``, if its manifest is there."""
        return self._read(self.folder(name)) if name and "/" not in name and name not in (".", "..") else None

    def _read(self, folder: Path) -> StoredModel | None:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            return StoredModel(folder, Manifest.from_json(data))
        except (OSError, ValueError, TypeError):
            return None

    def get(self, query: str) -> StoredModel | None:
        """By name, ``local/<name>``, or catalog alias (``qwen2.5-coder:1.5b``), case-insensitively."""
        wanted = query.strip().removeprefix("local/")
        for candidate in (wanted, safe_name(wanted)):
            if model := self.load(candidate):
                return model
        lowered = wanted.lower()
        return next(
            (m for m in self.list() if lowered in (m.name.lower(), (m.manifest.alias or "").lower())), None
        )

    def save(self, folder: Path, manifest: Manifest) -> StoredModel:
        """Write the manifest atomically: from this moment the engine may serve the model."""
        tmp = folder / f".{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder / MANIFEST)
        return StoredModel(folder, manifest)

    def remove(self, query: str) -> StoredModel | None:
        """Delete a model's folder: the manifest first, so a reader never sees a manifest without its files."""
        model = self.get(query)
        if model is None:
            return None
        (model.folder / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(model.folder, ignore_errors=True)
        return model

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[bool]:
        """An exclusive lock on one model's folder for the length of a pull; yields False when another
        process holds it (two pulls of one model would write the same partial file)."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks, pulls are not serialised
            yield True
            return
        with (folder / ".pull.lock").open("a") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
