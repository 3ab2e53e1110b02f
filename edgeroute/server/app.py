"""``create_app(settings)``: the FastAPI app with every component built in its lifespan and reached through
``app.state`` (no module globals, so tests build as many apps as they like)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from edgeroute import __version__
from edgeroute.errors import EdgerouteError, InvalidRequest
from edgeroute.server.guard import ASGIApp, RequestGuard, anthropic_shaped

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.paths import Paths
    from edgeroute.server.services import Services

log = logging.getLogger("edgeroute.server")


def _is_anthropic(request: Request) -> bool:
    return anthropic_shaped(request.url.path, {k: b"" for k, _ in request.headers.raw})


def error_response(request: Request, error: EdgerouteError) -> JSONResponse:
    body = error.to_anthropic() if _is_anthropic(request) else error.to_openai()
    headers = {"retry-after": str(max(1, round(error.retry_after)))} if error.retry_after else None
    return JSONResponse(body, status_code=error.status, headers=headers)


def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: the traceback goes to the log, the client gets a 500 that says where to look."""
    log.error("unexpected error on %s", request.url.path, exc_info=exc)
    return error_response(
        request, EdgerouteError("Internal error; see the daemon log", code="internal_error")
    )


def validation_error(request: Request, errors: Sequence[Any]) -> JSONResponse:
    """A body that failed validation, as a 400 naming the first bad field (never FastAPI's 422)."""
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "invalid request"}
    loc_parts = [p for p in first["loc"] if p != "body"]
    if first["type"] in ("json_invalid", "model_attributes_type", "model_type") and len(loc_parts) <= 1:
        return error_response(
            request, InvalidRequest("The request body is not valid JSON", code="invalid_json")
        )
    loc = ".".join(str(p) for p in loc_parts)
    message = f"{loc}: {first['msg']}" if loc else str(first["msg"])
    code = "missing_required_parameter" if first["type"] == "missing" else "invalid_value"
    return error_response(request, InvalidRequest(message, code=code, param=loc or None))


class _Edgeroute(FastAPI):
    """FastAPI with edgeroute's own ASGI layers outermost.

    FastAPI puts added middleware inside three layers of its own (server errors, telemetry, a body limit),
    each a coroutine and a wrapped ``send`` on every request. The guard (which bounds bodies itself) and
    the fast lane (which answers its own errors, the unexpected ones as a logged 500) need none of them, so
    they wrap FastAPI's whole stack instead: the chat endpoints skip it, everything else goes through it
    as before."""

    front: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack if self.front is None else self.front(stack)


def _cors(app: ASGIApp, origins: Sequence[str]) -> ASGIApp:
    from starlette.middleware.cors import CORSMiddleware

    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        # Any header: the official JS SDKs send x-stainless-* and anthropic-* headers from a page, and a
        # refused preflight header would break an allowed origin; who may ask is the origin check's job.
        allow_headers=["*"],
        expose_headers=[
            "x-edgeroute-tier",
            "x-edgeroute-model",
            "x-edgeroute-reason",
            "x-edgeroute-score",
            "x-edgeroute-fallbacks",
            "x-edgeroute-cost-usd",
            "x-edgeroute-saved-usd",
        ],
        allow_credentials=False,
    )


