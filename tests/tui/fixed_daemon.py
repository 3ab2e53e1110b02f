"""A real loopback HTTP server that answers the daemon's admin API with a fixed data set.

It is a fake of the daemon (something outside the TUI), not a mock of the TUI's own code: the dashboard's
real ApiClient, SSE parsing and reconnect loop run against real sockets. Snapshot tests use it because the
numbers never change; the live-daemon tests use the real ``edgeroute serve``.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from collections.abc import Iterator
from copy import deepcopy
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

# Thu 2026-01-01 13:00:00 UTC; tests run with TZ=UTC so clock times on screen are fixed too.
NOW = 1_767_272_400.0
HOUR = 3600.0


def make_row(i: int, **over: Any) -> dict[str, Any]:
    """A ledger row in the /api/requests shape."""
    local = i % 3 != 0
    row: dict[str, Any] = {
        "id": i,
        "time": NOW - 60.0 * (10 - i),
        "request_id": f"req-{i:04d}",
        "client": "cursor" if i % 2 else "aider",
        "endpoint": "/v1/chat/completions",
        "requested_model": "auto",
        "tier": "local" if local else "cloud",
        "served_model": "local/gemma3-270m" if local else "cloud/gpt-4o",
        "reason": "score 0.21<0.58 (target 30%)" if local else "score 0.83>=0.58 (target 30%)",
        "score": 0.21 if local else 0.83,
        "attempts": [
            {
                "target": "local/gemma3-270m" if local else "cloud/gpt-4o",
                "error": None,
                "status": None if local else 200,
                "latency_ms": 420.0 + i,
                "message": "",
            }
        ],
        "prompt_tokens": 100 + i,
        "completion_tokens": 20 + i,
        "estimated": False,
        "ttft_ms": 80.0,
        "latency_ms": 420.0 + i,
        "status": 200,
        "cost_usd": 0.0 if local else 0.0125,
        "counterfactual_usd": 0.0125,
        "saved_usd": 0.0125 if local else 0.0,
    }
    row.update(over)
    return row


def fixed_rows() -> list[dict[str, Any]]:
    rows = [make_row(i) for i in range(1, 9)]
    rows.append(
        make_row(
            9,
            tier="local",
            served_model="local/gemma3-270m",
            reason="fallback after cloud/gpt-4o upstream_timeout",
            score=0.77,
            attempts=[
                {
                    "target": "cloud/gpt-4o",
                    "error": "upstream_timeout",
                    "status": None,
                    "latency_ms": 30000.0,
                    "message": "no response within 30s",
                },
                {
                    "target": "local/gemma3-270m",
                    "error": None,
                    "status": None,
                    "latency_ms": 610.0,
                    "message": "",
                },
            ],
            cost_usd=0.0,
            saved_usd=0.0125,
        )
    )
    rows.append(make_row(10, cost_usd=None, counterfactual_usd=None, saved_usd=None, client=None))
    return sorted(rows, key=lambda r: r["time"], reverse=True)


def _stats(window: str, requests: int, local: int, cost: float, would: float) -> dict[str, Any]:
    saved = round(would - cost, 6)
    return {
        "window": window,
        "requests": requests,
        "local_requests": local,
        "cloud_requests": requests - local,
        "errors": 0,
        "local_share": round(local / requests, 4),
        "cost_usd": cost,
        "counterfactual_usd": would,
        "saved_usd": saved,
        "saved_pct": round(100 * saved / would, 2),
        "unknown_cost_requests": 0,
        "unknown_counterfactual_requests": 0,
        "tokens": {"prompt": 1042 * requests, "completion": 215 * requests},
        "latency_ms": {"p50": 431.0, "p95": 1240.0, "p99": 2900.0},
        "by_tier": {},
        "by_model": {},
        "by_client": {},
        "budget": {
            "on_exceeded": "local",
            "daily": {
                "limit": 5.0,
                "spent": cost,
                "left": round(5.0 - cost, 6),
                "resets_at": "2026-01-02T00:00:00+00:00",
            },
            "monthly": {"limit": None, "spent": cost, "left": None, "resets_at": "2026-02-01T00:00:00+00:00"},
        },
    }


STATS = {
    "today": _stats("today", 10, 7, 0.0375, 0.125),
    "7d": _stats("7d", 412, 301, 1.3875, 5.15),
    "30d": _stats("30d", 1630, 1201, 5.3625, 20.375),
    "all": _stats("all", 2048, 1523, 6.5625, 25.6),
}


def timeseries() -> list[dict[str, Any]]:
    start = NOW - 7 * 24 * HOUR
    points = []
    for h in range(7 * 24):
        busy = 9 <= (h % 24) <= 18
        n = (h * 7 % 5 + 1) if busy else 0
        points.append(
            {
                "t": start + h * HOUR,
                "cost_usd": round(n * 0.0034, 6),
                "counterfactual_usd": round(n * 0.0125, 6),
                "requests": n,
            }
        )
    return points


SCORES = [round((i * 37 % 100) / 100, 2) for i in range(120)]
MODELS = {
    "object": "list",
    "data": [
        {"id": "auto", "object": "model"},
        {
            "id": "local/gemma3-270m",
            "object": "model",
            "loaded": True,
            "role": "chat",
            "context_length": 32768,
            "size_bytes": 253000000,
        },
        {
            "id": "local/qwen2.5-coder-0.5b",
            "object": "model",
            "loaded": False,
            "role": "code",
            "context_length": 32768,
            "size_bytes": 398000000,
        },
        {
            "id": "local/all-minilm",
            "object": "model",
            "loaded": False,
            "role": "embed",
            "context_length": 512,
            "size_bytes": 24000000,
        },
        {"id": "cloud/gpt-4o", "object": "model", "loaded": None, "role": None},
    ],
}
ENGINE = {
    "loaded": [
        {
            "name": "gemma3-270m",
            "memory_mb": 312.0,
            "keep_alive_left_s": 245.0,
            "queue_depth": 0,
            "tokens_per_s": 96.4,
            "requests": 42,
        }
    ],
    "free_memory_mb": 18432.0,
}


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


class FixedDaemon:
    """Start with ``with FixedDaemon() as d:``; ``d.url`` is its address, ``d.publish(row)`` sends an event,
    ``d.posts`` records every POST body, ``d.stop()`` / ``d.start()`` simulate a restart on the same port."""

    def __init__(self, token: str | None = None, port: int = 0) -> None:
        self.token = token
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = HTTPServer(host="127.0.0.1", port=port, threaded=True)
        self.lock = threading.Lock()
        self.rows = fixed_rows()
        self.mode = "auto"
        self.share = 0.3
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.override: dict[str, Any] = {}  # path -> JSON to answer instead (a confused daemon)
        self.seen: list[tuple[str, dict[str, str]]] = []
        self._subscribers: list[queue.Queue[dict[str, Any] | None]] = []
        self._closing = threading.Event()
        self.server.expect_request(re.compile(r"^/")).respond_with_handler(self._handle)

    # ---- control -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def start(self) -> None:
        self._closing.clear()
        self.server.start()

    def stop(self) -> None:
        self._closing.set()
        with self.lock:
            for sub in self._subscribers:
                sub.put(None)
        self.server.stop()

    def __enter__(self) -> FixedDaemon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server.is_running():
            self.stop()

    def publish(self, row: dict[str, Any]) -> None:
        with self.lock:
            self.rows.insert(0, row)
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub.put(row)

    def subscriber_count(self) -> int:
        with self.lock:
            return len(self._subscribers)

    # ---- the API -------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        headers = dict(request.headers)
        self.seen.append((request.path, headers))
        authorized = request.headers.get("Authorization") == f"Bearer {self.token}"
        if self.token is not None and request.path != "/health" and not authorized:
            return self._json(
                {"error": {"message": "Missing or invalid API token", "code": "invalid_api_key"}}, 401
            )
        body: dict[str, Any] = {}
        if request.method == "POST":
            body = json.loads(request.get_data() or b"{}")
            with self.lock:
                self.posts.append((request.path, body))
        path = request.path
        if path in self.override:
            return self._json(self.override[path])
        if path == "/health":
            return self._json(
                {
                    "status": "ok",
                    "version": "0.1.0",
                    "pid": 4242,
                    "uptime_s": 3600.0,
                    "mode": self.mode,
                    "loaded_models": ["gemma3-270m"],
                }
            )
        if path == "/api/stats":
            return self._json(STATS[request.args.get("window", "today")])
        if path == "/api/requests":
            limit = int(request.args.get("limit", "50"))
            with self.lock:
                return self._json({"requests": deepcopy(self.rows[:limit])})
        if path == "/api/timeseries":
            return self._json({"points": timeseries()})
        if path == "/api/mode":
            if request.method == "POST":
                self.mode = body["mode"]
            return self._json({"mode": self.mode})
        if path == "/api/router":
            if request.method == "POST":
                self.share = float(body["target_cloud_share"])
            return self._json(
                {"mode": self.mode, "target_cloud_share": self.share, "threshold": 0.58, "scores": SCORES}
            )
        if path == "/v1/models":
            return self._json(MODELS)
        if path == "/api/engine":
            return self._json(ENGINE)
        if path.startswith("/api/models/") and request.method == "POST":
            name, action = path.removeprefix("/api/models/").rsplit("/", 1)
            return self._json({"name": name, "loaded": action == "load"})
        if path == "/api/pull":
            return Response(self._pull(body.get("model", "")), mimetype="text/event-stream")
        if path == "/api/events":
            return Response(self._events(), mimetype="text/event-stream")
        return self._json({"error": {"message": f"no route {path}", "code": "not_found"}}, 404)

    @staticmethod
    def _json(doc: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(doc), status=status, mimetype="application/json")

    def _pull(self, model: str) -> Iterator[str]:
        if model == "no-such-model":
            yield _sse({"status": "error", "message": "no-such-model is not in the catalog"})
            return
        total = 4 * 2**20
        for i in range(5):
            yield _sse({"status": "downloading", "bytes": i * total // 4, "total": total})
        yield _sse({"status": "done", "name": model})

    def _events(self) -> Iterator[str]:
        sub: queue.Queue[dict[str, Any] | None] = queue.Queue()
        with self.lock:
            self._subscribers.append(sub)
        try:
            yield ": connected\n\n"
            while not self._closing.is_set():
                try:
                    item = sub.get(timeout=0.2)
                except queue.Empty:
                    continue
                if item is None:
                    return
                yield _sse(item)
        finally:
            with self.lock:
                self._subscribers.remove(sub)
