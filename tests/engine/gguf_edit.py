"""Test helper: a copy of a real GGUF with extra metadata keys, written by rewriting only its header.

Tensor offsets are relative to the (aligned) data section, so the data bytes are copied unchanged after the
new header. Used to give the real Gemma model FIM token ids, so fill-in-the-middle runs through llama.cpp.
"""

from __future__ import annotations

import mmap
import os
import shutil
import struct
from pathlib import Path

from edgeroute.gguf_meta import _Cursor

_UINT32 = 4
_STRING = 8


def _kv_uint32(key: str, value: int) -> bytes:
    raw = key.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw + struct.pack("<I", _UINT32) + struct.pack("<I", value)


def _kv_string(key: str, value: str) -> bytes:
    raw, val = key.encode("utf-8"), value.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw + struct.pack("<I", _STRING) + struct.pack("<Q", len(val)) + val


def with_extra_metadata(
    src: Path, dest: Path, uint32s: dict[str, int], strings: dict[str, str] | None = None
) -> Path:
    extra = b"".join(_kv_uint32(k, v) for k, v in uint32s.items())
    extra += b"".join(_kv_string(k, v) for k, v in (strings or {}).items())
    n_extra = len(uint32s) + len(strings or {})
    with src.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        cur = _Cursor(buf)
        cur.pos = 8
        tensor_count, kv_count = cur.u64(), cur.u64()
        kv_start = cur.pos
        alignment = 32
        for _ in range(kv_count):
            key = cur.string()
            value = cur.value(cur.u32())
            if key == "general.alignment":
                alignment = int(value)
        kv_end = cur.pos
        for _ in range(tensor_count):
            cur.string()
            n_dims = cur.u32()
            cur.pos += 8 * n_dims + 4 + 8
        infos_end = cur.pos
        data_start = infos_end + (-infos_end % alignment)
        header = bytes(buf[:8]) + struct.pack("<QQ", tensor_count, kv_count + n_extra)
        header += bytes(buf[kv_start:kv_end]) + extra + bytes(buf[kv_end:infos_end])
        header += b"\0" * (-len(header) % alignment)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f"{dest.name}.{os.getpid()}.partial")
        with partial.open("wb") as out:
            out.write(header)
            fh.seek(data_start)
            shutil.copyfileobj(fh, out, 1 << 20)
    os.replace(partial, dest)
    return dest
