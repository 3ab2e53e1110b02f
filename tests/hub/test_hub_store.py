"""The models folder shared with the engine: only manifest-backed folders count, lookups by name or alias,
atomic manifests, removal, and one pull per model at a time."""

from __future__ import annotations

import json
from pathlib import Path

from edgeroute.hub.store import Manifest, ModelStore


def put(store: ModelStore, name: str, alias: str | None = None, files: list[str] | None = None) -> Path:
    folder = store.folder(name)
    folder.mkdir(parents=True)
    files = files or [f"{name}.gguf"]
    for f in files:
        (folder / f).write_bytes(b"GGUF")
    manifest = Manifest(name, "hf:a/b", files, "Q4_K_M", {f: "0" * 64 for f in files}, 4, "chat", alias=alias)
    store.save(folder, manifest)
    return folder


def test_only_folders_with_a_valid_manifest_are_models(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.list() == []
    put(store, "b-model")
    put(store, "a-model", alias="a:1b")
    (store.folder("in-progress")).mkdir()
    (store.folder("in-progress") / "x.gguf.partial").write_bytes(b"GG")
    evil = store.folder("evil")
    evil.mkdir()
    (evil / "manifest.json").write_text(json.dumps({"name": "evil", "files": ["../../etc/passwd"]}))
    broken = store.folder("broken")
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    assert [m.name for m in store.list()] == ["a-model", "b-model"]
    assert not list(store.root.glob("*/.manifest.json.*.tmp"))


def test_lookup_by_name_served_name_or_alias(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    put(store, "qwen2.5-coder-1.5b", alias="qwen2.5-coder:1.5b")
    for query in (
        "qwen2.5-coder-1.5b",
        "local/qwen2.5-coder-1.5b",
        "qwen2.5-coder:1.5b",
        "Qwen2.5-Coder:1.5B",
    ):
        model = store.get(query)
        assert model is not None and model.name == "qwen2.5-coder-1.5b", query
    assert store.get("qwen2.5-coder") is None and store.get("../models") is None


def test_split_model_paths_and_completeness(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    parts = ["m-00001-of-00002.gguf", "m-00002-of-00002.gguf"]
    folder = put(store, "m", files=parts)
    model = store.get("m")
    assert model is not None and model.path == folder / parts[0] and model.is_complete()
    (folder / parts[1]).unlink()
    assert not model.is_complete()


def test_remove_deletes_the_folder(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    folder = put(store, "gone", alias="gone:1b")
    removed = store.remove("gone:1b")
    assert removed is not None and removed.name == "gone"
    assert not folder.exists() and store.remove("gone") is None


def test_one_pull_per_model_at_a_time(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with store.lock("m") as first:
        assert first
        with store.lock("m") as second:
            assert not second
        with store.lock("other") as other:
            assert other
    with store.lock("m") as again:
        assert again
