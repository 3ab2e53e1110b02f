"""The curated model catalog (``models/catalog.toml``, shipped as ``edgeroute.data``): aliases people can pull
without knowing a hub repo, with enough facts (size, context, RAM) to choose one for this machine."""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Role = Literal["chat", "code", "embed"]
ROLES: tuple[Role, ...] = ("chat", "code", "embed")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("alias", "repo", "file", "quant", "size_mb", "context", "role", "license", "ram_gb")
_OPTIONAL = ("fim", "sha256", "description")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    alias: str
    repo: str
    file: str
    quant: str
    size_mb: int
    context: int
    role: Role
    license: str
    ram_gb: float
    fim: bool = False
    sha256: str | None = None
    description: str = ""

    @property
    def ram_bytes(self) -> int:
        return int(self.ram_gb * 1024**3)

    def fits(self, total_ram_bytes: int) -> bool:
        """Whether the model can be loaded on a machine with this much RAM (the OS and apps need the rest,
        so only 3/4 of it counts)."""
        return self.ram_bytes <= total_ram_bytes * 0.75


class Catalog:
    """Aliases in file order; lookups are case-insensitive."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        self.entries = list(entries)
        self._by_alias = {e.alias.lower(): e for e in self.entries}
        if len(self._by_alias) != len(self.entries):
            raise ValueError("catalog: an alias is listed twice")

    def get(self, alias: str) -> CatalogEntry | None:
        return self._by_alias.get(alias.strip().lower())

    def suggestions(self, alias: str) -> list[str]:
        """Close aliases for a typo, and every tag of a family named without a tag (``llama3.2``)."""
        wanted = alias.strip().lower()
        family = [e.alias for e in self.entries if e.alias.lower().split(":")[0] == wanted]
        close = difflib.get_close_matches(wanted, list(self._by_alias), n=3, cutoff=0.6)
        return family or [self._by_alias[c].alias for c in close]


def parse_catalog(data: Mapping[str, Any]) -> Catalog:
    """Validate the TOML document; errors name the entry and the key so a bad edit is found fast."""
    raw = data.get("models")
    if not isinstance(raw, list):
        raise ValueError("catalog: expected [[models]] tables")
    return Catalog(_entry(i, item) for i, item in enumerate(raw))


def _entry(index: int, item: Any) -> CatalogEntry:
    where = f"catalog: models[{index}]"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a table")
    where = f"catalog: {item.get('alias', f'models[{index}]')}"
    missing = [k for k in _REQUIRED if k not in item]
    unknown = [k for k in item if k not in _REQUIRED + _OPTIONAL]
    if missing or unknown:
        raise ValueError(f"{where}: missing {missing}, unknown {unknown}")
    if item["role"] not in ROLES:
        raise ValueError(f"{where}: role must be one of {', '.join(ROLES)}")
    sha = item.get("sha256")
    if sha is not None and not _SHA256_RE.match(str(sha)):
        raise ValueError(f"{where}: sha256 must be 64 lowercase hex digits")
    if "/" not in str(item["repo"]) or not str(item["file"]).endswith(".gguf"):
        raise ValueError(f"{where}: repo must be owner/name and file a .gguf")
    return CatalogEntry(
        alias=str(item["alias"]),
        repo=str(item["repo"]),
        file=str(item["file"]),
        quant=str(item["quant"]).upper(),
        size_mb=int(item["size_mb"]),
        context=int(item["context"]),
        role=item["role"],
        license=str(item["license"]),
        ram_gb=float(item["ram_gb"]),
        fim=bool(item.get("fim", False)),
        sha256=str(sha) if sha is not None else None,
        description=str(item.get("description", "")),
    )


def load_catalog() -> Catalog:
    """The catalog shipped in the wheel (``edgeroute.data/catalog.toml``)."""
    from importlib.resources import files

    text = files("edgeroute.data").joinpath("catalog.toml").read_text(encoding="utf-8")
    return parse_catalog(tomllib.loads(text))
