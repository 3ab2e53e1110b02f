"""Health and the admin API the TUI uses: routing mode and model load/unload (also at llama.cpp server's
router-mode paths, ``POST /models/load`` / ``/models/unload``, which Open WebUI calls for a connection
whose provider type is llama.cpp)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from edgeroute import __version__
from edgeroute.errors import EdgerouteError, InvalidRequest
from edgeroute.server.app import services_of

router = APIRouter()
log = logging.getLogger("edgeroute.server")


@router.get("/health")
@router.head("/health", include_in_schema=False)  # uptime checks (`wget --spider`, `curl -I`) send HEAD
@router.get("/", include_in_schema=False)  # tools that probe a base URL's root to see if a server is up
@router.head("/", include_in_schema=False)
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


class ModelRef(BaseModel):
    model: str = Field(min_length=1, description="local/<name> or <name>")


def _local_name(model: str) -> str:
    """The local model a llama.cpp-style request names; ``auto`` and cloud models have nothing to load
    (Open WebUI offers to unload them too)."""
    if model == "auto" or model.startswith("cloud/"):
        raise InvalidRequest(
            f"{model} is not a local model: only local models load and unload", param="model"
        )
    return model.removeprefix("local/")


@router.post("/models/load", include_in_schema=False)  # llama.cpp compatibility, as the /models alias
async def load_model_llamacpp(body: ModelRef, request: Request) -> dict[str, bool]:
    await load_model(_local_name(body.model), request)
    return {"success": True}


@router.post("/models/unload", include_in_schema=False)
async def unload_model_llamacpp(body: ModelRef, request: Request) -> dict[str, bool]:
    await unload_model(_local_name(body.model), request)
    return {"success": True}


@router.get("/api/stats")
async def stats(request: Request, window: str = "today") -> dict[str, Any]:
    services = services_of(request)
    result: dict[str, Any] = await services.ledger.stats(window, budget=services.budget.snapshot())
    return result


@router.get("/api/requests")
async def recent_requests(
    request: Request,
    limit: int = 50,
    before_id: int | None = Query(None, ge=0, le=2**63 - 1),  # a row id: SQLite's integer range
    client: str | None = None,
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
        "threshold": services.router.base_threshold(),
        "scores": scores[-1000:],
    }


class RouterIn(BaseModel):
    model_config = ConfigDict(strict=True)  # "0.5" or true is a client bug, not a share

    target_cloud_share: float = Field(ge=0, le=1)


@router.post("/api/router")
async def set_router(body: RouterIn, request: Request) -> dict[str, Any]:
    """Adjust the target cloud share for the running daemon (not written to the config file)."""
    services = services_of(request)
    services.settings.router.target_cloud_share = body.target_cloud_share
    return await router_state(request)


BUCKETS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


@router.get("/api/timeseries")
async def timeseries(
    request: Request, window: str = "7d", bucket: Literal["minute", "hour", "day"] = "hour"
) -> dict[str, Any]:
    """Spend against would-have-spent per time bucket, for the dashboard's chart."""
    points = await services_of(request).ledger.timeseries(window, BUCKETS[bucket])
    return {"window": window, "bucket": bucket, "points": points}


class PullIn(BaseModel):
    model: str = Field(min_length=1)
    name: str | None = None


class _QueueProgress:
    """Download progress from the pull's worker thread, handed to the event loop as SSE events."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.loop, self.queue = loop, queue
        self.total: int | None = None
        self.last = 0.0

    def _put(self, event: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, event)

    def start(self, label: str, total: int | None, done: int) -> None:
        self.total = total
        self._put({"status": "downloading", "file": label, "bytes": done, "total": total})

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last >= 0.25:  # a few events a second is plenty for a progress bar
            self.last = now
            self._put({"status": "downloading", "bytes": done, "total": self.total})

    def finish(self) -> None:
        pass


@router.post("/api/pull")
async def pull(body: PullIn, request: Request) -> StreamingResponse:
    """Pull a model through the daemon (the TUI's Models tab): SSE progress, then ``done`` or ``error``.
    The model is served as soon as it is complete, without a restart."""
    from edgeroute.hub.catalog import load_catalog
    from edgeroute.hub.hfapi import HubClient
    from edgeroute.hub.pull import Puller
    from edgeroute.hub.store import ModelStore

    services = services_of(request)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    progress = _QueueProgress(loop, queue)
    puller = Puller(
        ModelStore(services.paths.models_dir),
        HubClient.from_environ(),
        load_catalog(),
        progress=progress,
        notes=lambda text: progress._put({"status": "note", "message": text}),
    )

    def run() -> None:
        try:
            result = puller.pull(body.model, name=body.name)
            services.engine.refresh()
            progress._put(
                {"status": "done", "name": result.model.manifest.name, "up_to_date": result.up_to_date}
            )
        except EdgerouteError as exc:
            progress._put({"status": "error", "message": exc.message})
        except Exception:
            log.exception("pull of %s failed", body.model)
            progress._put({"status": "error", "message": "the pull failed; see the daemon log"})

    task = loop.run_in_executor(None, run)  # keeps going if the client leaves: the file is resumable anyway

    async def events() -> AsyncIterator[bytes]:
        while True:
            event = await queue.get()
            yield b"data: " + json.dumps(event).encode() + b"\n\n"
            if event["status"] in ("done", "error"):
                await task
                return

    return StreamingResponse(events(), media_type="text/event-stream", headers={"cache-control": "no-cache"})
