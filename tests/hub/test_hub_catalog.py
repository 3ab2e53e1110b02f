"""The shipped catalog: valid, consistent with itself, and covering chat, code with FIM, and embeddings."""

from __future__ import annotations

import pytest

from edgeroute.config import NAME_RE
from edgeroute.hub.catalog import load_catalog, parse_catalog
from edgeroute.hub.resolve import quant_of, safe_name


def test_shipped_catalog_has_the_issue_aliases_and_every_role() -> None:
    catalog = load_catalog()
    for alias in ("qwen2.5-coder:1.5b", "llama3.2:3b", "gemma3:1b", "minilm"):
        assert catalog.get(alias) is not None, alias
    roles = {e.role for e in catalog.entries}
    assert roles == {"chat", "code", "embed"}
    assert any(e.role == "code" and e.fim for e in catalog.entries)


def test_every_entry_is_self_consistent() -> None:
    for e in load_catalog().entries:
        assert quant_of(e.file) == e.quant, f"{e.alias}: {e.file} is not {e.quant}"
        assert NAME_RE.match(safe_name(e.alias)), e.alias
        assert 0 < e.size_mb < 5000 and e.context >= 512 and e.ram_gb * 1024 >= e.size_mb / 1.1, e.alias
        assert e.license and e.description


def test_stored_names_do_not_collide() -> None:
    names = [safe_name(e.alias) for e in load_catalog().entries]
    assert len(names) == len(set(names))


def test_fits_leaves_room_for_the_system() -> None:
    entry = load_catalog().get("llama3.2:3b")
    assert entry is not None
    assert entry.fits(8 * 1024**3)
    assert not entry.fits(4 * 1024**3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"role": "vision"}, "role must be"),
        ({"sha256": "abc"}, "sha256 must be"),
        ({"colour": "red"}, "unknown"),
        ({"repo": "no-owner"}, "owner/name"),
    ],
)
def test_bad_entries_are_named(change: dict[str, object], message: str) -> None:
    good = {
        "alias": "x:1b",
        "repo": "a/b",
        "file": "b-Q4_K_M.gguf",
        "quant": "Q4_K_M",
        "size_mb": 1,
        "context": 2048,
        "role": "chat",
        "license": "mit",
        "ram_gb": 1.0,
    }
    with pytest.raises(ValueError, match=message) as err:
        parse_catalog({"models": [good | change]})
    assert "x:1b" in str(err.value)
