"""Request guard for a localhost daemon that holds cloud keys, as pure ASGI middleware (cheap per request).

Any web page the user opens can send requests to localhost, so before a request reaches the app:
- ``Host`` must be localhost / 127.0.0.1 / [::1] or a configured name (DNS-rebinding protection): 403;
- an ``Origin`` header must be a configured origin (cross-site requests): 403;
- POST bodies must be ``application/json`` (a ``text/plain`` "simple request" skips the browser's
  CORS preflight): 415 (a request without a body needs no content type);
- with tokens configured, ``Authorization: Bearer`` or ``x-api-key`` must match one: 401;
- bodies over the limit: 413 (by Content-Length, or counted while buffering a chunked body).
Paths that clients build by joining strings are served as the canonical path: repeated slashes collapse
(``/v1//chat/completions``) and one trailing slash goes (``/v1/chat/completions/``; the router would answer
it with a redirect, which httpx-based clients do not follow).
Errors use the OpenAI shape, or the Anthropic shape on ``/v1/messages``.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from edgeroute.errors import EdgerouteError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
OPEN_PATHS = frozenset({"/health"})
SLASHES = re.compile(r"/{2,}")
RAW_SLASHES = re.compile(rb"/{2,}")


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: set[str],
        allowed_origins: set[str],
        tokens: dict[str, str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts} | LOOPBACK_HOSTS
        self.allowed_origins = {o.rstrip("/").lower() for o in allowed_origins}
        self.tokens = [(t.encode(), name) for t, name in tokens.items()]
        self.max_body = max_body_bytes

    def _too_large(self) -> str:
        """The 413's message, with the setting that raises the limit (a long session with screenshots
        outgrows the default; Anthropic's own limit is 32 MB)."""
        return (
            f"Request body is over the {self.max_body / 2**20:g} MB limit"
            " (raise server.max_body_mb in the config to accept it)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = origin = ctype = auth = api_key = agent = b""
        length = -1
        chunked = False
        for key, value in scope["headers"]:
            if key == b"host":
                host = value
            elif key == b"origin":
                origin = value
            elif key == b"content-type":
                ctype = value
            elif key == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif key == b"authorization":
                auth = value
            elif key == b"x-api-key":
                api_key = value
            elif key == b"user-agent":
                agent = value
            elif key == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        path: str = scope["path"]
        if "//" in path or (path[-1:] == "/" and path != "/"):  # cheap: a well-formed path costs two tests
            scope = canonical_scope(scope)
            path = scope["path"]

        async def deny(status: int, code: str, message: str) -> None:
            error = EdgerouteError(message, status=status, code=code, error_type=_type(status))
            await send_error(send, error, anthropic_shaped(path, dict(scope["headers"])))

        if _host_name(host.decode("latin-1")) not in self.allowed_hosts:
            await deny(403, "host_not_allowed", "Host header not allowed (add it to server.allowed_hosts)")
            return
        if origin and origin.decode("latin-1").rstrip("/").lower() not in self.allowed_origins:
            await deny(
                403, "origin_not_allowed", "Cross-origin requests are refused (see server.allowed_origins)"
            )
            return
        method = scope["method"]
        if method == "OPTIONS":  # a preflight from an allowed origin: CORS middleware answers it
            await self.app(scope, receive, send)
            return
        client = None
        if self.tokens and path not in OPEN_PATHS:
            presented = auth[7:].strip() if auth[:7].lower() == b"bearer " else api_key
            client = next(
                (name for tok, name in self.tokens if presented and hmac.compare_digest(tok, presented)), None
            )
            if client is None:
                await deny(401, "invalid_api_key", "Missing or invalid API token")
                return
        scope.setdefault("state", {})["client"] = client or _agent_name(agent)
        # Only a request that carries a body can smuggle one past the preflight; an empty POST (load a
        # model) needs no content type, and a PUT to a GET route gets its 405 from the router.
        if method in ("POST", "PUT", "PATCH") and (length > 0 or (length < 0 and chunked)):
            if ctype.split(b";", 1)[0].strip().lower() != b"application/json":
                await deny(415, "unsupported_media_type", "Request bodies must be sent as application/json")
                return
            if length > self.max_body:
                await deny(413, "request_too_large", self._too_large())
                return
            if length < 0:  # chunked: buffer up to the limit, then replay
                body, too_big = await _read_limited(receive, self.max_body)
                if too_big:
                    await deny(413, "request_too_large", self._too_large())
                    return
                receive = _replay(body, receive)
        await self.app(scope, receive, send)


def canonical_scope(scope: Scope) -> Scope:
    """A copy of ``scope`` whose path (and raw path) has no repeated slashes and no trailing one."""
    path = SLASHES.sub("/", scope["path"])
    if len(path) > 1:
        path = path.removesuffix("/")
    canonical = dict(scope, path=path)
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        raw = RAW_SLASHES.sub(b"/", raw)
        canonical["raw_path"] = raw.removesuffix(b"/") if len(raw) > 1 else raw
    return canonical


def _type(status: int) -> str:
    return {401: "authentication_error", 403: "permission_error"}.get(status, "invalid_request_error")


def _agent_name(agent: bytes) -> str | None:
    """A client label from the User-Agent's first product token (e.g. ``AsyncOpenAI/Python``)."""
    if not agent:
        return None
    return agent.decode("latin-1").split(" ", 1)[0][:64]


async def _read_limited(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def anthropic_shaped(path: str, headers: Mapping[bytes, bytes]) -> bool:
    """Whether an error goes out in Anthropic's shape: on the Messages API, and on the model list when
    the Anthropic SDK asks (it sends ``anthropic-version``; both SDKs read ``/v1/models``)."""
    if path.startswith("/v1/messages"):
        return True
    return path.startswith("/v1/models") and b"anthropic-version" in headers


async def send_error(send: Send, error: EdgerouteError, anthropic: bool) -> None:
    body = json.dumps(error.to_anthropic() if anthropic else error.to_openai()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
