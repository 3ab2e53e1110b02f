"""Health and the admin API the TUI uses: routing mode and model load/unload."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

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
        "mode": services.mode or services.settings.router.mode,
        "loaded_models": [m.name for m in status.loaded],
    }


def _pid() -> int:
    import os

    return os.getpid()


class ModeIn(BaseModel):
    mode: Literal["auto", "local-only", "cloud-only"]


@router.post("/api/mode")
async def set_mode(body: ModeIn, request: Request) -> dict[str, str]:
    """Switch the routing mode for the running daemon (not written to the config file)."""
    services_of(request).mode = body.mode
    return {"mode": body.mode}


@router.get("/api/mode")
async def get_mode(request: Request) -> dict[str, str]:
    services = services_of(request)
    return {"mode": services.mode or services.settings.router.mode}


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
