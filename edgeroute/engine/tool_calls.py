"""Tool calls out of a local model's text: chat templates show a model the tools, but what it answers is
plain text in its family's markup (Qwen/Hermes ``<tool_call>{json}</tool_call>``, Mistral
``[TOOL_CALLS][{json}]``, Llama a bare JSON object as the whole answer). Clients want ``tool_calls``, so
the markup is cut out of the text stream and turned into :class:`ToolCallDelta` events.

Text outside the markup streams on at once; only what could still become markup (a marker's prefix, and
the whitespace before it) is held back. Markup that does not parse is passed on as the text it was.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncGenerator, Collection
from typing import Any, Literal

from edgeroute.chat import Finish, StreamEvent, TextDelta, TokenStats, ToolCallDelta

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
MISTRAL = "[TOOL_CALLS]"
MISTRAL_ARGS = "[ARGS]"
PYTHON_TAG = "<|python_tag|>"
_MARKERS = (OPEN, MISTRAL)

Piece = TextDelta | ToolCallDelta
_Mode = Literal["text", "call", "mistral", "bare"]


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


class ToolCallExtractor:
    """Feed the model's text deltas; get back text and tool calls in answer order. ``tool_names`` are the
    request's tools: a bare JSON answer (which could be any JSON the user asked for) is a call only when
    it names one of them; explicit markup is a call whatever it names."""

    def __init__(self, tool_names: Collection[str]) -> None:
        self.tool_names = frozenset(tool_names)
        self.calls = 0
        self._mode: _Mode = "text"
        self._pending = ""  # text mode: held back (trailing whitespace and a possible marker prefix)
        self._raw = ""  # other modes: the markup so far, exactly as the model wrote it
        self._at_start = True  # nothing but whitespace seen yet (a bare JSON answer is still possible)

    def feed(self, text: str) -> list[Piece]:
        out: list[Piece] = []
        if self._mode == "text":
            self._text(self._pending + text, out)
        elif self._mode == "call":
            self._raw += text
            rest = self._close_call(out)
            if rest:
                self._text(rest, out)
        else:
            self._raw += text
            if self._mode == "bare" and not self._may_be_bare_json():
                raw, self._raw, self._mode, self._at_start = self._raw, "", "text", False
                self._text(raw, out)
        return _merged(out)

    def finish(self) -> list[Piece]:
        """Everything still held, once the model stopped (a cut-off call is text)."""
        out: list[Piece] = []
        if self._mode == "text":
            rest = self._pending
            if rest and not (self.calls and rest.isspace()):
                out.append(TextDelta(rest))
        elif self._mode == "mistral":
            calls = _mistral_calls(self._raw.lstrip())
            self._emit_or_text(calls, self._raw, out)
        elif self._mode == "bare":
            body = self._raw.strip().removeprefix(PYTHON_TAG)
            calls = _calls_in(_loads(body))
            if calls is not None and all(name in self.tool_names for name, _ in calls):
                self._emit_or_text(calls, self._raw, out)
            else:
                out.append(TextDelta(self._raw))
        else:
            out.append(TextDelta(self._raw))
        self._pending = self._raw = ""
        self._mode = "text"
        return _merged(out)

    def _text(self, buf: str, out: list[Piece]) -> None:
        while buf:
            if self._at_start:
                head = buf.lstrip()
                if not head or (PYTHON_TAG.startswith(head) and head != PYTHON_TAG):
                    self._pending = buf
                    return
                if head.startswith(("{", "[", PYTHON_TAG)):
                    self._mode, self._raw, self._at_start = "bare", buf, False
                    if not self._may_be_bare_json():
                        self._mode, self._raw = "text", ""
                        continue
                    return
                self._at_start = False
            found = [(at, m) for m in _MARKERS if (at := buf.find(m)) != -1]
            if not found:
                keep = _held(buf)
                if keep < len(buf):
                    out.append(TextDelta(buf[: len(buf) - keep] if keep else buf))
                self._pending = buf[len(buf) - keep :] if keep else ""
                return
            at, marker = min(found)
            start = len(buf[:at].rstrip())
            if start:
                out.append(TextDelta(buf[:start]))
            self._pending = ""
            self._raw = buf[start:]
            if marker == MISTRAL:
                self._mode = "mistral"
                return
            self._mode = "call"
            rest = self._close_call(out)
            if rest is None:
                return
            buf = rest

    def _close_call(self, out: list[Piece]) -> str | None:
        """In call mode: on ``</tool_call>`` the call (or, if it does not parse, its text) goes out, text
        mode resumes and what followed it is returned; None while the call is still open."""
        opened = self._raw.find(OPEN)
        end = self._raw.find(CLOSE, opened + len(OPEN))
        if end == -1:
            return None
        whole, rest = self._raw[: end + len(CLOSE)], self._raw[end + len(CLOSE) :]
        self._raw, self._mode = "", "text"
        self._emit_or_text(_calls_in(_loads(whole[opened + len(OPEN) : end])), whole, out)
        return rest

    def _emit_or_text(self, calls: list[tuple[str, str]] | None, raw: str, out: list[Piece]) -> None:
        if not calls:
            out.append(TextDelta(raw))
            return
        for name, arguments in calls:
            out.append(ToolCallDelta(index=self.calls, id=new_call_id(), name=name, arguments=arguments))
            self.calls += 1

    def _may_be_bare_json(self) -> bool:
        """A bare answer stays held only while it still looks like a JSON object or array of objects."""
        body = self._raw.lstrip()
        if body.startswith(PYTHON_TAG):
            return True
        inner = body[1:].lstrip()
        if not inner:
            return True
        return inner[0] == ('"' if body[0] == "{" else "{")


def _held(buf: str) -> int:
    """How many chars at the end of ``buf`` to hold: a possible marker prefix and the whitespace before
    it (dropped if a call follows)."""
    keep = 0
    for marker in _MARKERS:
        for k in range(min(len(marker) - 1, len(buf)), keep, -1):
            if buf.endswith(marker[:k]):
                keep = k
                break
    while keep < len(buf) and buf[len(buf) - keep - 1].isspace():
        keep += 1
    return keep


def _merged(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, TextDelta):
            if not piece.text:
                continue
            if out and isinstance(out[-1], TextDelta):
                out[-1] = TextDelta(out[-1].text + piece.text)
                continue
        out.append(piece)
    return out


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _calls_in(value: Any) -> list[tuple[str, str]] | None:
    """``(name, arguments JSON)`` for a call object or a non-empty list of them; None if any is not one."""
    items = value if isinstance(value, list) else [value]
    calls = [_call(item) for item in items]
    if not calls or any(c is None for c in calls):
        return None
    return [c for c in calls if c is not None]


def _call(item: Any) -> tuple[str, str] | None:
    if not isinstance(item, dict):
        return None
    function = item.get("function")
    if isinstance(function, dict) and "name" in function:  # OpenAI's own shape, as some models echo it
        item = function
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return None
    arguments = arguments_json(item.get("arguments", item.get("parameters", {})))
    return None if arguments is None else (name, arguments)


def arguments_json(arguments: Any) -> str | None:
    """Arguments as the JSON object text OpenAI carries: an object is serialised, a string must already
    be one."""
    if isinstance(arguments, str):
        return arguments.strip() if isinstance(_loads(arguments), dict) else None
    if isinstance(arguments, dict):
        return json.dumps(arguments, ensure_ascii=False)
    return None


def _mistral_calls(tail: str) -> list[tuple[str, str]] | None:
    """``[TOOL_CALLS][{...}, ...]`` (v3), or ``[TOOL_CALLS]name[ARGS]{...}`` repeated (v11)."""
    calls: list[tuple[str, str]] = []
    for part in tail.split(MISTRAL):
        part = part.strip()
        if not part:
            continue
        if MISTRAL_ARGS in part and not part.startswith(("[", "{")):
            name, _, arguments = part.partition(MISTRAL_ARGS)
            args = arguments_json(arguments)
            if not name.strip() or args is None:
                return None
            calls.append((name.strip(), args))
            continue
        found = _calls_in(_loads(part))
        if found is None:
            return None
        calls.extend(found)
    return calls or None


async def extract_tool_calls(
    events: AsyncGenerator[StreamEvent, None], tool_names: Collection[str]
) -> AsyncGenerator[StreamEvent, None]:
    """``events`` with the text's tool-call markup turned into ToolCallDelta events and the finish reason
    ``tool_calls`` when there was a call. A token's stats ride on the text that goes out for it (on an
    empty delta while it is held), so a confidence gate still sees stats on every text delta. Closes
    ``events``."""
    extractor = ToolCallExtractor(tool_names)
    flushed = False
    last_stats: TokenStats | None = None
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, TextDelta):
                last_stats = event.stats or last_stats
                pieces = extractor.feed(event.text)
                if event.stats is not None and not any(isinstance(p, TextDelta) for p in pieces):
                    yield TextDelta("", event.stats)
                for piece in pieces:
                    yield TextDelta(piece.text, event.stats) if isinstance(piece, TextDelta) else piece
                continue
            if not flushed:
                flushed = True
                for piece in extractor.finish():
                    yield TextDelta(piece.text, last_stats) if isinstance(piece, TextDelta) else piece
            if isinstance(event, Finish) and extractor.calls:
                yield Finish("tool_calls")
            else:
                yield event