def create_app(
    settings: Settings,
    paths: Paths | None = None,
    *,
    services: Services | None = None,
    freeze_gc: bool = False,
    **components: Any,
) -> FastAPI:
    """Build the daemon's app. The lifespan builds every component from ``settings`` and closes them on
    shutdown; ``components`` replace single ones (``keys=KeyStore(memory backend)``, ``engine=...``), and a
    whole pre-built ``services`` may be injected (then the caller closes it).

    ``freeze_gc`` (the daemon's own process): once started, every object so far moves out of the cyclic
    garbage collector's reach (``gc.freeze``). They live as long as the daemon, and a full collection that
    walked them all stalled every request in flight for 40-55 ms (``scripts/probe_gc_pause.py``)."""
    from edgeroute.paths import resolve_paths
    from edgeroute.server import openapi, routes_admin, routes_anthropic, routes_openai
    from edgeroute.server.services import build_services

    resolved_paths = paths or resolve_paths()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or await build_services(settings, resolved_paths, **components)
        app.state.started = time.time()
        if freeze_gc:
            import gc

            gc.collect()  # what start-up left as garbage is freed, not frozen
            gc.freeze()
        try:
            yield
        finally:
            if owned:
                await app.state.services.close()

    app = _Edgeroute(
        title="edgeroute",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="OpenAI- and Anthropic-compatible local/cloud LLM router.",
        # FastAPI's OpenTelemetry hooks ask three global providers on every request whether anyone is
        # listening; edgeroute's own observability is the ledger and /metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.paths = resolved_paths

    @app.exception_handler(EdgerouteError)
    async def _edgeroute_error(request: Request, exc: EdgerouteError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(request, exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = error_response(
            request,
            EdgerouteError(
                str(exc.detail), status=exc.status_code, code=code, error_type="invalid_request_error"
            ),
        )
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not only those of the last route tried
            response.headers["allow"] = ", ".join(_allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return internal_error(request, exc)

    app.include_router(routes_openai.router)
    app.include_router(routes_anthropic.router)
    app.include_router(routes_admin.router)
    openapi.install(app)

    from edgeroute.server.fastlane import FastLane, FastRoute
    from edgeroute.wire.anthropic_models import MessagesRequest
    from edgeroute.wire.openai_models import ChatCompletionRequest
    from edgeroute.wire.responses_models import ResponsesRequest

    server = settings.server
    tokens = {t: f"token-{i + 1}" for i, t in enumerate(server.api_tokens)}
    tokens.update({c.token: c.name for c in settings.clients if c.token})
    chat = FastRoute(ChatCompletionRequest, routes_openai.chat_completions)
    responses = FastRoute(ResponsesRequest, routes_openai.responses)
    fast_routes = {
        "/v1/chat/completions": chat,
        "/chat/completions": chat,  # a base URL without /v1 (see routes_openai)
        "/v1/responses": responses,
        "/responses": responses,
        "/v1/messages": FastRoute(MessagesRequest, routes_anthropic.messages),
    }

    def front(inner: ASGIApp) -> ASGIApp:
        """Guard, then CORS, then the fast lane, around FastAPI's whole stack (see :class:`_Edgeroute`)."""
        layered: ASGIApp = FastLane(inner, routes=fast_routes)
        if server.allowed_origins:
            layered = _cors(layered, server.allowed_origins)
        return RequestGuard(
            layered,
            allowed_hosts=set(server.allowed_hosts)
            | ({server.host} if server.host not in ("0.0.0.0", "::") else set()),
            allowed_origins=set(server.allowed_origins),
            tokens=tokens,
            max_body_bytes=int(server.max_body_mb * 1024 * 1024),
        )

    app.front = front
    return app


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route takes on this path. Each is asked of the routes as a whole (FastAPI keeps an
    included router as one route that lists no methods of its own); only a 405 pays for it."""
    from starlette.routing import Match

    def takes(method: str) -> bool:
        scope = {**request.scope, "method": method}
        return any(route.matches(scope)[0] == Match.FULL for route in request.app.routes)

    return [method for method in METHODS if takes(method)]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def request_controls(request: Request) -> dict[str, Any]:
    """``x-edgeroute-route`` and ``x-edgeroute-private`` headers, validated."""
    hint = request.headers.get("x-edgeroute-route")
    if hint is not None and hint not in ("auto", "local", "cloud"):
        raise InvalidRequest("x-edgeroute-route must be auto, local or cloud", param="x-edgeroute-route")
    private = request.headers.get("x-edgeroute-private", "").strip().lower() in ("1", "true", "yes")
    return {
        "route_hint": None if hint in (None, "auto") else hint,
        "private": private,
        "client": request.scope.get("state", {}).get("client"),
    }
