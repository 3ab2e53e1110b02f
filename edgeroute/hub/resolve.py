"""From what the user typed (``qwen2.5-coder:1.5b``, ``owner/repo:q8_0``, ``hf.co/owner/repo``,
``owner/repo/file.gguf``) to the exact files to download, using the repo's file listing.

Pure functions over plain data: the hub is asked elsewhere (``hfapi``), so the rules here are easy to test.
The conventions are Ollama's and llama.cpp's: the quant is case-insensitive and defaults to Q4_K_M; a split
GGUF (``-00001-of-00003.gguf``) is always downloaded whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from edgeroute.hub.catalog import Catalog, CatalogEntry
from edgeroute.hub.errors import ModelSpecError, QuantNotFound, RemoteFileNotFound

DEFAULT_QUANT = "Q4_K_M"
SPLIT_RE = re.compile(r"^(?P<prefix>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.gguf$", re.IGNORECASE)
_QUANT_RE = re.compile(
    r"(?:^|[-._])((?:i?q\d+|tq\d)(?:_[a-z0-9]+)*|bf16|f16|f32|mxfp4(?:_moe)?)(?=$|[-.])", re.IGNORECASE
)
_QUANT_ARG_RE = re.compile(r"^[A-Za-z0-9_]+$")
_REPO_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HOST_PREFIXES = ("hf.co/", "huggingface.co/", "www.huggingface.co/")
_NAME_UNSAFE = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A parsed MODEL argument: a repo plus either a quant (None: the default) or an exact file."""

    repo: str
    quant: str | None = None
    filename: str | None = None
    revision: str = "main"
    entry: CatalogEntry | None = None

    @property
    def display(self) -> str:
        if self.entry is not None:
            return self.entry.alias
        if self.filename is not None:
            return f"{self.repo}/{self.filename}"
        return f"{self.repo}:{self.quant or DEFAULT_QUANT}"


@dataclass(frozen=True, slots=True)
class RemoteFile:
    path: str
    size: int | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class RepoListing:
    repo: str
    revision: str
    files: tuple[RemoteFile, ...]
    gated: bool = False


@dataclass(frozen=True, slots=True)
class Selection:
    """The files to download (first: the one llama.cpp loads) and their quant."""

    files: tuple[RemoteFile, ...]
    quant: str | None


def parse_spec(text: str, catalog: Catalog) -> ModelSpec:
    """Understand a MODEL argument; an unknown alias says which aliases come close."""
    raw = text.strip()
    spec = re.sub(r"^https?://", "", raw, flags=re.IGNORECASE)
    for prefix in _HOST_PREFIXES:
        if spec.lower().startswith(prefix):
            spec = spec[len(prefix) :]
            break
    if "/" not in spec:
        entry = catalog.get(spec)
        if entry is None:
            hint = catalog.suggestions(spec)
            tip = f" Did you mean: {', '.join(hint)}?" if hint else ""
            raise ModelSpecError(
                f"{raw!r} is not in the catalog.{tip} See `edgeroute pull --list`, or pull a hub repo "
                "as owner/repo[:QUANT] or owner/repo/file.gguf."
            )
        return ModelSpec(repo=entry.repo, quant=entry.quant, filename=entry.file, entry=entry)

    parts = spec.strip("/").split("/")
    if len(parts) >= 5 and parts[2] in ("resolve", "blob"):  # a pasted file URL
        return _file_spec(raw, parts[:2], "/".join(parts[4:]), revision=parts[3])
    if parts[-1].lower().endswith(".gguf"):
        return _file_spec(raw, parts[:2], "/".join(parts[2:]))
    if len(parts) != 2:
        raise ModelSpecError(f"{raw!r}: expected owner/repo[:QUANT] or owner/repo/file.gguf")
    name, _, quant = parts[1].partition(":")
    if quant and not _QUANT_ARG_RE.match(quant):
        raise ModelSpecError(f"{raw!r}: {quant!r} is not a quantization name such as Q4_K_M")
    _check_repo(raw, [parts[0], name])
    return ModelSpec(repo=f"{parts[0]}/{name}", quant=quant.upper() or None)


def _file_spec(raw: str, repo_parts: list[str], filename: str, revision: str = "main") -> ModelSpec:
    _check_repo(raw, repo_parts)
    if not filename or ".." in filename.split("/"):
        raise ModelSpecError(f"{raw!r}: expected owner/repo/file.gguf")
    return ModelSpec(repo="/".join(repo_parts), filename=filename, revision=revision)


def _check_repo(raw: str, parts: list[str]) -> None:
    if len(parts) != 2 or not all(_REPO_PART_RE.match(p) for p in parts):
        raise ModelSpecError(f"{raw!r}: {'/'.join(parts)!r} is not a hub repo id (owner/name)")


