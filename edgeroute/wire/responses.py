"""OpenAI's Responses API at the server edge (``POST /v1/responses``), for clients built on it (Codex CLI,
the OpenAI Agents SDK, newer IDE plugins).

Stateless, as a router on the user's machine should be: the whole conversation comes in ``input`` (as
Codex CLI sends it with ``store: false``); ``previous_response_id`` needs OpenAI's servers and is a 400
that says so. What it takes: ``instructions``, message items (text and ``image_url`` images),
``function_call`` / ``function_call_output`` items, ``reasoning`` items (skipped: nothing here resumes
them), function tools and namespaces of them (flattened to ``namespace__name``, and split back in the
answer's ``function_call`` items), ``tool_choice``, ``max_output_tokens``, ``temperature``, ``top_p``,
``text.format`` (as ``response_format``) and ``reasoning.effort`` (as ``reasoning_effort``) for
OpenAI-compatible upstreams. The hosted tools (web search, file search, code interpreter...) run on
OpenAI's servers and no model here can call them: they are left out, and the ``x-edgeroute-dropped-tools``
header names them (Codex CLI sends ``web_search`` with every request; refusing it would refuse Codex).

Out: a ``response`` object, or the typed event stream (``response.created`` ... ``response.completed``,
each with its ``sequence_number``) with message, function-call and reasoning output items.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from edgeroute import jsonio
from edgeroute.chat import (
    Annotation,
    ChatRequest,
    Finish,
    FinishReason,
    Message,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
    new_id,
)
from edgeroute.errors import EdgerouteError, InvalidRequest
from edgeroute.wire.collect import Collected
from edgeroute.wire.responses_models import ResponsesRequest

ROLES: dict[str, Any] = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}
ITEM_KINDS = "message, function_call, function_call_output, reasoning"
# Answers that end short, as the Responses API words why (``incomplete_details.reason``).
INCOMPLETE: dict[FinishReason | None, str] = {
    "length": "max_output_tokens",
    "content_filter": "content_filter",
}
NAMESPACE_JOIN = "__"  # function names allow [A-Za-z0-9_-] only (OpenAI and Anthropic alike)


@dataclass(slots=True)
class Translated:
    """A Responses request as the internal one, with what the answer's rendering needs from it."""

    request: ChatRequest
    namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)  # flat name -> (namespace, name)
    dropped_tools: list[str] = field(default_factory=list)


# ---- request -------------------------------------------------------------------------------------


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{where} must be a string", param=where)
    return value


def _content(content: Any, where: str) -> str | list[dict[str, Any]]:
    """Text parts become one string (a single part) or OpenAI chat text parts; images become
    ``image_url`` parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"{where} must be a string or a list of content parts", param=where)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text"):
            parts.append({"type": "text", "text": _text(part.get("text"), f"{at}.text")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": _text(part.get("refusal"), f"{at}.refusal")})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            image = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise InvalidRequest(
                f"{at}: content parts of type {kind!r} are not supported (input_text, output_text, "
                "refusal, input_image with an image_url)",
                param=at,
            )
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _output_text(output: Any, where: str) -> str:
    """A function call's output: a string, or text parts joined."""
    content = _content(output, where)
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def _messages(body: ResponsesRequest) -> list[Message]:
    out: list[Message] = [Message("system", body.instructions)] if body.instructions else []
    if isinstance(body.input, str):
        return [*out, Message("user", body.input)]
    for i, item in enumerate(body.input):
        at = f"input[{i}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = ROLES.get(str(item.get("role")))
            if role is None:
                raise InvalidRequest(
                    f"{at}.role must be one of user, system, developer, assistant", param=f"{at}.role"
                )
            out.append(Message(role, _content(item.get("content"), f"{at}.content")))
        elif kind == "function_call":
            name = _text(item.get("name"), f"{at}.name")
            namespace = item.get("namespace")
            if isinstance(namespace, str) and namespace:
                name = f"{namespace}{NAMESPACE_JOIN}{name}"
            call = ToolCall(
                _text(item.get("call_id"), f"{at}.call_id"),
                name,
                _text(item.get("arguments", ""), f"{at}.arguments"),
            )
            last = out[-1] if out else None
            if last is not None and last.role == "assistant":  # calls of one turn share its message
                last.tool_calls = [*(last.tool_calls or []), call]
            else:
                out.append(Message("assistant", None, tool_calls=[call]))
        elif kind == "function_call_output":
            call_id = _text(item.get("call_id"), f"{at}.call_id")
            out.append(
                Message("tool", _output_text(item.get("output"), f"{at}.output"), tool_call_id=call_id)
            )
        elif kind == "reasoning":
            continue  # an earlier answer's reasoning: no backend here takes it back
        else:
            raise InvalidRequest(
                f"{at}: input items of type {kind!r} are not supported ({ITEM_KINDS})", param=f"{at}.type"
            )
    if all(m.role == "system" for m in out):
        raise InvalidRequest("input: there is no message to answer", param="input")
    return out


