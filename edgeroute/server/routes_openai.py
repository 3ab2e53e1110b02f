"""OpenAI-compatible endpoints: chat completions, responses, completions (FIM with ``suffix``), embeddings,
models.

Each also answers without the ``/v1`` prefix (as llama.cpp's server does): a client whose base URL is
``http://localhost:3343`` lists models at ``/models``, so its chat requests must not 404 at
``/chat/completions``. The unprefixed paths stay out of the OpenAPI document."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from edgeroute.chat import EmbeddingRequest
from edgeroute.errors import EdgerouteError, InvalidRequest, ModelNotFound, UnsupportedByModel
from edgeroute.server.app import request_controls, services_of
from edgeroute.server.gateway import resolve_model
from edgeroute.server.respond import JSONBody, Outcome, collected, serve_chat, sse_response
from edgeroute.wire import openai as wire
from edgeroute.wire import responses as responses_wire
from edgeroute.wire.openai_models import ChatCompletionRequest, CompletionRequestIn, EmbeddingRequestIn
from edgeroute.wire.responses_models import ResponsesRequest

router = APIRouter()


def _openai_error(exc: EdgerouteError) -> bytes:
    return wire._sse(exc.to_openai()) + wire.DONE


@router.post("/v1/chat/completions", response_model=None)
@router.post("/chat/completions", response_model=None, include_in_schema=False)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    req = wire.chat_request(body)
    for key, value in request_controls(request).items():
        setattr(req, key, value)
    return await serve_chat(
        services_of(request),
        req,
        "/v1/chat/completions",
        renderer=lambda served: wire.ChatChunker(served, req.include_usage),
        render_json=wire.chat_completion,
        error_body=_openai_error,
    )


@router.post("/v1/responses", response_model=None)
@router.post("/responses", response_model=None, include_in_schema=False)
async def responses(body: ResponsesRequest, request: Request) -> Response:
    """The Responses API, stateless (see :mod:`edgeroute.wire.responses`): routed, served and accounted
    for like a chat completion."""
    translated = responses_wire.responses_request(body)
    req, namespaces = translated.request, translated.namespaces
    for key, value in request_controls(request).items():
        setattr(req, key, value)
    dropped = ", ".join(translated.dropped_tools)
    return await serve_chat(
        services_of(request),
        req,
        "/v1/responses",
        renderer=lambda served: responses_wire.ResponsesStreamer(served, namespaces),
        render_json=lambda served, result, extra: responses_wire.response_object(
            served, result, extra, namespaces
        ),
        error_body=responses_wire.stream_error,
        wire_headers={"x-edgeroute-dropped-tools": dropped} if dropped else None,
    )


def _local_name(model: str, services: Any, *, want: str) -> str:
    """Completions and embeddings run on local models: ``auto`` picks one that can do the job."""
    targets = services.targets()
    pinned = resolve_model(model, targets)
    if pinned is None:
        for name, entry in targets.local.items():
            if want == "embed" and entry.is_embedding:
                return str(name)
            if want == "fim" and entry.supports_fim and not entry.is_embedding:
                return str(name)
        fallback = targets.default_local() if want != "embed" else None
        if fallback is None:
            raise UnsupportedByModel(
                f"No local model can serve this ({want}); pull one with `edgeroute pull`"
            )
        return fallback
    tier, _, name = pinned.partition("/")
    if tier != "local":
        raise InvalidRequest(f"{pinned}: this endpoint is served by local models only", param="model")
    return name


@router.post("/v1/completions", response_model=None)
@router.post("/completions", response_model=None, include_in_schema=False)
async def completions(body: CompletionRequestIn, request: Request) -> Response:
    services = services_of(request)
    req = wire.completion_request(body)
    controls = request_controls(request)
    req.private, req.client = controls["private"], controls["client"]
    outcome = Outcome()
    try:
        name = _local_name(req.model, services, want="fim" if req.suffix is not None else "chat")
    except EdgerouteError as exc:
        await services.record_refused(
            request_id=req.request_id,
            endpoint="/v1/completions",
            requested=req.model,
            client=req.client,
            exc=exc,
            latency_ms=outcome.latency_ms,
            stream=req.stream,
            prompt=req.prompt + (req.suffix or ""),
        )
        raise
    served = f"local/{name}"
    events = services.engine.stream_completion(name, req)
    on_done = services.completion_hook(req, served, "/v1/completions")
    headers = {
        "x-edgeroute-tier": "local",
        "x-edgeroute-model": served,
        "x-edgeroute-reason": "rule:completions-local",
        "x-edgeroute-fallbacks": "",
    }
    if req.stream:
        chunker = wire.CompletionChunker(served, req.include_usage, echo=req.prompt if body.echo else "")
        return sse_response(events, chunker, headers, on_done, _openai_error, outcome)
    try:
        result = await collected(events, outcome)
    finally:
        extra = await on_done(outcome)
    headers.update(services.cost_headers(extra))
    echo = req.prompt if body.echo else ""
    return JSONBody(wire.text_completion(served, result, extra, echo), headers=headers)


@router.post("/v1/embeddings", response_model=None)
@router.post("/embeddings", response_model=None, include_in_schema=False)
async def embeddings(body: EmbeddingRequestIn, request: Request) -> Response:
    services = services_of(request)
    req: EmbeddingRequest = wire.embedding_request(body)
    client = request_controls(request)["client"]
    started = time.perf_counter()
    try:
        name = _local_name(req.model, services, want="embed")
        entry = services.engine.get(name)
        if not entry.is_embedding:
            raise UnsupportedByModel(
                f"local/{name} is not an embedding model", code="not_an_embedding_model", param="model"
            )
        result = await services.engine.embed(name, req.inputs)
    except EdgerouteError as exc:  # every request that reached the endpoint is a ledger row
        await services.record_refused(
            request_id=req.request_id,
            endpoint="/v1/embeddings",
            requested=req.model,
            client=client,
            exc=exc,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        raise
    latency = (time.perf_counter() - started) * 1000
    await services.record_embedding(
        req.request_id, req.model, f"local/{name}", client, result.prompt_tokens, latency
    )
    payload = wire.embeddings_response(
        f"local/{name}", result.vectors, result.prompt_tokens, body.encoding_format
    )
    headers = {
        "x-edgeroute-tier": "local",
        "x-edgeroute-model": f"local/{name}",
        "x-edgeroute-cost-usd": "0",
        "x-edgeroute-saved-usd": "0",
    }
    return JSONBody(payload, headers=headers)


@router.get("/v1/models")
@router.get("/models", include_in_schema=False)
@router.head("/v1/models", include_in_schema=False)  # HEAD: uptime checks and `curl -I`; no body is sent
@router.head("/models", include_in_schema=False)
async def list_models(request: Request) -> dict[str, Any]:
    services = services_of(request)
    services.engine.refresh()  # a model pulled a moment ago shows up without a restart
    created = int(request.app.state.started)  # the daemon's start: the same on every call
    data: list[dict[str, Any]] = [
        {"id": "auto", "object": "model", "created": created, "owned_by": "edgeroute"}
    ]
    for m in services.engine.models():
        data.append(
            {
                "id": f"local/{m.name}",
                "object": "model",
                "created": created,
                "owned_by": "local",
                "loaded": m.loaded,
                "status": {"value": "loaded" if m.loaded else "unloaded"},  # llama.cpp router mode's form
                "role": m.role or ("embed" if m.is_embedding else "chat"),
                "context_length": m.n_ctx,
                "size_bytes": m.info.file_size,
            }
        )
    for c in services.targets().cloud.values():
        data.append(
            {
                "id": f"cloud/{c.name}",
                "object": "model",
                "created": created,
                "owned_by": c.provider,
                "context_length": c.context_window,
            }
        )
    # Anthropic's field names beside OpenAI's, so one list serves both SDKs' ``models.list()``.
    created_at = datetime.fromtimestamp(created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for item in data:
        item.update(type="model", display_name=item["id"], created_at=created_at)
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"],
        "last_id": data[-1]["id"],
    }


@router.get("/v1/models/{model_id:path}")
@router.get("/models/{model_id:path}", include_in_schema=False)
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    listing = await list_models(request)
    for item in listing["data"]:
        if item["id"] == model_id:
            return dict(item)
    raise ModelNotFound(f"The model '{model_id}' does not exist", param="model")
