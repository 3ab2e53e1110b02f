"""GGUF header parsing on the real model files, on crafted headers, and on broken files."""

from __future__ import annotations

import time
from pathlib import Path

import gguf
import pytest

from edgeroute.gguf_meta import GGUFError, _parse_size_label, read_gguf_info
from tests.engine.conftest import FIM_IDS


def test_starter_gemma_metadata(starter_gguf: Path) -> None:
    info = read_gguf_info(starter_gguf)
    assert info.architecture == "gemma3"
    assert info.quantization == "Q4_K_M"
    assert info.context_length == 32768
    assert info.embedding_length == 640
    assert info.vocab_size == 262144
    assert info.block_count == 18 and info.head_count_kv == 1 and info.key_length == 256
    assert info.file_size == starter_gguf.stat().st_size
    assert info.parameter_count is not None and 260e6 < info.parameter_count < 280e6  # counted from shapes
    assert info.size_label == "270M"
    assert not info.is_embedding and not info.supports_fim
    assert info.chat_template is None  # this GGUF carries none: the engine falls back to llama.cpp's gemma
    assert (info.bos_token_id, info.eos_token_id) == (2, 1)


def test_minilm_metadata(minilm_gguf: Path) -> None:
    info = read_gguf_info(minilm_gguf)
    assert info.architecture == "bert"
    assert info.is_embedding and info.pooling_type == 1  # mean
    assert info.tokenizer_model == "bert"
    assert info.quantization == "F16"
    assert (info.context_length, info.embedding_length, info.block_count, info.vocab_size) == (
        512,
        384,
        6,
        30522,
    )
    assert info.parameter_count is not None and 22e6 < info.parameter_count < 23e6
    assert info.metadata["bert.attention.causal"] is False


def test_fim_ids_from_metadata_keys(fim_gguf: Path) -> None:
    info = read_gguf_info(fim_gguf)
    assert (info.fim_prefix_id, info.fim_suffix_id, info.fim_middle_id) == (
        FIM_IDS["prefix"],
        FIM_IDS["suffix"],
        FIM_IDS["middle"],
    )
    assert info.supports_fim
    assert info.architecture == "gemma3" and info.vocab_size == 262144


def test_fim_ids_found_by_token_text(tmp_path: Path) -> None:
    """A GGUF without fim_*_token_id keys: the ids come from the vocabulary spelling (StarCoder style)."""
    path = tmp_path / "vocab.gguf"
    writer = gguf.GGUFWriter(path, "starcoder2")
    writer.add_context_length(4096)
    tokens = [
        "<|endoftext|>",
        "a",
        "<fim_pad>",
        "xx<fim_prefix>",
        "<fim_prefix>",
        "b",
        "<fim_middle>",
        "<fim_suffix>",
    ]
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = read_gguf_info(path)
    assert (info.fim_prefix_id, info.fim_suffix_id, info.fim_middle_id) == (4, 7, 6)
    assert info.chat_template is not None and "messages" in info.chat_template
    assert info.parameter_count is None and info.vocab_size == len(tokens)


def test_header_read_is_fast_on_the_big_vocabulary(starter_gguf: Path) -> None:
    """Reading the 262k-token header takes milliseconds, not the seconds GGUFReader needs (a sanity bound,
    generous for a loaded CI box; the real figure is about 30 ms)."""
    started = time.perf_counter()
    read_gguf_info(starter_gguf)
    assert time.perf_counter() - started < 2.0


def test_not_gguf_and_truncated_files(tmp_path: Path, minilm_gguf: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("hello, this is not a model file at all")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        read_gguf_info(text)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(minilm_gguf.read_bytes()[:4000])  # inside the vocabulary
    with pytest.raises(GGUFError):
        read_gguf_info(cut)


def test_kv_cache_estimate_and_size_labels(starter_gguf: Path) -> None:
    info = read_gguf_info(starter_gguf)
    # 18 layers x 1 KV head x (256 + 256) x 2 bytes per token
    assert info.kv_cache_bytes(1024) == 18 * 1024 * 1 * 512 * 2
    assert _parse_size_label("270M") == 270_000_000
    assert _parse_size_label("8x7B") == 56_000_000_000
    assert _parse_size_label("1.5B") == 1_500_000_000
    assert _parse_size_label("big") is None
