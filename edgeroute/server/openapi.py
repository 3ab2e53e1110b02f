"""The OpenAPI document as the daemon really answers, so clients and schema fuzzers (schemathesis) can hold
responses to it: errors are the OpenAI error body (the Anthropic one under ``/v1/messages``) with 4xx/5xx
statuses, never FastAPI's default 422; generation endpoints answer JSON or an SSE stream; and the main
JSON answers have their shape documented."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

ANTHROPIC_EVENTS = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def components() -> dict[str, dict[str, Any]]:
    """Response schemas (additional properties allowed: clients ignore fields they do not know)."""
    string, integer, number = {"type": "string"}, {"type": "integer"}, {"type": "number"}
    usage = _obj(
        ["prompt_tokens", "completion_tokens", "total_tokens"],
        prompt_tokens=integer,
        completion_tokens=integer,
        total_tokens=integer,
        cost_usd=_nullable("number"),
        saved_usd=_nullable("number"),
    )
    finish = {"enum": ["stop", "length", "tool_calls"]}
    message = _obj(
        ["role", "content"],
        role={"const": "assistant"},
        content=_nullable("string"),
        reasoning_content=string,
        tool_calls={"type": "array", "items": _obj(["id", "type", "function"], id=string)},
    )
    model = _obj(
        ["id", "object", "created", "owned_by"], id=string, object={"const": "model"}, created=integer
    )
    return {
        "OpenAIError": _obj(
            ["error"],
            error=_obj(
                ["message", "type", "param", "code"],
                message=string,
                type=string,
                param=_nullable("string"),
                code=_nullable("string"),
            ),
        ),
        "AnthropicError": _obj(
            ["type", "error"],
            type={"const": "error"},
            error=_obj(["type", "message"], type=string, message=string),
        ),
        "Usage": usage,
        "ChatCompletion": _obj(
            ["id", "object", "created", "model", "choices", "usage"],
            id=string,
            object={"const": "chat.completion"},
            created=integer,
            model=string,
            choices={
                "type": "array",
                "items": _obj(
                    ["index", "message", "finish_reason"],
                    index=integer,
                    message=message,
                    finish_reason=finish,
                ),
            },
            usage=_ref("Usage"),
        ),
        "TextCompletion": _obj(
            ["id", "object", "created", "model", "choices", "usage"],
            id=string,
            object={"const": "text_completion"},
            created=integer,
            model=string,
            choices={
                "type": "array",
                "items": _obj(
                    ["index", "text", "finish_reason"], index=integer, text=string, finish_reason=finish
                ),
            },
            usage=_ref("Usage"),
        ),
        "EmbeddingList": _obj(
            ["object", "data", "model", "usage"],
            object={"const": "list"},
            data={
                "type": "array",
                "items": _obj(
                    ["object", "index", "embedding"],
                    object={"const": "embedding"},
                    index=integer,
                    embedding={"anyOf": [{"type": "array", "items": number}, string]},
                ),
            },
            model=string,
            usage=_obj(["prompt_tokens", "total_tokens"], prompt_tokens=integer, total_tokens=integer),
        ),
        "Model": model,
        "ModelList": _obj(
            ["object", "data"], object={"const": "list"}, data={"type": "array", "items": model}
        ),
        "AnthropicMessage": _obj(
            ["id", "type", "role", "model", "content", "stop_reason", "usage"],
            id=string,
            type={"const": "message"},
            role={"const": "assistant"},
            model=string,
            content={
                "type": "array",
                "items": _obj(["type"], type={"enum": ["thinking", "redacted_thinking", "text", "tool_use"]}),
            },
            stop_reason={"enum": ["end_turn", "max_tokens", "tool_use", "stop_sequence"]},
            usage=_obj(["input_tokens", "output_tokens"], input_tokens=integer, output_tokens=integer),
        ),
        "AnthropicTokenCount": _obj(["input_tokens"], input_tokens=integer),
        "Response": _obj(
            ["id", "object", "created_at", "status", "model", "output", "usage"],
            id=string,
            object={"const": "response"},
            created_at=integer,
            status={"enum": ["completed", "incomplete"]},
            model=string,
            output={
                "type": "array",
                "items": _obj(["type", "id"], type={"enum": ["message", "function_call", "reasoning"]}),
            },
            usage=_obj(
                ["input_tokens", "output_tokens", "total_tokens"],
                input_tokens=integer,
                output_tokens=integer,
                total_tokens=integer,
            ),
        ),
        "Health": _obj(
            ["status", "version", "pid", "uptime_s", "mode", "loaded_models"],
            status={"const": "ok"},
            version=string,
            pid=integer,
            uptime_s=number,
            mode={"enum": ["auto", "local-only", "cloud-only"]},
            loaded_models={"type": "array", "items": string},
        ),
    }


def _json_text(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "string", "contentMediaType": "application/json", "contentSchema": schema}


def openai_stream_event(chunk_object: str) -> dict[str, Any]:
    """One SSE event of an OpenAI stream: a chunk, an error, or the closing ``[DONE]``."""
    chunk = _obj(["id", "object", "created", "model", "choices"], object={"const": chunk_object})
    error = _obj(["error"], error=_obj(["message", "type", "code"]))
    data = {
        "if": {"const": "[DONE]"},
        "then": {"type": "string"},
        "else": _json_text({"anyOf": [chunk, error]}),
    }
    return _obj(["event", "data"], event={"const": "message"}, data=data)


def anthropic_stream_event() -> dict[str, Any]:
    """One SSE event of a Messages stream: a named event whose JSON ``type`` is its name."""
    body = _obj(["type"], type={"enum": ANTHROPIC_EVENTS})
    return _obj(["event", "data"], event={"enum": ANTHROPIC_EVENTS}, data=_json_text(body))


def responses_stream_event() -> dict[str, Any]:
    """One SSE event of a Responses stream: a named event (``response.created``... or ``error``) whose
    JSON ``type`` is its name."""
    body = _obj(["type"], type={"type": "string"})
    return _obj(["event", "data"], event={"type": "string"}, data=_json_text(body))


def ledger_event() -> dict[str, Any]:
    row = _obj(
        ["request_id", "endpoint", "status"], request_id={"type": "string"}, status={"type": "integer"}
    )
    return _obj(["data"], data=_json_text(row))


STREAM_EVENTS = {
    "/v1/chat/completions": lambda: openai_stream_event("chat.completion.chunk"),
    "/v1/completions": lambda: openai_stream_event("text_completion"),
    "/v1/messages": anthropic_stream_event,
    "/v1/responses": responses_stream_event,
    "/api/events": ledger_event,
}

OK_BODIES = {
    ("post", "/v1/chat/completions"): "ChatCompletion",
    ("post", "/v1/completions"): "TextCompletion",
    ("post", "/v1/embeddings"): "EmbeddingList",
    ("post", "/v1/messages"): "AnthropicMessage",
    ("post", "/v1/messages/count_tokens"): "AnthropicTokenCount",
    ("post", "/v1/responses"): "Response",
    ("get", "/v1/models"): "ModelList",
    ("get", "/v1/models/{model_id}"): "Model",
    ("get", "/health"): "Health",
}


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's generated document in place (see the module docstring); returns it."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(components())
    for path, operations in schema.get("paths", {}).items():
        error = _ref("AnthropicError" if path.startswith("/v1/messages") else "OpenAIError")
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            ok = responses.setdefault("200", {"description": "Successful Response"})
            content = ok.setdefault("content", {})
            body = OK_BODIES.get((method, path))
            if body is not None:
                content["application/json"] = {"schema": _ref(body)}
            if path in STREAM_EVENTS:  # OpenAPI 3.1: an event stream's schema describes each event
                content["text/event-stream"] = {"schema": STREAM_EVENTS[path]()}
            if path == "/api/events":
                content.pop("application/json", None)
            for status, text in (("4XX", "Refused or invalid request"), ("5XX", "Failure (see the trail)")):
                responses[status] = {"description": text, "content": {"application/json": {"schema": error}}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Serve :func:`document`'s version of the app's schema at ``/openapi.json``."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = document(generated)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