def quant_of(path: str) -> str | None:
    """The quantization a GGUF file name announces (``Llama-3.2-3B-Instruct-Q4_K_M.gguf`` -> Q4_K_M)."""
    name = PurePosixPath(path).name
    split = SPLIT_RE.match(name)
    stem = split.group("prefix") if split else re.sub(r"\.gguf$", "", name, flags=re.IGNORECASE)
    matches = _QUANT_RE.findall(stem)
    return matches[-1].upper() if matches else None


def split_parts(path: str) -> list[str] | None:
    """All part names of a split GGUF, in order; None for a single-file model."""
    directory, _, name = path.rpartition("/")
    match = SPLIT_RE.match(name)
    if match is None:
        return None
    width = len(match.group("total"))
    total = int(match.group("total"))
    names = [
        f"{match.group('prefix')}-{i:0{width}d}-of-{match.group('total')}.gguf" for i in range(1, total + 1)
    ]
    return [f"{directory}/{n}" if directory else n for n in names]


def select_files(listing: RepoListing, spec: ModelSpec) -> Selection:
    """Pick the file(s) for ``spec`` from the repo listing, or explain what exists instead."""
    ggufs = [f for f in listing.files if f.path.lower().endswith(".gguf")]
    if not ggufs:
        raise RemoteFileNotFound(f"{listing.repo} has no GGUF files; edgeroute runs GGUF models only.")
    if spec.filename is not None:
        found = _find_file(ggufs, spec.filename)
        if found is not None:
            return Selection(_with_parts(listing.repo, ggufs, found), quant_of(found.path))
        if spec.entry is None:
            shown = ", ".join(f.path for f in ggufs[:20])
            raise RemoteFileNotFound(
                f"{listing.repo} has no file {spec.filename!r}. GGUF files there: {shown}"
            )
    return _select_quant(listing.repo, ggufs, spec)


def _find_file(ggufs: list[RemoteFile], filename: str) -> RemoteFile | None:
    exact = next((f for f in ggufs if f.path == filename), None)
    return exact or next((f for f in ggufs if f.path.lower() == filename.lower()), None)


def _select_quant(repo: str, ggufs: list[RemoteFile], spec: ModelSpec) -> Selection:
    wanted = (spec.quant or DEFAULT_QUANT).upper()
    groups: dict[str, list[RemoteFile]] = {}
    for f in ggufs:
        quant = quant_of(f.path)
        if quant is not None and "mmproj" not in f.path.lower():
            groups.setdefault(quant, []).append(f)
    chosen = groups.get(wanted)
    if chosen is None and spec.quant is None and len(groups) == 1:
        wanted, chosen = next(iter(groups.items()))
    if chosen is None:
        available = sorted(groups)
        listed = ", ".join(available) or "none recognisable"
        example = f" Pull one with `edgeroute pull {repo}:{available[0]}`." if available else ""
        raise QuantNotFound(
            f"{repo} has no {wanted} GGUF. Quants there: {listed}.{example}", available=available
        )
    # Prefer a single file over a split one, then the shortest path (the top-level copy).
    first = min(chosen, key=lambda f: (split_parts(f.path) is not None, len(f.path), f.path))
    return Selection(_with_parts(repo, ggufs, first), wanted)


def _with_parts(repo: str, ggufs: list[RemoteFile], first: RemoteFile) -> tuple[RemoteFile, ...]:
    names = split_parts(first.path)
    if names is None:
        return (first,)
    by_path = {f.path: f for f in ggufs}
    missing = [n for n in names if n not in by_path]
    if missing:
        raise RemoteFileNotFound(f"{repo}: split model {first.path} is missing part(s) {', '.join(missing)}")
    return tuple(by_path[n] for n in names)


def local_name(spec: ModelSpec, quant: str | None) -> str:
    """The folder (and ``local/<name>``) a pulled model gets: the alias with ':' as '-' for catalog models,
    ``<repo name without -GGUF>-<quant>`` for hub repos, the file's stem for an exact file."""
    if spec.entry is not None:
        return safe_name(spec.entry.alias)
    if spec.filename is not None:
        name = PurePosixPath(spec.filename).name
        split = SPLIT_RE.match(name)
        return safe_name(split.group("prefix") if split else name[: -len(".gguf")])
    base = re.sub(r"[-_.]gguf$", "", spec.repo.split("/")[1], flags=re.IGNORECASE)
    if quant and quant.lower() not in base.lower():
        base = f"{base}-{quant}"
    return safe_name(base)


def safe_name(text: str) -> str:
    """Lowercase, ':' and anything unsafe in a folder name become '-' (a valid config/served name)."""
    name = _NAME_UNSAFE.sub("-", text.strip().lower()).strip("-.")
    return name or "model"
