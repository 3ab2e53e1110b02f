"""GGUF metadata without loading weights: a small header parser.

The ``gguf`` package's ``GGUFReader`` builds numpy views of every field, including the 262k-entry vocabulary
of Gemma, which takes seconds; listing models and pulling them must not. This parser walks the header once
with ``struct`` over an ``mmap`` (only the header pages are touched), skips fixed-size arrays by arithmetic
and string arrays by their length prefixes, and looks FIM tokens up in the vocabulary by byte search.
"""

from __future__ import annotations

import mmap
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"

# GGUF value types -> struct format of one element (STRING=8 and ARRAY=9 are handled apart).
_SCALAR_FORMATS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

# llama.cpp's llama_ftype (general.file_type) -> the quantization name people use.
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
    36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}  # fmt: skip

# Architectures that are encoders (embedding models) even without a pooling_type key.
EMBEDDING_ARCHITECTURES = frozenset(
    {
        "bert",
        "nomic-bert",
        "nomic-bert-moe",
        "jina-bert-v2",
        "jina-bert-v3",
        "modern-bert",
        "neo-bert",
        "t5encoder",
    }
)

# Vocabulary spellings of the FIM tokens that llama.cpp's vocab loader recognises (prefix, suffix, middle).
_FIM_TOKENS = (
    ("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>"),
    ("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>"),
    ("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>"),
)
_FIM_KEYS = (
    ("tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"),
    ("tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"),
    ("tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"),
)


class GGUFError(ValueError):
    """The file is not a GGUF file this parser understands (or is truncated)."""


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What edgeroute needs to know about a model file before (or instead of) loading it."""

    path: Path
    file_size: int
    architecture: str
    name: str | None
    parameter_count: int | None
    quantization: str | None
    context_length: int | None
    embedding_length: int | None
    chat_template: str | None
    fim_prefix_id: int | None
    fim_suffix_id: int | None
    fim_middle_id: int | None
    is_embedding: bool
    block_count: int | None
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None
    value_length: int | None
    vocab_size: int | None
    size_label: str | None = None
    pooling_type: int | None = None
    tokenizer_model: str | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def supports_fim(self) -> bool:
        return None not in (self.fim_prefix_id, self.fim_suffix_id, self.fim_middle_id)

    def kv_cache_bytes(self, n_ctx: int, bytes_per_element: int = 2) -> int:
        """An upper estimate of the KV cache for ``n_ctx`` tokens (f16 K and V in every layer; sliding-window
        layers are counted at full size, which errs on the safe side for the memory check)."""
        if not self.block_count:
            return 0
        head_count = self.head_count or 1
        kv_heads = self.head_count_kv or head_count
        head_dim = (self.embedding_length or 0) // head_count
        k = self.key_length or head_dim
        v = self.value_length or head_dim
        return self.block_count * n_ctx * kv_heads * (k + v) * bytes_per_element


class _Cursor:
    """Reads GGUF values from a buffer; arrays of numbers and strings are skipped unless asked for."""

    def __init__(self, buf: mmap.mmap | bytes) -> None:
        self.buf = buf
        self.pos = 0

    def u32(self) -> int:
        (value,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def u64(self) -> int:
        (value,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(value)

    def string(self) -> str:
        length = self.u64()
        raw = self.buf[self.pos : self.pos + length]
        if len(raw) != length:
            raise GGUFError("truncated string")
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def scalar(self, vtype: int) -> Any:
        fmt = _SCALAR_FORMATS.get(vtype)
        if fmt is None:
            raise GGUFError(f"unknown value type {vtype}")
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def value(self, vtype: int) -> Any:
        """A scalar or string; an array becomes an :class:`_Array` (its span, element type and count)."""
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            return self.array()
        return self.scalar(vtype)

    def array(self) -> _Array:
        etype = self.u32()
        count = self.u64()
        start = self.pos
        if etype == _STRING:
            pos, buf, unpack = self.pos, self.buf, _U64.unpack_from
            for _ in range(count):
                pos += 8 + unpack(buf, pos)[0]
            self.pos = pos
        elif etype == _ARRAY:
            for _ in range(count):
                self.array()
        else:
            fmt = _SCALAR_FORMATS.get(etype)
            if fmt is None:
                raise GGUFError(f"unknown array element type {etype}")
            self.pos += struct.calcsize(fmt) * count
        if self.pos > len(self.buf):
            raise GGUFError("truncated array")
        return _Array(etype, count, start, self.pos)


@dataclass(frozen=True, slots=True)
class _Array:
    etype: int
    count: int
    start: int
    end: int


def _numbers(buf: mmap.mmap | bytes, arr: _Array) -> list[Any]:
    fmt = _SCALAR_FORMATS[arr.etype]
    return list(struct.unpack_from("<" + fmt[1] * arr.count, buf, arr.start))


def _string_index(buf: mmap.mmap | bytes, arr: _Array, token: str) -> int | None:
    """The index of ``token`` in a string array: a byte search for its length-prefixed form, then a walk
    from the array's start to turn the byte offset into an index (only when the token exists)."""
    raw = token.encode("utf-8")
    needle = _U64.pack(len(raw)) + raw
    find = buf.find
    at = find(needle, arr.start, arr.end)
    while at != -1:
        pos, index, unpack = arr.start, 0, _U64.unpack_from
        while pos < at:
            pos += 8 + unpack(buf, pos)[0]
            index += 1
        if pos == at:
            return index
        at = find(needle, at + 1, arr.end)  # the bytes sat inside another string
    return None


