"""The Anthropic Messages API (``POST /v1/messages``) for Claude Code and other Anthropic clients."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from edgeroute.errors import EdgerouteError
from edgeroute.server.app import request_controls, services_of
from edgeroute.server.gateway import route_headers
from edgeroute.server.respond import Outcome, collected, sse_response
from edgeroute.wire import anthropic as wire
from edgeroute.wire.anthropic_models import MessagesRequest

router = APIRouter()


def _anthropic_error(exc: EdgerouteError) -> bytes:
    return wire.MessagesStreamer.error(exc.to_anthropic())


@router.post("/v1/messages", response_model=None)
async def messages(body: MessagesRequest, request: Request) -> Response:
    services = services_of(request)
    req = wire.chat_request(body)
    for key, value in request_controls(request).items():
        setattr(req, key, value)
    outcome = Outcome()
    decision, opened = await services.open_chat(req, "/v1/messages")
    headers = route_headers(decision, opened.target, opened.trail)
    on_done = services.accounting_hook(req, decision, opened, "/v1/messages")
    if req.stream:
        streamer = wire.MessagesStreamer(opened.target, input_tokens_estimate=len(req.prompt_text()) // 4)
        return sse_response(opened.events, streamer, headers, on_done, _anthropic_error, outcome)
    try:
        result = await collected(opened.events, outcome)
    finally:
        extra = await on_done(outcome)
    headers.update(services.cost_headers(extra))
    return JSONResponse(wire.message_response(opened.target, result), headers=headers)
