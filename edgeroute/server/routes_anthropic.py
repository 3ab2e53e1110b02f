"""The Anthropic Messages API (``POST /v1/messages``) for Claude Code and other Anthropic clients."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from edgeroute.errors import EdgerouteError
from edgeroute.server.app import request_controls, services_of
from edgeroute.server.respond import serve_chat
from edgeroute.wire import anthropic as wire
from edgeroute.wire.anthropic_models import MessagesRequest

router = APIRouter()


def _anthropic_error(exc: EdgerouteError) -> bytes:
    return wire.MessagesStreamer.error(exc.to_anthropic())


@router.post("/v1/messages", response_model=None)
async def messages(body: MessagesRequest, request: Request) -> Response:
    req = wire.chat_request(body)
    for key, value in request_controls(request).items():
        setattr(req, key, value)
    estimate = len(req.prompt_text()) // 4  # message_start needs input tokens before the model has counted
    return await serve_chat(
        services_of(request),
        req,
        "/v1/messages",
        renderer=lambda served: wire.MessagesStreamer(served, input_tokens_estimate=estimate),
        render_json=lambda served, result, extra: wire.message_response(served, result),
        error_body=_anthropic_error,
    )
