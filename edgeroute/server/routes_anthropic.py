"""The Anthropic Messages API (``POST /v1/messages``) for Claude Code and other Anthropic clients, and the
token count (``POST /v1/messages/count_tokens``) Claude Code asks for its context accounting."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from edgeroute.errors import EdgerouteError
from edgeroute.providers.anthropic import BETA_EXTRA
from edgeroute.server.app import request_controls, services_of
from edgeroute.server.respond import serve_chat
from edgeroute.wire import anthropic as wire
from edgeroute.wire.anthropic_models import CountTokensRequest, MessagesRequest

router = APIRouter()


def _anthropic_error(exc: EdgerouteError) -> bytes:
    return wire.MessagesStreamer.error(exc.to_anthropic())


@router.post("/v1/messages", response_model=None)
async def messages(body: MessagesRequest, request: Request) -> Response:
    req = wire.chat_request(body)
    for key, value in request_controls(request).items():
        setattr(req, key, value)
    if beta := request.headers.get("anthropic-beta"):
        req.extra[BETA_EXTRA] = beta
    estimate = len(req.prompt_text()) // 4  # message_start needs input tokens before the model has counted
    return await serve_chat(
        services_of(request),
        req,
        "/v1/messages",
        renderer=lambda served: wire.MessagesStreamer(served, input_tokens_estimate=estimate),
        render_json=lambda served, result, extra: wire.message_response(served, result),
        error_body=_anthropic_error,
    )


@router.post("/v1/messages/count_tokens")
async def count_tokens(body: CountTokensRequest) -> dict[str, Any]:
    """An estimate for any model name: counting needs no model, so nothing is loaded, called or billed,
    and Claude Code's own model names (``claude-sonnet-...``) get an answer too. Without this endpoint
    Claude Code falls back to its own guesses and misjudges when to compact its context."""
    return {"input_tokens": wire.count_tokens(body)}
