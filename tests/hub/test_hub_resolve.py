"""MODEL arguments and file selection: aliases, quants (present, absent, default), split GGUFs, exact files."""

from __future__ import annotations

import pytest

from edgeroute.hub.catalog import Catalog, load_catalog
from edgeroute.hub.errors import ModelSpecError, QuantNotFound, RemoteFileNotFound
from edgeroute.hub.resolve import (
    ModelSpec,
    RemoteFile,
    RepoListing,
    local_name,
    parse_spec,
    quant_of,
    select_files,
    split_parts,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def listing(*paths: str, repo: str = "acme/Model-GGUF") -> RepoListing:
    return RepoListing(repo, "c0ffee", tuple(RemoteFile(p, 10, None) for p in paths))


def test_alias_resolves_to_the_catalog_repo_and_file(catalog: Catalog) -> None:
    spec = parse_spec("qwen2.5-coder:1.5b", catalog)
    assert spec.repo == "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"
    assert spec.filename == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert spec.entry is not None and spec.entry.role == "code"
    assert parse_spec("  LLAMA3.2:3B ", catalog).repo == "bartowski/Llama-3.2-3B-Instruct-GGUF"
    assert local_name(spec, "Q4_K_M") == "qwen2.5-coder-1.5b"


def test_unknown_alias_suggests_close_ones(catalog: Catalog) -> None:
    with pytest.raises(ModelSpecError, match=r"llama3\.2:1b, llama3\.2:3b"):
        parse_spec("llama3.2", catalog)
    with pytest.raises(ModelSpecError, match=r"qwen2\.5-coder:1\.5b"):
        parse_spec("qwen2.5-coder:1.5", catalog)


@pytest.mark.parametrize(
    ("text", "repo", "quant", "filename"),
    [
        ("bartowski/Llama-3.2-3B-Instruct-GGUF", "bartowski/Llama-3.2-3B-Instruct-GGUF", None, None),
        ("bartowski/Llama-3.2-3B-Instruct-GGUF:q8_0", "bartowski/Llama-3.2-3B-Instruct-GGUF", "Q8_0", None),
        ("hf.co/acme/x-GGUF:iq4_xs", "acme/x-GGUF", "IQ4_XS", None),
        ("https://huggingface.co/acme/x-GGUF:Q5_K_M", "acme/x-GGUF", "Q5_K_M", None),
        ("acme/x-GGUF/x-Q4_0.gguf", "acme/x-GGUF", None, "x-Q4_0.gguf"),
        (
            "hf.co/acme/x-GGUF/Q8_0/x-Q8_0-00001-of-00002.gguf",
            "acme/x-GGUF",
            None,
            "Q8_0/x-Q8_0-00001-of-00002.gguf",
        ),
        ("https://huggingface.co/acme/x-GGUF/resolve/main/x-f16.gguf", "acme/x-GGUF", None, "x-f16.gguf"),
    ],
)
def test_repo_specs(catalog: Catalog, text: str, repo: str, quant: str | None, filename: str | None) -> None:
    spec = parse_spec(text, catalog)
    assert (spec.repo, spec.quant, spec.filename, spec.entry) == (repo, quant, filename, None)


@pytest.mark.parametrize("text", ["a/b/c", "acme/x:Q4 K", "-bad/x", "acme/x/../y.gguf", "a/b:c:d"])
def test_bad_specs_are_explained(catalog: Catalog, text: str) -> None:
    with pytest.raises(ModelSpecError, match=r"acme|expected|not a"):
        parse_spec(text, catalog)


@pytest.mark.parametrize(
    ("name", "quant"),
    [
        ("Llama-3.2-3B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "Q4_K_M"),
        ("nomic-embed-text-v1.5.Q8_0.gguf", "Q8_0"),
        ("all-MiniLM-L6-v2-ggml-model-f16.gguf", "F16"),
        ("Qwen3-1.7B-UD-IQ2_XXS.gguf", "IQ2_XXS"),
        ("phi-2_Q5_K_S.gguf", "Q5_K_S"),
        ("Q8_0/x-Q8_0-00002-of-00003.gguf", "Q8_0"),
        ("gemma-3-1b-it-BF16.gguf", "BF16"),
        ("qwen2.5-1.5b.gguf", None),
    ],
)
def test_quant_of_file_names(name: str, quant: str | None) -> None:
    assert quant_of(name) == quant


def test_split_parts_keeps_folder_and_width() -> None:
    assert split_parts("Q8_0/m-Q8_0-00002-of-00003.gguf") == [
        "Q8_0/m-Q8_0-00001-of-00003.gguf",
        "Q8_0/m-Q8_0-00002-of-00003.gguf",
        "Q8_0/m-Q8_0-00003-of-00003.gguf",
    ]
    assert split_parts("m-Q4_K_M.gguf") is None


def test_default_quant_is_q4_k_m_and_mmproj_is_ignored() -> None:
    files = listing("m-Q8_0.gguf", "m-Q4_K_M.gguf", "mmproj-m-Q4_K_M.gguf", "README.md")
    chosen = select_files(files, ModelSpec(repo="acme/Model-GGUF"))
    assert [f.path for f in chosen.files] == ["m-Q4_K_M.gguf"]
    assert chosen.quant == "Q4_K_M"


def test_requested_quant_present() -> None:
    chosen = select_files(
        listing("m-Q8_0.gguf", "m-Q4_K_M.gguf"), ModelSpec(repo="acme/Model-GGUF", quant="Q8_0")
    )
    assert [f.path for f in chosen.files] == ["m-Q8_0.gguf"]


def test_requested_quant_absent_lists_what_exists() -> None:
    with pytest.raises(QuantNotFound) as err:
        select_files(
            listing("m-Q8_0.gguf", "m-Q4_K_M.gguf", "m-F16.gguf"), ModelSpec("acme/Model-GGUF", "Q2_K")
        )
    assert err.value.available == ["F16", "Q4_K_M", "Q8_0"]
    assert "no Q2_K GGUF" in err.value.message
    assert "F16, Q4_K_M, Q8_0" in err.value.message


def test_default_quant_absent_takes_the_only_quant_there() -> None:
    chosen = select_files(listing("Qwen3-0.6B-Q8_0.gguf"), ModelSpec(repo="Qwen/Qwen3-0.6B-GGUF"))
    assert chosen.quant == "Q8_0"
    with pytest.raises(QuantNotFound, match="Q5_0, Q8_0"):
        select_files(listing("m-Q8_0.gguf", "m-Q5_0.gguf"), ModelSpec(repo="acme/Model-GGUF"))


def test_split_gguf_is_selected_whole_and_in_order() -> None:
    files = listing(
        "Q4_K_M/m-Q4_K_M-00002-of-00002.gguf", "Q4_K_M/m-Q4_K_M-00001-of-00002.gguf", "m-Q8_0.gguf"
    )
    chosen = select_files(files, ModelSpec(repo="acme/Model-GGUF", quant="q4_k_m"))
    assert [f.path for f in chosen.files] == [
        "Q4_K_M/m-Q4_K_M-00001-of-00002.gguf",
        "Q4_K_M/m-Q4_K_M-00002-of-00002.gguf",
    ]
    by_file = select_files(
        files, ModelSpec(repo="acme/Model-GGUF", filename="Q4_K_M/m-Q4_K_M-00002-of-00002.gguf")
    )
    assert len(by_file.files) == 2 and by_file.files[0].path.endswith("00001-of-00002.gguf")


def test_split_gguf_with_a_missing_part_is_refused() -> None:
    with pytest.raises(RemoteFileNotFound, match="00002-of-00003"):
        select_files(
            listing("m-Q4_K_M-00001-of-00003.gguf", "m-Q4_K_M-00003-of-00003.gguf"), ModelSpec("acme/M")
        )


def test_exact_file_missing_lists_the_gguf_files() -> None:
    with pytest.raises(RemoteFileNotFound, match=r"m-Q8_0\.gguf"):
        select_files(listing("m-Q8_0.gguf"), ModelSpec("acme/Model-GGUF", filename="m-Q2_K.gguf"))
    with pytest.raises(RemoteFileNotFound, match="no GGUF files"):
        select_files(listing("model.safetensors"), ModelSpec("acme/Model"))


def test_catalog_file_renamed_upstream_falls_back_to_the_quant(catalog: Catalog) -> None:
    spec = parse_spec("llama3.2:3b", catalog)
    renamed = listing("Llama-3.2-3B-Instruct-v2-Q4_K_M.gguf", "Llama-3.2-3B-Instruct-v2-Q8_0.gguf")
    assert [f.path for f in select_files(renamed, spec).files] == ["Llama-3.2-3B-Instruct-v2-Q4_K_M.gguf"]


def test_local_names() -> None:
    assert (
        local_name(ModelSpec("bartowski/Llama-3.2-3B-Instruct-GGUF"), "Q4_K_M")
        == "llama-3.2-3b-instruct-q4_k_m"
    )
    assert local_name(ModelSpec("ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF"), "Q8_0") == "qwen2.5-coder-1.5b-q8_0"
    assert local_name(ModelSpec("a/b", filename="sub/Big-Q8_0-00001-of-00002.gguf"), "Q8_0") == "big-q8_0"
