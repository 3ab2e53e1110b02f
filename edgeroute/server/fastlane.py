"""The hot endpoints (chat completions, messages) served without FastAPI's per-request machinery.

FastAPI's route matching through included routers, dependency solving and generic body parsing cost
about a third of the daemon's CPU on a proxied request (in-process: 1.0 -> 0.67 ms without them). This
pure ASGI layer, inside the request guard and around FastAPI's whole stack, takes ``POST`` on the paths it
knows: it reads the body once,
validates it straight from the JSON bytes (pydantic's Rust parser) and calls the very handler functions
the FastAPI routes use. The routes stay registered: they document the endpoints in the OpenAPI schema and
serve anything this layer does not take (another method, a path it does not know).

Errors are answered exactly as the app's exception handlers answer them (:func:`error_response`,
:func:`validation_error`, :func:`internal_error` for anything unexpected, logged).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeroute.errors import EdgerouteError, InvalidRequest
from edgeroute.server.guard import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from pydantic import BaseModel
    from starlette.requests import Request
    from starlette.responses import Response


@dataclass(frozen=True)
class FastRoute:
    body: type[BaseModel]
    handler: Callable[[Any, Request], Awaitable[Response]]


class FastLane:
    def __init__(self, app: ASGIApp, *, routes: dict[str, FastRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        from pydantic import ValidationError
        from starlette.requests import Request

        from edgeroute.server.app import error_response, internal_error, validation_error

        body = await _read_body(receive)
        request = Request(scope, receive)  # the response listens there for the client's disconnect
        try:
            if not body:
                raise InvalidRequest("The request body is required", code="missing_required_parameter")
            parsed = route.body.model_validate_json(body.removeprefix(b"\xef\xbb\xbf"))  # a UTF-8 BOM is JSON
            response = await route.handler(parsed, request)
        except ValidationError as exc:
            response = validation_error(request, exc.errors(include_url=False))
        except EdgerouteError as exc:
            response = error_response(request, exc)
        except Exception as exc:
            response = internal_error(request, exc)
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    """The whole body (the guard has already bounded its size)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