def _function(tool: dict[str, Any], at: str, namespace: dict[str, Any] | None = None) -> Tool:
    description = tool.get("description")
    parameters = tool.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise InvalidRequest(f"{at}.parameters must be an object", param=f"{at}.parameters")
    name = _text(tool.get("name"), f"{at}.name")
    text = description if isinstance(description, str) else None
    if namespace is not None:
        name = f"{namespace['name']}{NAMESPACE_JOIN}{name}"
        text = " ".join(t for t in (namespace.get("description"), text) if isinstance(t, str)) or None
    return Tool(name, text, parameters)


def _tools(tools: list[dict[str, Any]] | None, out: Translated) -> list[Tool] | None:
    """Function tools, and the functions of namespaces flattened; anything else is left out and named in
    ``out.dropped_tools``."""
    functions: list[Tool] = []
    for i, tool in enumerate(tools or []):
        at = f"tools[{i}]"
        kind = tool.get("type")
        if kind == "function":
            functions.append(_function(tool, at))
        elif kind == "namespace":
            space = _text(tool.get("name"), f"{at}.name")
            inner = tool.get("tools")
            if not isinstance(inner, list):
                raise InvalidRequest(f"{at}.tools must be a list", param=f"{at}.tools")
            for j, member in enumerate(inner):
                if isinstance(member, dict) and member.get("type") == "function":
                    flat = _function(member, f"{at}.tools[{j}]", tool)
                    out.namespaces[flat.name] = (space, flat.name[len(space) + len(NAMESPACE_JOIN) :])
                    functions.append(flat)
                else:
                    name = member.get("name") if isinstance(member, dict) else None
                    out.dropped_tools.append(f"{space}.{name or j}")
        else:
            out.dropped_tools.append(str(tool.get("name") or kind))
    return functions or None


def _tool_choice(
    choice: str | dict[str, Any] | None, namespaces: dict[str, tuple[str, str]]
) -> str | dict[str, Any] | None:
    """``auto`` / ``none`` / ``required``, or one function (``{"type": "function", "name"}``, with its
    ``namespace`` if it has one) as chat completions take it; forcing any other kind of tool cannot be
    honoured here."""
    if not isinstance(choice, dict):
        return choice
    if choice.get("type") != "function":
        raise InvalidRequest(
            f"tool_choice: forcing a tool of type {choice.get('type')!r} is not supported (a function, "
            "or auto, none, required)",
            param="tool_choice",
        )
    name = _text(choice.get("name"), "tool_choice.name")
    space = choice.get("namespace")
    if isinstance(space, str) and f"{space}{NAMESPACE_JOIN}{name}" in namespaces:
        name = f"{space}{NAMESPACE_JOIN}{name}"
    return {"type": "function", "function": {"name": name}}


def responses_request(body: ResponsesRequest) -> Translated:
    if body.previous_response_id is not None:
        raise InvalidRequest(
            "previous_response_id: edgeroute stores no responses; send the whole conversation in input "
            "(as with store: false)",
            param="previous_response_id",
        )
    extra: dict[str, Any] = {}
    text_format = (body.text or {}).get("format")
    if isinstance(text_format, dict) and text_format.get("type") in ("json_schema", "json_object"):
        schema = {k: v for k, v in text_format.items() if k != "type"}
        extra["response_format"] = (
            {"type": "json_schema", "json_schema": schema}
            if text_format["type"] == "json_schema"
            else {"type": "json_object"}
        )
    effort = (body.reasoning or {}).get("effort")
    if isinstance(effort, str):
        extra["reasoning_effort"] = effort
    out = Translated(ChatRequest(model=body.model, messages=_messages(body)))
    tools = _tools(body.tools, out)
    if body.parallel_tool_calls is not None and tools:
        extra["parallel_tool_calls"] = body.parallel_tool_calls
    req = out.request
    req.max_tokens, req.temperature, req.top_p = body.max_output_tokens, body.temperature, body.top_p
    req.stream, req.extra, req.tools = body.stream, extra, tools
    req.tool_choice = _tool_choice(body.tool_choice, out.namespaces) if tools else None
    return out


