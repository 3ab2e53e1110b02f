"""The sampling controls a client may set for a local model, beyond temperature and top_p.

OpenAI's ``frequency_penalty`` / ``presence_penalty``, Anthropic's ``top_k``, and the llama.cpp-server
names that Open WebUI, Continue and others send as extra fields (``top_k``, ``min_p``, ``typical_p``,
``repeat_penalty``) become keyword arguments of ``Llama.generate``; OpenAI's ``logit_bias`` (token id ->
bias, -100 to 100) is added to the logits before any other sampler. A value of the wrong type or out of
range is the client's error (400 naming the field), as llama.cpp's own server treats it.
"""

from __future__ import annotations

from typing import Any

from edgeroute.errors import InvalidRequest

# field: (generate's keyword, lowest, highest, whole numbers only)
CONTROLS: dict[str, tuple[str, float, float, bool]] = {
    "top_k": ("top_k", -1, 1_000_000, True),  # 0 or -1 (vLLM's spelling): no top-k cut
    "min_p": ("min_p", 0.0, 1.0, False),
    "typical_p": ("typical_p", 0.0, 1.0, False),
    "repeat_penalty": ("repeat_penalty", 0.01, 10.0, False),  # 1: off; 0 would divide by zero
    "frequency_penalty": ("frequency_penalty", -2.0, 2.0, False),
    "presence_penalty": ("presence_penalty", -2.0, 2.0, False),
}


def sampling_options(extra: dict[str, Any]) -> dict[str, float]:
    """The controls ``extra`` sets, as ``generate`` keywords; fields left out or null keep the defaults."""
    out: dict[str, float] = {}
    for field, (keyword, low, high, whole) in CONTROLS.items():
        value = extra.get(field)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (whole and not isinstance(value, int))
        ):
            kind = "an integer" if whole else "a number"
            raise InvalidRequest(f"{field}: must be {kind}", param=field)
        if not low <= value <= high:
            raise InvalidRequest(f"{field}: must be between {low:g} and {high:g}", param=field)
        out[keyword] = max(value, 0) if keyword == "top_k" else value
    return out


def logit_bias_of(extra: dict[str, Any]) -> dict[int, float]:
    """OpenAI's ``logit_bias`` as token id -> bias; ids are the local model's own (the worker checks them
    against its vocabulary)."""
    raw = extra.get("logit_bias")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidRequest("logit_bias: must be an object of token ids to biases", param="logit_bias")
    out: dict[int, float] = {}
    for key, value in raw.items():
        token = int(key) if isinstance(key, str) and key.isdigit() else None
        if token is None:
            raise InvalidRequest(f"logit_bias: {key!r} is not a token id", param="logit_bias")
        if isinstance(value, bool) or not isinstance(value, int | float) or not -100 <= value <= 100:
            raise InvalidRequest(
                f"logit_bias: the bias of token {key} must be between -100 and 100", param="logit_bias"
            )
        out[token] = float(value)
    return out
