"""The dashboard's only way to the daemon: its HTTP API, through one ``httpx.AsyncClient``.

Errors are mapped at this boundary, so screens deal with two cases:
- :class:`DaemonUnavailable`: nothing answered (not running, restarting, wrong address);
- :class:`ApiError`: the daemon answered with an error (its own message, which never carries a key).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

from edgeroute.sse import aiter_sse

from .rows import RequestRow

MODES = ("auto", "local-only", "cloud-only")


class DaemonUnavailable(Exception):
    """The daemon did not answer (connection refused, reset, timed out)."""


class StreamIdle(DaemonUnavailable):
    """An open event stream said nothing for longer than its read timeout (no keep-alives)."""


class ApiError(Exception):
    """The daemon answered with an error status."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.code = code
        self.message = message


def _error_from(response: httpx.Response, body: bytes) -> ApiError:
    message, code = "", None
    try:
        error = json.loads(body).get("error")
        if isinstance(error, dict):
            message, code = str(error.get("message") or ""), error.get("code")
    except (ValueError, AttributeError):
        pass
    if response.status_code == 401:
        message = message or "unauthorized"
        message += " — pass the daemon's API token with --token or EDGEROUTE_TOKEN"
    return ApiError(response.status_code, message or response.reason_phrase or "error", code)


class ApiClient:
    """Typed calls to the daemon. ``transport`` lets tests swap the wire; they point it at a real server."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            trust_env=False,  # a proxy from the environment must never see loopback traffic or the token
        )

    @property
    def base_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    @base_url.setter
    def base_url(self, url: str) -> None:
        self._client.base_url = httpx.URL(url)

    async def aclose(self) -> None:
        await self._client.aclose()

    # ---- plumbing ------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise DaemonUnavailable(f"{self.base_url} did not answer ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise _error_from(response, response.content)
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, f"{path} did not return JSON") from None

    async def _get(self, path: str, **params: Any) -> dict[str, Any]:
        data = await self._request("GET", path, params=params or None)
        return data if isinstance(data, dict) else {}

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = await self._request("POST", path, json=body or {})
        return data if isinstance(data, dict) else {}

    # ---- endpoints -----------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return await self._get("/health")

    async def stats(self, window: str) -> dict[str, Any]:
        return await self._get("/api/stats", window=window)

    async def requests(self, limit: int) -> list[RequestRow]:
        doc = await self._get("/api/requests", limit=limit)
        return [RequestRow.from_json(r) for r in doc.get("requests", []) if isinstance(r, dict)]

    async def timeseries(self, window: str = "7d", bucket: str = "hour") -> list[dict[str, Any]]:
        doc = await self._get("/api/timeseries", window=window, bucket=bucket)
        return [p for p in doc.get("points", []) if isinstance(p, dict)]

    async def mode(self) -> str:
        return str((await self._get("/api/mode")).get("mode", "auto"))

    async def set_mode(self, mode: str) -> str:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        return str((await self._post("/api/mode", {"mode": mode})).get("mode", mode))

    async def router(self) -> dict[str, Any]:
        return await self._get("/api/router")

    async def set_cloud_share(self, share: float) -> dict[str, Any]:
        return await self._post("/api/router", {"target_cloud_share": round(min(1.0, max(0.0, share)), 4)})

    async def models(self) -> dict[str, Any]:
        return await self._get("/v1/models")

    async def engine(self) -> dict[str, Any]:
        return await self._get("/api/engine")

    async def load(self, name: str) -> dict[str, Any]:
        return await self._post(f"/api/models/{quote(name, safe='')}/load")

    async def unload(self, name: str) -> dict[str, Any]:
        return await self._post(f"/api/models/{quote(name, safe='')}/unload")

    # ---- streams -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _stream(
        self, method: str, path: str, *, json: dict[str, Any] | None = None, read_timeout: float | None
    ) -> AsyncIterator[httpx.Response]:
        timeout = httpx.Timeout(self._client.timeout.connect or 5.0, read=read_timeout)
        try:
            async with self._client.stream(method, path, json=json, timeout=timeout) as response:
                if response.status_code >= 400:
                    raise _error_from(response, await response.aread())
                yield response
        except httpx.TransportError as exc:
            raise DaemonUnavailable(f"{self.base_url} did not answer ({type(exc).__name__})") from None

    @asynccontextmanager
    async def events(self, read_timeout: float | None = 60.0) -> AsyncIterator[AsyncIterator[RequestRow]]:
        """``async with api.events() as rows: async for row in rows`` — one row per finished request.

        Entering the block means the stream is open (the daemon is up). The iteration ends when the daemon
        closes the stream; a silent stream past ``read_timeout`` raises :class:`DaemonUnavailable`.
        """
        async with self._stream("GET", "/api/events", read_timeout=read_timeout) as response:

            async def rows() -> AsyncIterator[RequestRow]:
                try:
                    async for event in aiter_sse(response.aiter_bytes()):
                        try:
                            data = json.loads(event.data)
                        except ValueError:
                            continue
                        if isinstance(data, dict) and event.event in ("message", "request"):
                            yield RequestRow.from_json(data)
                except httpx.ReadTimeout:
                    raise StreamIdle("the event stream was silent") from None
                except httpx.TransportError as exc:
                    raise DaemonUnavailable(f"event stream lost ({type(exc).__name__})") from None

            yield rows()

    async def pull(self, model: str) -> AsyncIterator[dict[str, Any]]:
        """Progress events of ``POST /api/pull``: ``downloading`` … then ``done`` or ``error``."""
        async with self._stream("POST", "/api/pull", json={"model": model}, read_timeout=120.0) as response:
            try:
                async for event in aiter_sse(response.aiter_bytes()):
                    try:
                        data = json.loads(event.data)
                    except ValueError:
                        continue
                    if isinstance(data, dict):
                        yield data
            except httpx.TransportError as exc:
                raise DaemonUnavailable(f"pull stream lost ({type(exc).__name__})") from None