# ---- answer --------------------------------------------------------------------------------------


def usage_json(usage: Usage | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    usage = usage or Usage(0, 0, estimated=True)
    out: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }
    if extra:
        out.update(extra)
    return out


def _message_item(
    item_id: str, text: str, status: str = "completed", annotations: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": [part]}


def responses_annotation(annotation: dict[str, Any]) -> dict[str, Any]:
    """A Chat Completions annotation in the Responses API's flat shape: ``{"type": "url_citation",
    "url_citation": {"url", ...}}`` -> ``{"type": "url_citation", "url", ...}``."""
    kind = annotation.get("type")
    inner = annotation.get(kind) if isinstance(kind, str) else None
    return {"type": kind, **inner} if isinstance(inner, dict) else annotation


def _call_item(
    item_id: str, call: ToolCall, namespaces: dict[str, tuple[str, str]], status: str = "completed"
) -> dict[str, Any]:
    item = {
        "type": "function_call",
        "id": item_id,
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "status": status,
    }
    if call.name in namespaces:  # a flattened namespace function: its own name, and its namespace
        item["namespace"], item["name"] = namespaces[call.name]
    return item


def _reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": item_id,
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
    }


def _response(
    response_id: str,
    created: int,
    model: str,
    output: list[dict[str, Any]],
    *,
    status: str,
    finish: FinishReason | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    incomplete = status == "incomplete" or finish in INCOMPLETE
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": "incomplete" if incomplete else status,
        "incomplete_details": {"reason": INCOMPLETE.get(finish, "max_output_tokens")} if incomplete else None,
        "error": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }


