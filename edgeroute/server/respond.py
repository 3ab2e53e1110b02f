"""Turning an opened stream into an HTTP response, shared by the OpenAI and Anthropic endpoints.

Headers go out once the serving target has produced its first event (the dispatcher pulls it before
committing), so a fallback before the first token still reports the right model. When the client goes
away mid-stream, the generator is cancelled and the upstream or local generation is closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from fastapi.responses import JSONResponse, Response, StreamingResponse

from edgeroute import jsonio
from edgeroute.chat import ChatRequest, ReasoningDelta, StreamEvent, TextDelta, ToolCallDelta, Usage
from edgeroute.errors import EdgerouteError
from edgeroute.providers.tokens import CompletionCounter
from edgeroute.server.coalesce import ReadyGroups
from edgeroute.wire.collect import Collected, collect

if TYPE_CHECKING:
    from edgeroute.server.services import Services


class Renderer(Protocol):
    usage: Usage | None

    def event(self, event: StreamEvent) -> bytes | None: ...


class Outcome:
    """What happened to one request, handed to the accounting hook when it ends."""

    __slots__ = ("error", "finished", "first_token_at", "generated", "started", "usage")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_token_at: float | None = None
        self.usage: Usage | None = None
        self.error: EdgerouteError | None = None
        self.finished = False
        # What a stream sent before the client left: the provider bills it though its usage never came.
        self.generated = CompletionCounter()

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_token_at is None else (self.first_token_at - self.started) * 1000

    @property
    def latency_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


class JSONBody(JSONResponse):
    """Starlette's JSON response, written by orjson (:mod:`edgeroute.jsonio`): every non-streamed answer
    goes through it."""

    def render(self, content: Any) -> bytes:
        return jsonio.dumps(content)


Done = Callable[[Outcome], Any]  # async accounting hook; returns extra usage fields (cost) or None


async def _close(events: AsyncIterator[StreamEvent]) -> None:
    if inspect.isasyncgen(events) and events.ag_frame is None:
        return  # ran to its end: nothing left to close (and no shielded scope to pay for)
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        with anyio.CancelScope(shield=True):
            await aclose()


class SSEResponse(StreamingResponse):
    """Starlette's streaming response without its per-request task group.

    Under uvicorn (ASGI spec 2.3) Starlette watches for the client's disconnect with an anyio task group
    around two tasks for every stream. One watcher task does the same job for less: it waits for
    ``http.disconnect`` and cancels the streaming task once (the body's ``finally`` then closes the upstream
    or frees the local model, as before), and that one cancellation is absorbed here instead of reaching
    the server as an error. Python 3.10 has no ``Task.uncancel()``: it keeps Starlette's way."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        task = asyncio.current_task()
        if task is None or sys.version_info < (3, 11):
            await super().__call__(scope, receive, send)
            return
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            task.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not gone or task.uncancel() > 0:  # not ours, or someone else's is pending too
                raise
        finally:
            watcher.cancel()


def count_generated(counter: CompletionCounter, events: list[StreamEvent]) -> None:
    """Count the answer (text, reasoning, tool calls) in ``events``."""
    for event in events:
        kind = type(event)
        if kind is TextDelta or kind is ReasoningDelta:
            counter.add_text(event.text)  # type: ignore[union-attr]
        elif kind is ToolCallDelta:
            counter.add_tool_call(event)  # type: ignore[arg-type]


def sse_response(
    events: AsyncIterator[StreamEvent],
    renderer: Any,
    headers: dict[str, str],
    on_done: Done,
    error_body: Callable[[EdgerouteError], bytes],
    outcome: Outcome,
) -> StreamingResponse:
    # A renderer that numbers its events (Responses) words its own errors; the others use error_body.
    fail: Callable[[EdgerouteError], bytes] = getattr(renderer, "error_event", None) or error_body

    async def body() -> AsyncIterator[bytes]:
        groups = ReadyGroups(events)  # events that arrived together go out in one send
        start = getattr(renderer, "start", None)
        head: bytes = start() if start is not None else b""  # sent with the first group
        try:
            while (group := await groups.next()) is not None:
                if outcome.first_token_at is None:
                    outcome.first_token_at = time.perf_counter()
                chunk = head + b"".join(filter(None, map(renderer.event, group)))
                head = b""
                count_generated(outcome.generated, group)
                if chunk:
                    yield chunk
            outcome.finished = True
        except EdgerouteError as exc:
            outcome.error = exc
        finally:
            with anyio.CancelScope(shield=True):
                await groups.aclose()
            outcome.usage = renderer.usage
            if not outcome.finished and outcome.error is None:
                with anyio.CancelScope(shield=True):  # the client went away: still account for it
                    with contextlib.suppress(EdgerouteError):  # a failed row is logged by the ledger
                        await on_done(outcome)
        try:
            extra = await on_done(outcome)  # committed before the last bytes leave
        except EdgerouteError as exc:
            # No row, no complete answer: the stream ends with the error (the ledger logged why), never
            # with the success terminator a client could take as "recorded".
            yield head + fail(exc)
            return
        yield head + (fail(outcome.error) if outcome.error is not None else renderer.end(extra))

    return SSEResponse(
        body(),
        media_type="text/event-stream",
        headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def collected(events: AsyncIterator[StreamEvent], outcome: Outcome) -> Collected:
    try:
        result = await collect(events)
    except EdgerouteError as exc:
        outcome.error = exc
        raise
    finally:
        await _close(events)
    outcome.first_token_at = outcome.first_token_at or time.perf_counter()
    outcome.usage = result.usage
    outcome.finished = True
    return result


async def serve_chat(
    services: Services,
    req: ChatRequest,
    endpoint: str,
    *,
    renderer: Callable[[str], Any],
    render_json: Callable[[str, Collected, dict[str, Any] | None], dict[str, Any]],
    error_body: Callable[[EdgerouteError], bytes],
    wire_headers: dict[str, str] | None = None,
) -> Response:
    """One chat request, whatever its wire format: route and open it, then stream it through the format's
    ``renderer`` (built for the model that answers) or collect it into ``render_json``'s body.
    ``wire_headers``: the wire's own, next to the routing ones."""
    from edgeroute.server.gateway import route_headers

    outcome = Outcome()
    decision, opened = await services.open_chat(req, endpoint)
    headers = route_headers(decision, opened.target, opened.trail)
    if wire_headers:
        headers.update(wire_headers)
    on_done = services.accounting_hook(req, decision, opened, endpoint)
    if req.stream:
        return sse_response(opened.events, renderer(opened.target), headers, on_done, error_body, outcome)
    try:
        result = await collected(opened.events, outcome)
    finally:
        extra = await on_done(outcome)
    headers.update(services.cost_headers(extra))
    return JSONBody(render_json(opened.target, result, extra), headers=headers)
