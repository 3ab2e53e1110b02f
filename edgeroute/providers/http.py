"""The HTTP client every cloud call goes through: one pooled aiohttp session per upstream endpoint.

Why aiohttp and not httpx (which the CLI and the hub client use): this is the daemon's hot path, and one
streamed upstream call costs about 5x less CPU with aiohttp (C-accelerated HTTP parser) than with httpx
(pure-Python h11 plus its client layers): 100 against 540 us on this project's 2-core box
(``scripts/bench_upstream_client.py``). The rest of the providers see only
:class:`UpstreamClient` and :class:`UpstreamResponse`; aiohttp's exceptions are mapped here, at the
boundary, to :mod:`edgeroute.errors`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgeroute.errors import UpstreamConnectError, UpstreamError, UpstreamTimeout

if TYPE_CHECKING:
    import ssl

    import aiohttp

MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class Timeouts:
    """Socket-level limits (seconds, None = none); wall-clock deadlines live in ``upstream.Deadline``."""

    connect: float | None
    read: float | None


class UpstreamResponse:
    """An open response: status and headers now, the body as it arrives."""

    __slots__ = ("_response", "headers", "label", "status")

    def __init__(self, response: aiohttp.ClientResponse, label: str) -> None:
        self._response = response
        self.status: int = response.status
        self.headers: Mapping[str, str] = response.headers  # case-insensitive
        self.label = label

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as the network delivers them."""
        import aiohttp

        content = self._response.content
        while True:
            try:
                chunk = await content.readany()
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                raise transport_error(exc, self.label) from exc
            if not chunk:
                return
            yield chunk

    async def read(self, limit: int | None = None) -> bytes:
        """The body (up to ``limit`` bytes when given)."""
        out = bytearray()
        async for chunk in self.chunks():
            out += chunk
            if limit is not None and len(out) >= limit:
                return bytes(out[:limit])
        return bytes(out)

    def close(self) -> None:
        """Done with the response: a fully read one returns its connection to the pool, any other closes
        it (an upstream still sending must not bleed into the next request on that connection)."""
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class UpstreamClient:
    """A connection pool for one endpoint. Created on first use, inside the daemon's event loop."""

    def __init__(self, *, max_connections: int = 32, user_agent: str = "edgeroute") -> None:
        self._max_connections = max_connections
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self._max_connections, ssl=_ssl_context(), keepalive_timeout=15.0
        )
        return aiohttp.ClientSession(
            connector=connector,
            headers={"user-agent": self._user_agent},
            trust_env=False,  # proxies are resolved once per origin (:meth:`_proxy`), not per request
            auto_decompress=True,
            timeout=aiohttp.ClientTimeout(total=None),
            # One session serves every client of the daemon: a cookie one upstream answer sets must not
            # ride along on another client's request (and filtering cookies costs time per request).
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeouts: Timeouts, label: str
    ) -> UpstreamResponse:
        """POST ``body`` (JSON) and return the response once its headers arrived; transport failures
        raise mapped :class:`~edgeroute.errors.UpstreamError` subclasses. Redirects are not followed: a
        key must never be re-sent to wherever an upstream points."""
        import aiohttp

        if self._session is None:
            self._session = self._open()
        # ``connect`` in aiohttp would also bound the wait for a free pooled connection, and a busy pool is
        # not an unreachable host: only the socket connect is bounded here; the upstream's deadlines bound
        # the whole wait.
        timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        try:
            response = await self._session.post(
                url,
                data=body,
                headers={**headers, "content-type": "application/json"},
                timeout=timeout,
                allow_redirects=False,
                proxy=self._proxy(url),
            )
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise transport_error(exc, label) from exc
        return UpstreamResponse(response, label)

    def _proxy(self, url: str) -> str | None:
        """The proxy for ``url`` from HTTP(S)_PROXY / ALL_PROXY / NO_PROXY, as httpx and curl honour them. Resolved
        once per origin: reading the environment on every request cost more than the request itself."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxies:
            import urllib.request

            proxies = urllib.request.getproxies()
            proxy = proxies.get(parts.scheme) or proxies.get("all")
            if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
                proxy = None
            self._proxies[origin] = proxy or None
        return self._proxies[origin]

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _ssl_context() -> ssl.SSLContext:
    """The system's trust store plus certifi's bundle (python.org builds on macOS ship without one)."""
    import ssl

    context = ssl.create_default_context()
    try:
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError):
        pass
    return context


def transport_error(exc: BaseException, label: str) -> UpstreamError:
    """A transport failure as an upstream error (called as ``raise transport_error(exc) from exc``)."""
    import aiohttp

    reason = (str(exc) or type(exc).__name__)[:MESSAGE_LIMIT]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamConnectError(f"{label}: connect timed out")
    if isinstance(exc, aiohttp.ClientConnectorError):
        # aiohttp's own text repeats itself and names an ssl mode even for http URLs.
        errno = exc.os_error.errno
        why = os.strerror(errno) if errno else reason
        return UpstreamConnectError(f"{label}: cannot connect to {exc.host}:{exc.port} ({why})")
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return UpstreamTimeout(f"{label}: the upstream stopped sending ({type(exc).__name__})")
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, OSError)):
        return UpstreamError(
            f"{label}: connection closed mid-response ({reason})", code="upstream_disconnected"
        )
    return UpstreamError(f"{label}: {type(exc).__name__}")
