"""Health and the admin API the TUI uses: routing mode and model load/unload."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from edgeroute import __version__
from edgeroute.server.app import services_of

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    services = services_of(request)
    status = services.engine.status()
    return {
        "status": "ok",
        "version": __version__,
        "pid": _pid(),
        "uptime_s": round(time.time() - request.app.state.started, 1),
        "mode": services.settings.router.mode,
        "loaded_models": [m.name for m in status.models],
    }


def _pid() -> int:
    import os

    return os.getpid()


class ModeIn(BaseModel):
    mode: Literal["auto", "local-only", "cloud-only"]


@router.post("/api/mode")
async def set_mode(body: ModeIn, request: Request) -> dict[str, str]:
    """Switch the routing mode for the running daemon (not written to the config file). The settings
    object is shared by the router and the dispatcher, so both see the change on the next request."""
    services_of(request).settings.router.mode = body.mode
    return {"mode": body.mode}


@router.get("/api/mode")
async def get_mode(request: Request) -> dict[str, str]:
    services = services_of(request)
    return {"mode": services.settings.router.mode}


@router.post("/api/models/{name}/load")
async def load_model(name: str, request: Request) -> dict[str, Any]:
    engine = services_of(request).engine
    engine.get(name)
    await engine.load(name)
    return {"name": name, "loaded": True}


@router.post("/api/models/{name}/unload")
async def unload_model(name: str, request: Request) -> dict[str, Any]:
    engine = services_of(request).engine
    engine.get(name)
    await engine.unload(name)
    return {"name": name, "loaded": False}


@router.get("/api/stats")
async def stats(request: Request, window: str = "today") -> dict[str, Any]:
    services = services_of(request)
    result: dict[str, Any] = await services.ledger.stats(window, budget=services.budget.snapshot())
    return result


@router.get("/api/requests")
async def recent_requests(
    request: Request, limit: int = 50, before_id: int | None = None, client: str | None = None
) -> dict[str, Any]:
    rows = await services_of(request).ledger.recent(max(1, min(limit, 500)), before_id, client)
    return {"requests": [row.to_dict() if hasattr(row, "to_dict") else row for row in rows]}


@router.get("/api/events")
async def events(request: Request) -> StreamingResponse:
    """One SSE event per finished request; a comment every 15 s keeps idle connections open."""
    subscription = services_of(request).ledger.subscribe()

    async def body() -> AsyncIterator[bytes]:
        yield b": connected\n\n"
        try:
            while True:
                record = await subscription.get(timeout=15.0)
                if record is None:
                    if subscription.closed:
                        return
                    yield b": keep-alive\n\n"
                    continue
                yield b"data: " + json.dumps(record.to_dict(), separators=(",", ":")).encode() + b"\n\n"
        finally:
            subscription.close()

    return StreamingResponse(body(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    m = services_of(request).metrics
    return Response(m.render(), media_type=m.content_type)


@router.get("/api/engine")
async def engine_status(request: Request) -> dict[str, Any]:
    import dataclasses

    status = services_of(request).engine.status()
    return dataclasses.asdict(status)


@router.get("/api/router")
async def router_state(request: Request) -> dict[str, Any]:
    services = services_of(request)
    scores = await services.ledger.scores(time.time() - 7 * 86400)
    return {
        "mode": services.settings.router.mode,
        "target_cloud_share": services.extras.get(
            "target_cloud_share", services.settings.router.target_cloud_share
        ),
        "threshold": services.extras.get("threshold"),
        "scores": scores[-1000:],
    }


class RouterIn(BaseModel):
    target_cloud_share: float = Field(ge=0, le=1)


@router.post("/api/router")
async def set_router(body: RouterIn, request: Request) -> dict[str, Any]:
    """Adjust the target cloud share for the running daemon (not written to the config file)."""
    services = services_of(request)
    services.settings.router.target_cloud_share = body.target_cloud_share
    return await router_state(request)
