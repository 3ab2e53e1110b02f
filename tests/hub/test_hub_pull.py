"""Whole pulls through huggingface_hub and the fake hub: what lands in the models folder, and every failure
a user can meet (missing quant, gated or missing repo, checksum, full disk, offline)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from edgeroute.hub.catalog import Catalog
from edgeroute.hub.errors import (
    ChecksumMismatch,
    GatedRepo,
    NotEnoughDisk,
    OfflineError,
    QuantNotFound,
    RepoNotFound,
)
from edgeroute.hub.hfapi import HubClient
from edgeroute.hub.pull import Puller
from edgeroute.hub.store import ModelStore
from tests.hub.fakehub import FakeHub, tiny_gguf


def make_puller(
    store: ModelStore, client: HubClient, catalog: Catalog, **kw: object
) -> tuple[Puller, list[str]]:
    notes: list[str] = []
    return Puller(store, client, catalog, notes=notes.append, **kw), notes  # type: ignore[arg-type]


def test_alias_pull_writes_the_manifest_last(
    hub: FakeHub, client: HubClient, store: ModelStore, test_catalog: Catalog, gguf_code: bytes
) -> None:
    repo = hub.add_repo(
        "acme/Tiny-Coder-GGUF", {"tiny-coder-Q4_K_M.gguf": gguf_code, "tiny-coder-Q8_0.gguf": b"x"}
    )
    puller, _ = make_puller(store, client, test_catalog)
    result = puller.pull("tiny:code")
    assert not result.up_to_date
    model = result.model
    assert model.folder == store.root / "tiny-code"
    manifest = json.loads((model.folder / "manifest.json").read_text())
    assert manifest["name"] == "tiny-code"
    assert manifest["source"] == "hf:acme/Tiny-Coder-GGUF"
    assert manifest["files"] == ["tiny-coder-Q4_K_M.gguf"]
    assert manifest["quant"] == "Q4_K_M" and manifest["role"] == "code" and manifest["alias"] == "tiny:code"
    assert manifest["sha256"] == {"tiny-coder-Q4_K_M.gguf": hashlib.sha256(gguf_code).hexdigest()}
    assert manifest["size"] == len(gguf_code) and manifest["revision"] == repo.commit
    assert model.path.read_bytes() == gguf_code
    assert sorted(p.name for p in model.folder.iterdir()) == [
        ".pull.lock",
        "manifest.json",
        "tiny-coder-Q4_K_M.gguf",
    ]
    for query in ("tiny:code", "tiny-code", "local/tiny-code", "TINY:CODE"):
        found = store.get(query)
        assert found is not None and found.name == "tiny-code", query


def test_second_pull_is_up_to_date_without_downloading(
    hub: FakeHub, client: HubClient, store: ModelStore, test_catalog: Catalog, gguf_chat: bytes
) -> None:
    hub.add_repo("acme/Tiny-Chat-GGUF", {"tiny-chat-Q4_K_M.gguf": gguf_chat})
    puller, _ = make_puller(store, client, test_catalog)
    puller.pull("tiny:chat")
    served = hub.served.total()
    assert puller.pull("tiny:chat").up_to_date
    assert hub.served.total() == served


@pytest.mark.parametrize(
    ("spec", "expected_file", "name"),
    [
        ("acme/Mixed-GGUF", "mixed-Q4_K_M.gguf", "mixed-q4_k_m"),
        ("hf.co/acme/Mixed-GGUF:q8_0", "mixed-Q8_0.gguf", "mixed-q8_0"),
        ("acme/Mixed-GGUF/mixed-Q8_0.gguf", "mixed-Q8_0.gguf", "mixed-q8_0"),
    ],
)
def test_repo_pulls_pick_the_quant(
    hub: FakeHub,
    client: HubClient,
    store: ModelStore,
    test_catalog: Catalog,
    spec: str,
    expected_file: str,
    name: str,
) -> None:
    files = {"mixed-Q4_K_M.gguf": tiny_gguf(300_000, seed=10), "mixed-Q8_0.gguf": tiny_gguf(400_000, seed=11)}
    hub.add_repo("acme/Mixed-GGUF", files)
    puller, _ = make_puller(store, client, test_catalog)
    model = puller.pull(spec).model
    assert model.name == name and model.manifest.files == [expected_file]
    assert model.manifest.role == "chat"  # read from the GGUF: a chat template, no FIM tokens, no pooling
    assert hub.served.total() == len(files[expected_file])


def test_absent_quant_lists_what_exists_and_creates_nothing(
    hub: FakeHub, client: HubClient, store: ModelStore, test_catalog: Catalog
) -> None:
    hub.add_repo(
        "acme/Mixed-GGUF", {"mixed-Q4_K_M.gguf": b"a", "mixed-Q8_0.gguf": b"b", "mixed-f16.gguf": b"c"}
    )
    puller, _ = make_puller(store, client, test_catalog)
    with pytest.raises(QuantNotFound, match=r"no Q3_K_S GGUF\. Quants there: F16, Q4_K_M, Q8_0") as err:
        puller.pull("acme/Mixed-GGUF:Q3_K_S")
    assert "edgeroute pull acme/Mixed-GGUF:F16" in err.value.message
    assert store.list() == [] and not store.root.exists()


def test_split_gguf_downloads_every_part(
    hub: FakeHub, client: HubClient, store: ModelStore, test_catalog: Catalog
) -> None:
    parts = {f"Q4_K_M/big-Q4_K_M-0000{i}-of-00003.gguf": tiny_gguf(200_000, seed=20 + i) for i in (1, 2, 3)}
    hub.add_repo("acme/Big-GGUF", {**parts, "big-Q8_0.gguf": b"unused"})
    puller, _ = make_puller(store, client, test_catalog)
    model = puller.pull("acme/Big-GGUF").model
    assert model.manifest.files == [f"big-Q4_K_M-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    assert model.path.name == "big-Q4_K_M-00001-of-00003.gguf"
    assert model.manifest.size == sum(len(b) for b in parts.values())
    for path, data in parts.items():
        assert (model.folder / Path(path).name).read_bytes() == data
    assert hub.served.total("big-Q8_0.gguf") == 0


def test_roles_come_from_the_gguf_for_hub_repos(
    hub: FakeHub,
    client: HubClient,
    store: ModelStore,
    test_catalog: Catalog,
    gguf_code: bytes,
    gguf_embed: bytes,
) -> None:
    hub.add_repo("acme/Coder-GGUF", {"coder-Q4_K_M.gguf": gguf_code})
    hub.add_repo("acme/Embed-GGUF", {"embed-Q4_K_M.gguf": gguf_embed})
    puller, _ = make_puller(store, client, test_catalog)
    assert puller.pull("acme/Coder-GGUF").model.manifest.role == "code"
    assert puller.pull("acme/Embed-GGUF").model.manifest.role == "embed"


def test_checksum_mismatch_deletes_and_says_so(
    hub: FakeHub, client: HubClient, store: ModelStore, test_catalog: Catalog, gguf_chat: bytes
) -> None:
    repo = hub.add_repo("acme/Tiny-Chat-GGUF", {"tiny-chat-Q4_K_M.gguf": gguf_chat})
    repo.wrong_sha.add("tiny-chat-Q4_K_M.gguf")
    puller, _ = make_puller(store, client, test_catalog)
    with pytest.raises(ChecksumMismatch, match=r"checksum mismatch.*The file was deleted"):
        puller.pull("tiny:chat")
    assert store.list() == [] and not store.folder("tiny-chat").exists()


def test_catalog_pin_that_differs_from_the_hub_stops_before_downloading(
    hub: FakeHub, client: HubClient, store: ModelStore, gguf_chat: bytes
) -> None:
    from edgeroute.hub.catalog import parse_catalog

    entry = {
        "alias": "pinned",
        "repo": "acme/P-GGUF",
        "file": "p-Q4_K_M.gguf",
        "quant": "Q4_K_M",
        "size_mb": 2,
    }
    entry |= {"context": 2048, "role": "chat", "license": "mit", "ram_gb": 1.0, "sha256": "0" * 64}
    hub.add_repo("acme/P-GGUF", {"p-Q4_K_M.gguf": gguf_chat})
    puller, _ = make_puller(store, client, parse_catalog({"models": [entry]}))
    with pytest.raises(ChecksumMismatch, match="catalog pins 0000"):
        puller.pull("pinned")
    assert hub.served.total() == 0


def test_full_disk_is_refused_before_any_byte(
    hub: FakeHub, client: HubClient, store: ModelStore, test_catalog: Catalog, gguf_chat: bytes
) -> None:
    hub.add_repo("acme/Tiny-Chat-GGUF", {"tiny-chat-Q4_K_M.gguf": gguf_chat})
    puller, _ = make_puller(store, client, test_catalog, disk_free=lambda _: 1_000_000)
    with pytest.raises(NotEnoughDisk, match=r"needs 2\.\d MB more, 1\.0 MB is free"):
        puller.pull("tiny:chat")
    assert hub.served.total() == 0 and not store.folder("tiny-chat").exists()


def test_the_disk_check_counts_a_resumable_partial(
    hub: FakeHub, client: HubClient, store: ModelStore, test_catalog: Catalog, gguf_chat: bytes
) -> None:
    """A partial already on disk only needs the rest: 1.5 MB free is enough to finish a 2 MB file."""
    hub.add_repo("acme/Tiny-Chat-GGUF", {"tiny-chat-Q4_K_M.gguf": gguf_chat})
    folder = store.folder("tiny-chat")
    folder.mkdir(parents=True)
    partial = folder / "tiny-chat-Q4_K_M.gguf.partial"
    partial.write_bytes(gguf_chat[:1_000_000])
    key = {"sha256": hashlib.sha256(gguf_chat).hexdigest(), "size": len(gguf_chat), "url": None}
    (folder / "tiny-chat-Q4_K_M.gguf.partial.json").write_text(json.dumps(key))
    puller, _ = make_puller(store, client, test_catalog, disk_free=lambda _: 1_500_000)
    assert puller.pull("tiny:chat").model.path.read_bytes() == gguf_chat
    assert hub.served.total() == len(gguf_chat) - 1_000_000


def test_gated_repo_explains_how_to_set_a_token(
    hub: FakeHub, store: ModelStore, test_catalog: Catalog, gguf_chat: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_repo("meta-llama/Gated-GGUF", {"gated-Q4_K_M.gguf": gguf_chat}, gated=True)
    puller, _ = make_puller(store, HubClient.from_environ(), test_catalog)
    with pytest.raises(GatedRepo, match=r"meta-llama/Gated-GGUF is gated.*export HF_TOKEN=") as err:
        puller.pull("meta-llama/Gated-GGUF")
    assert f"{hub.url}/settings/tokens" in err.value.message
    assert not store.folder("gated-q4_k_m").exists()
    monkeypatch.setenv("HF_TOKEN", hub.token)
    puller, _ = make_puller(store, HubClient.from_environ(), test_catalog)
    assert puller.pull("meta-llama/Gated-GGUF").model.path.read_bytes() == gguf_chat


def test_missing_repo_is_named(
    hub: FakeHub, client: HubClient, store: ModelStore, test_catalog: Catalog
) -> None:
    puller, _ = make_puller(store, client, test_catalog)
    with pytest.raises(RepoNotFound, match=r"acme/Nope-GGUF was not found on http://127\.0\.0\.1.*HF_TOKEN"):
        puller.pull("acme/Nope-GGUF")


def test_offline_mode_uses_what_is_here_and_never_calls_the_hub(
    hub: FakeHub, store: ModelStore, test_catalog: Catalog, gguf_chat: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_repo("acme/Tiny-Chat-GGUF", {"tiny-chat-Q4_K_M.gguf": gguf_chat})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = HubClient.from_environ()
    puller, notes = make_puller(store, offline, test_catalog)
    with pytest.raises(OfflineError, match="HF_HUB_OFFLINE is set and tiny:chat is not downloaded"):
        puller.pull("tiny:chat")
    assert hub.served.requests == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    make_puller(store, HubClient.from_environ(), test_catalog)[0].pull("tiny:chat")
    requests = len(hub.served.requests)
    assert puller.pull("tiny:chat").up_to_date
    assert len(hub.served.requests) == requests and "HF_HUB_OFFLINE" in notes[-1]


def test_catalog_file_renamed_upstream_is_noted(
    hub: FakeHub, client: HubClient, store: ModelStore, test_catalog: Catalog, gguf_chat: bytes
) -> None:
    hub.add_repo("acme/Tiny-Chat-GGUF", {"tiny-chat-v2-Q4_K_M.gguf": gguf_chat})
    puller, notes = make_puller(store, client, test_catalog)
    assert puller.pull("tiny:chat").model.manifest.files == ["tiny-chat-v2-Q4_K_M.gguf"]
    assert notes == [
        "tiny-chat-Q4_K_M.gguf is no longer in acme/Tiny-Chat-GGUF; using tiny-chat-v2-Q4_K_M.gguf."
    ]