def response_object(
    model: str,
    result: Collected,
    usage_extra: dict[str, Any] | None = None,
    namespaces: dict[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if result.reasoning:
        output.append(_reasoning_item(new_id("rs_"), result.reasoning))
    if result.all_text or not result.tool_calls:
        annotations = [responses_annotation(a) for a in result.annotations]
        output.append(_message_item(new_id("msg_"), result.all_text, annotations=annotations))
    output.extend(_call_item(new_id("fc_"), call, namespaces or {}) for call in result.tool_calls)
    return _response(
        new_id("resp_"),
        int(time.time()),
        model,
        output,
        status="completed",
        finish=result.finish_reason,
        usage=usage_json(result.usage, usage_extra),
    )


class ResponsesStreamer:
    """Turns internal events into the Responses API's typed SSE events for one stream: an output item per
    message, reasoning run and function call, each opened (``output_item.added``), filled (deltas) and
    closed (``.done`` events) in order, then ``response.completed`` (``response.incomplete`` when the
    token limit cut the answer) with every item and the usage."""

    def __init__(self, model: str, namespaces: dict[str, tuple[str, str]] | None = None) -> None:
        self.id = new_id("resp_")
        self._namespaces = namespaces or {}
        self.created = int(time.time())
        self.model = model
        self.usage: Usage | None = None
        self._sequence = 0
        self._output: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None  # the item being streamed
        self._open_text: list[str] = []
        self._open_annotations: list[dict[str, Any]] = []
        self._calls: dict[int, int] = {}  # tool-call index -> its position in the output
        self._finish: FinishReason | None = None

    def _event(self, kind: str, body: dict[str, Any]) -> bytes:
        self._sequence += 1
        data = {"type": kind, "sequence_number": self._sequence - 1, **body}
        return b"event: " + kind.encode() + b"\ndata: " + jsonio.dumps(data) + b"\n\n"

    def _snapshot(self, status: str) -> dict[str, Any]:
        return _response(self.id, self.created, self.model, list(self._output), status=status)

    def start(self) -> bytes:
        return self._event("response.created", {"response": self._snapshot("in_progress")}) + self._event(
            "response.in_progress", {"response": self._snapshot("in_progress")}
        )

    # -- items

    def _close(self) -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        index = len(self._output)
        text = "".join(self._open_text)
        self._open_text = []
        out = b""
        if item["type"] == "message":
            item = _message_item(item["id"], text, annotations=self._open_annotations)
            self._open_annotations = []
            part = item["content"][0]
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            out += self._event("response.output_text.done", {**where, "text": text, "logprobs": []})
            out += self._event("response.content_part.done", {**where, "part": part})
        elif item["type"] == "reasoning":
            item = _reasoning_item(item["id"], text)
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            out += self._event("response.reasoning_text.done", {**where, "text": text})
        else:
            item = {**item, "arguments": text, "status": "completed"}
            where = {"item_id": item["id"], "output_index": index}
            out += self._event("response.function_call_arguments.done", {**where, "arguments": text})
        self._output.append(item)
        return out + self._event("response.output_item.done", {"output_index": index, "item": item})

    def _begin(self, item: dict[str, Any]) -> bytes:
        out = self._close()
        self._open = item
        index = len(self._output)
        out += self._event("response.output_item.added", {"output_index": index, "item": item})
        if item["type"] == "message":
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            out += self._event("response.content_part.added", {**where, "part": part})
        return out

    def _delta(self, kind: str, text: str, content_index: bool = True, logprobs: bool = False) -> bytes:
        assert self._open is not None
        self._open_text.append(text)
        where: dict[str, Any] = {"item_id": self._open["id"], "output_index": len(self._output)}
        if content_index:
            where["content_index"] = 0
        if logprobs:
            where["logprobs"] = []
        return self._event(kind, {**where, "delta": text})

    def event(self, event: StreamEvent) -> bytes | None:
        if isinstance(event, TextDelta):
            if not event.text:
                return None
            out = b""
            if self._open is None or self._open["type"] != "message":
                out = self._begin({**_message_item(new_id("msg_"), "", "in_progress"), "content": []})
            return out + self._delta("response.output_text.delta", event.text, logprobs=True)
        if isinstance(event, ReasoningDelta):
            if not event.text:
                return None
            out = b""
            if self._open is None or self._open["type"] != "reasoning":
                out = self._begin({"type": "reasoning", "id": new_id("rs_"), "summary": []})
            return out + self._delta("response.reasoning_text.delta", event.text)
        if isinstance(event, ToolCallDelta):
            out = b""
            if event.index not in self._calls:
                call = ToolCall(event.id or new_id("call_"), event.name or "", "")
                out = self._begin(_call_item(new_id("fc_"), call, self._namespaces, "in_progress"))
                self._calls[event.index] = len(self._output)
            elif self._calls[event.index] != len(self._output):
                return None  # a late piece of a call already closed: nothing to attach it to
            if event.arguments:
                out += self._delta("response.function_call_arguments.delta", event.arguments, False)
            return out or None
        if isinstance(event, Annotation):
            if self._open is None or self._open["type"] != "message":
                return None  # no text to annotate
            annotation = responses_annotation(event.annotation)
            self._open_annotations.append(annotation)
            where = {"item_id": self._open["id"], "output_index": len(self._output), "content_index": 0}
            return self._event(
                "response.output_text.annotation.added",
                {**where, "annotation_index": len(self._open_annotations) - 1, "annotation": annotation},
            )
        if isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finish):
            self._finish = event.reason
        return None

    def end(self, usage_extra: dict[str, Any] | None = None) -> bytes:
        out = self._close()
        status = "incomplete" if self._finish in INCOMPLETE else "completed"
        final = _response(
            self.id,
            self.created,
            self.model,
            self._output,
            status=status,
            finish=self._finish,
            usage=usage_json(self.usage, usage_extra),
        )
        return out + self._event(f"response.{status}", {"response": final})

    def error_event(self, exc: EdgerouteError) -> bytes:
        """The stream's ``error`` event, numbered in this stream's sequence."""
        return self._event("error", {"code": exc.code, "message": exc.message, "param": exc.param})


def stream_error(exc: EdgerouteError) -> bytes:
    """An ``error`` event for a stream no :class:`ResponsesStreamer` has started."""
    return ResponsesStreamer("").error_event(exc)
