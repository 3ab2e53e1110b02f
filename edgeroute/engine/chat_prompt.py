"""Chat messages -> the model's prompt text, inside the worker.

Order of preference: an explicit ``chat_format`` from the config (a Jinja template, or the name of one of
llama.cpp's built-in templates such as ``chatml``, ``gemma``, ``llama3``), then the GGUF's own
``tokenizer.chat_template`` rendered with Jinja exactly as transformers would, then llama.cpp's built-in
template for the model family (some GGUFs, the Gemma 3 270M starter among them, carry no template).
A template that cannot place a system message after the first turn (a strict Jinja one raises; llama.cpp's
Gemma moves or drops it) gets the conversation with such messages folded into the user turn beside them.
"""

from __future__ import annotations

import ctypes
from typing import Any

# Model families whose GGUFs sometimes lack a template -> llama.cpp's built-in template for them.
_FAMILY_TEMPLATES = {
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3": "gemma",
    "gemma3n": "gemma",
    "phi3": "phi3",
}
DEFAULT_TEMPLATE = "chatml"


class ChatTemplateError(ValueError):
    """The template refused the conversation (e.g. roles that do not alternate)."""


def looks_like_jinja(text: str) -> bool:
    return "{%" in text or "{{" in text


class ChatPromptBuilder:
    """Renders a conversation with one fixed template; ``describe`` names it for logs and status."""

    def __init__(
        self,
        *,
        gguf_template: str | None,
        override: str | None,
        architecture: str,
        bos_token: str,
        eos_token: str,
    ) -> None:
        self._jinja: Any = None
        self._builtin: bytes | None = None
        self._fold_system = False  # a built-in template that moves or drops a later system message
        source = override or gguf_template
        if source is not None and looks_like_jinja(source):
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._jinja = Jinja2ChatFormatter(template=source, eos_token=eos_token, bos_token=bos_token)
            self.describe = "config template" if override else "gguf template"
        else:
            name = override or _FAMILY_TEMPLATES.get(architecture, DEFAULT_TEMPLATE)
            self._builtin = name.encode("utf-8")
            self.describe = f"llama.cpp:{name}"
            self.render([{"role": "user", "content": "hi"}])  # an unknown name fails at load, not per request
            self._fold_system = not _keeps_later_system_in_place(self._builtin)

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> str:
        if self._jinja is None:
            assert self._builtin is not None
            if self._fold_system and any(m["role"] == "system" for m in messages[1:]):
                messages = alternating(messages)
            return _apply_builtin(self._builtin, messages)
        try:
            return self._render_jinja(messages, tools)
        except ChatTemplateError:
            strict = alternating(messages)
            if strict == messages:
                raise
            return self._render_jinja(strict, tools)

    def _render_jinja(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        try:
            result = self._jinja(messages=messages, tools=tools)
        except Exception as exc:  # jinja raise_exception() and template bugs
            raise ChatTemplateError(f"the model's chat template rejected the conversation: {exc}") from None
        return str(result.prompt)


def alternating(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as strict templates (Gemma's, Mistral's) take it: the system prompt first, then
    user and assistant turns in turn. A later system message (Claude Code ends a request with one, OpenAI
    clients put reminders anywhere) joins the user turn next to it, and back-to-back turns of one role
    become one; tool calls and results are left as they are."""
    out: list[dict[str, Any]] = []
    for message in messages:
        m = dict(message)
        if m["role"] == "system" and any(o["role"] != "system" for o in out):
            m["role"] = "user"
        last = out[-1] if out else None
        if last is not None and last["role"] == m["role"] and _plain(last) and _plain(m):
            last["content"] = "\n\n".join(t for t in (last.get("content") or "", m.get("content") or "") if t)
        else:
            out.append(m)
    return out


def _plain(message: dict[str, Any]) -> bool:
    return message["role"] in ("system", "user", "assistant") and not (
        message.get("tool_calls") or message.get("tool_call_id")
    )


def _keeps_later_system_in_place(name: bytes) -> bool:
    """Whether llama.cpp's built-in template renders a system message after the first turn where it
    stands. Gemma's holds one back until the next user turn: it jumps past the assistant turn between, and
    a trailing one (Claude Code ends its first request with one) is dropped. Such templates get the
    conversation :func:`alternating`. Asked of the template itself, so new built-ins need no list here."""
    between = _apply_builtin(
        name,
        [
            {"role": "user", "content": "AAA"},
            {"role": "system", "content": "MMM"},
            {"role": "assistant", "content": "BBB"},
        ],
    )
    last = _apply_builtin(name, [{"role": "user", "content": "AAA"}, {"role": "system", "content": "MMM"}])
    return (
        "MMM" in last
        and "MMM" in between
        and between.index("AAA") < between.index("MMM") < between.index("BBB")
    )


def _apply_builtin(name: bytes, messages: list[dict[str, Any]]) -> str:
    import llama_cpp

    keep = [(str(m["role"]).encode("utf-8"), str(m.get("content") or "").encode("utf-8")) for m in messages]
    array = (llama_cpp.llama_chat_message * len(keep))()
    for slot, (role, content) in zip(array, keep, strict=True):
        slot.role = role
        slot.content = content
    size = 4096 + 2 * sum(len(c) for _, c in keep)
    for _ in range(2):
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_chat_apply_template(name, array, len(keep), True, buf, size)
        if n < 0:
            raise ChatTemplateError(f"llama.cpp has no chat template named {name.decode()!r}")
        if n <= size:
            return buf.raw[:n].decode("utf-8", errors="replace")
        size = n + 1
    raise ChatTemplateError("chat template output did not fit")
