"""JSON on the request path: orjson, with the standard library behind it for what orjson refuses.

Every proxied request parses each upstream event and writes the upstream body, the answer (or each streamed
chunk) and the ledger's JSON columns. orjson does each of these 4-19x faster than ``json``
(``scripts/bench_json.py``), a few tens of microseconds per request on a 2-core box. What orjson refuses
(integers past 64 bits, dict keys that are not strings, ``NaN`` literals or lone surrogates in input) goes
through ``json`` instead, so nothing that parsed or printed before fails now.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (no spaces, non-ASCII kept as is)."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError: a big int, a non-string key...
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def dumps_str(obj: Any) -> str:
    """:func:`dumps` as text (for SQLite TEXT columns)."""
    return dumps(obj).decode()


def loads(data: str | bytes) -> Any:
    """Parse JSON text; raises ``ValueError`` (``json.JSONDecodeError``) when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # NaN/Infinity literals, lone surrogates: json accepts them
        return json.loads(data)