def _parse_size_label(label: str | None) -> int | None:
    """``"270M"`` -> 270_000_000; ``"8x7B"`` -> 56_000_000_000; None when it is not a plain size."""
    if not label:
        return None
    match = re.fullmatch(r"(?:(\d+)x)?(\d+(?:\.\d+)?)([KMBT])", label.strip(), re.IGNORECASE)
    if not match:
        return None
    experts = int(match.group(1) or 1)
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[match.group(3).upper()]
    return round(experts * float(match.group(2)) * scale)


def _int_or_max(value: Any, buf: mmap.mmap | bytes) -> int | None:
    """Per-layer values (an array in some models) are summarised by their maximum."""
    if isinstance(value, _Array):
        numbers = _numbers(buf, value) if value.etype in _SCALAR_FORMATS else []
        return int(max(numbers)) if numbers else None
    return int(value) if isinstance(value, int | float) else None


def _read(path: Path, buf: mmap.mmap | bytes, file_size: int) -> GGUFInfo:
    cur = _Cursor(buf)
    if bytes(buf[:4]) != GGUF_MAGIC:
        raise GGUFError(f"{path.name}: not a GGUF file")
    cur.pos = len(GGUF_MAGIC)
    version = cur.u32()
    if version not in (2, 3):
        raise GGUFError(f"{path.name}: unsupported GGUF version {version}")
    tensor_count = cur.u64()
    kv_count = cur.u64()
    kv: dict[str, Any] = {}
    for _ in range(kv_count):
        key = cur.string()
        kv[key] = cur.value(cur.u32())
    param_count = 0
    for _ in range(tensor_count):
        cur.string()
        n_dims = cur.u32()
        dims = struct.unpack_from(f"<{n_dims}Q", buf, cur.pos)
        cur.pos += 8 * n_dims + 4 + 8  # dims, type, offset
        param_count += prod(dims)
    if cur.pos > file_size:
        raise GGUFError(f"{path.name}: truncated header")

    arch = str(kv.get("general.architecture", "unknown"))

    def arch_int(key: str) -> int | None:
        return _int_or_max(kv.get(f"{arch}.{key}"), buf)

    tokens = kv.get("tokenizer.ggml.tokens")
    fim: list[int | None] = []
    for keys, spellings in zip(_FIM_KEYS, _FIM_TOKENS, strict=True):
        found: int | None = next((int(kv[k]) for k in keys if isinstance(kv.get(k), int)), None)
        if found is None and isinstance(tokens, _Array) and tokens.etype == _STRING:
            found = next((i for s in spellings if (i := _string_index(buf, tokens, s)) is not None), None)
        fim.append(found)

    pooling = kv.get(f"{arch}.pooling_type")
    file_type = kv.get("general.file_type")
    size_label = kv.get("general.size_label")
    template = kv.get("tokenizer.chat_template")
    scalars = {k: v for k, v in kv.items() if not isinstance(v, _Array)}
    return GGUFInfo(
        path=path,
        file_size=file_size,
        architecture=arch,
        name=str(kv["general.name"]) if "general.name" in kv else None,
        parameter_count=param_count if tensor_count else _parse_size_label(size_label),
        quantization=_FILE_TYPES.get(file_type) if isinstance(file_type, int) else None,
        context_length=arch_int("context_length"),
        embedding_length=arch_int("embedding_length"),
        chat_template=template if isinstance(template, str) else None,
        fim_prefix_id=fim[0],
        fim_suffix_id=fim[1],
        fim_middle_id=fim[2],
        is_embedding=isinstance(pooling, int) or arch in EMBEDDING_ARCHITECTURES,
        block_count=arch_int("block_count"),
        head_count=arch_int("attention.head_count"),
        head_count_kv=arch_int("attention.head_count_kv"),
        key_length=arch_int("attention.key_length"),
        value_length=arch_int("attention.value_length"),
        vocab_size=tokens.count if isinstance(tokens, _Array) else arch_int("vocab_size"),
        size_label=size_label if isinstance(size_label, str) else None,
        pooling_type=pooling if isinstance(pooling, int) else None,
        tokenizer_model=scalars.get("tokenizer.ggml.model"),
        bos_token_id=scalars.get("tokenizer.ggml.bos_token_id"),
        eos_token_id=scalars.get("tokenizer.ggml.eos_token_id"),
        metadata=scalars,
    )


def read_gguf_info(path: Path) -> GGUFInfo:
    """Parse the header of the GGUF file at ``path`` (no tensor data is read).

    Raises :class:`GGUFError` for a file that is not GGUF or is cut short, ``OSError`` when it cannot be read.
    """
    path = Path(path)
    with path.open("rb") as fh:
        file_size = fh.seek(0, 2)
        if file_size < 24:
            raise GGUFError(f"{path.name}: not a GGUF file")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            try:
                return _read(path, buf, file_size)
            except struct.error as exc:
                raise GGUFError(f"{path.name}: truncated or corrupt header") from exc
