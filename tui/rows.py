"""The daemon's JSON as small typed records. Parsing is lenient about field names (``time``/``ts``,
``reason``/``route_reason``, ``score``/``route_score``) so a dashboard keeps working across daemon versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _first(data: dict[str, Any], *names: str) -> Any:
    for name in names:
        if data.get(name) is not None:
            return data[name]
    return None


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One step of a request's fallback trail."""

    target: str
    error: str | None
    status: int | None
    latency_ms: float | None
    message: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttemptView:
        status = data.get("status")
        return cls(
            target=str(data.get("target") or "?"),
            error=data.get("error"),
            status=int(status) if isinstance(status, int | float) else None,
            latency_ms=_float(data.get("latency_ms")),
            message=str(data.get("message") or ""),
        )


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One finished request, as ``/api/requests`` and ``/api/events`` describe it."""

    key: str
    time: float
    request_id: str
    client: str | None
    endpoint: str
    requested_model: str
    tier: str | None
    served_model: str | None
    reason: str
    score: float | None
    attempts: tuple[AttemptView, ...]
    prompt_tokens: int
    completion_tokens: int
    estimated: bool
    ttft_ms: float | None
    latency_ms: float | None
    status: str
    error: str | None
    cost_usd: float | None
    counterfactual_usd: float | None
    saved_usd: float | None
    # The router's threshold for this request (it adapts to load): a daemon may report none globally.
    threshold: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRow:
        request_id = str(data.get("request_id") or "")
        row_id = data.get("id")
        attempts = data.get("attempts") or []
        features = data.get("route_features")
        return cls(
            key=str(row_id) if row_id is not None else request_id,
            time=_float(_first(data, "time", "ts")) or 0.0,
            request_id=request_id,
            client=data.get("client"),
            endpoint=str(data.get("endpoint") or ""),
            requested_model=str(data.get("requested_model") or "?"),
            tier=data.get("tier"),
            served_model=data.get("served_model"),
            reason=str(_first(data, "reason", "route_reason") or ""),
            score=_float(_first(data, "score", "route_score")),
            attempts=tuple(AttemptView.from_json(a) for a in attempts if isinstance(a, dict)),
            prompt_tokens=_int(data.get("prompt_tokens")),
            completion_tokens=_int(data.get("completion_tokens")),
            estimated=bool(data.get("estimated")),
            ttft_ms=_float(data.get("ttft_ms")),
            latency_ms=_float(data.get("latency_ms")),
            status=str(data.get("status") if data.get("status") is not None else ""),
            error=data.get("error"),
            cost_usd=_float(data.get("cost_usd")),
            counterfactual_usd=_float(data.get("counterfactual_usd")),
            saved_usd=_float(data.get("saved_usd")),
            threshold=_float(features.get("threshold")) if isinstance(features, dict) else None,
        )

    @property
    def ok(self) -> bool:
        return self.error is None and not (self.status.isdigit() and int(self.status) >= 400)

    @property
    def fallbacks(self) -> tuple[AttemptView, ...]:
        return tuple(a for a in self.attempts if a.error is not None)


@dataclass(frozen=True, slots=True)
class LocalModel:
    """A local model as the Models tab shows it: ``/v1/models`` joined with ``/api/engine``."""

    name: str
    loaded: bool
    role: str | None
    context_length: int | None
    memory_mb: float | None = None
    size_mb: float | None = None  # the GGUF on disk
    keep_alive_left_s: float | None = None
    tokens_per_s: float | None = None
    queue_depth: int | None = None
    requests: int | None = None


def _mb(info: dict[str, Any], mb_key: str, *byte_keys: str) -> float | None:
    value = _float(info.get(mb_key))
    if value is not None:
        return value
    for key in byte_keys:
        raw = _float(info.get(key))
        if raw:
            return raw / 2**20
    return None


def _keep_alive(info: dict[str, Any]) -> float | None:
    if "keep_alive_left_s" in info:
        return _float(info["keep_alive_left_s"])
    if "keep_alive_left" in info:  # the engine's own shape: None means it never unloads
        left = _float(info["keep_alive_left"])
        return -1.0 if left is None else left
    return None


def _live(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "memory_mb": _mb(info, "memory_mb", "rss_bytes", "estimated_bytes"),
        "keep_alive_left_s": _keep_alive(info),
        "tokens_per_s": _float(_first(info, "tokens_per_s", "last_tokens_per_s")),
        "queue_depth": _int(_first(info, "queue_depth", "queued")),
        "requests": _int(_first(info, "requests", "requests_served")),
    }


def free_memory_mb(engine_doc: dict[str, Any] | None) -> float | None:
    return _mb(engine_doc or {}, "free_memory_mb", "free_memory_bytes")


def local_models(models_doc: dict[str, Any], engine_doc: dict[str, Any] | None) -> list[LocalModel]:
    """Every ``local/*`` entry of ``/v1/models``, with the engine's live numbers for the loaded ones.

    ``/api/engine`` may list loaded models as ``loaded`` (memory in MB) or ``models`` (the engine's own
    status, memory in bytes); both are read."""
    doc = engine_doc or {}
    entries = doc.get("loaded") or doc.get("models") or []
    live = {str(m.get("name")): m for m in entries if isinstance(m, dict)}
    out: list[LocalModel] = []
    for entry in models_doc.get("data", []):
        model_id = str(entry.get("id", ""))
        if not model_id.startswith("local/"):
            continue
        name = model_id.removeprefix("local/")
        info = live.get(name) or live.get(model_id)
        context = entry.get("context_length")
        numbers = _live(info) if info is not None else {}
        out.append(
            LocalModel(
                name=name,
                loaded=bool(entry.get("loaded")) or info is not None,
                role=entry.get("role"),
                context_length=int(context) if isinstance(context, int) else None,
                memory_mb=numbers.get("memory_mb"),
                size_mb=_mb(entry, "size_mb", "size_bytes"),
                keep_alive_left_s=numbers.get("keep_alive_left_s"),
                tokens_per_s=numbers.get("tokens_per_s"),
                queue_depth=numbers.get("queue_depth"),
                requests=numbers.get("requests"),
            )
        )
    return out


def dense_hours(points: list[dict[str, Any]], now: float, hours: int = 7 * 24) -> list[dict[str, Any]]:
    """``/api/timeseries`` lists only the hours that had requests; the chart needs every hour of the window,
    or a single busy hour is drawn as one dot in the middle of an empty plot instead of a step."""
    last = now // 3600 * 3600
    start = last - (hours - 1) * 3600
    by_hour: dict[float, dict[str, Any]] = {}
    for point in points:
        t = float(point.get("t") or 0.0)
        by_hour[t // 3600 * 3600] = point
    if by_hour:
        start, last = min(start, min(by_hour)), max(last, max(by_hour))
    count = int((last - start) // 3600) + 1
    return [
        by_hour.get(start + h * 3600)
        or {"t": start + h * 3600, "cost_usd": 0.0, "counterfactual_usd": 0.0, "requests": 0}
        for h in range(count)
    ]


def hourly_points(rows: list[RequestRow], now: float, hours: int = 7 * 24) -> list[dict[str, Any]]:
    """``/api/timeseries`` points rebuilt from the recent requests, for a daemon without that endpoint."""
    start = (now // 3600 - hours + 1) * 3600
    points: list[dict[str, Any]] = [
        {"t": start + h * 3600, "cost_usd": 0.0, "counterfactual_usd": 0.0, "requests": 0}
        for h in range(hours)
    ]
    for row in rows:
        index = int((row.time - start) // 3600)
        if 0 <= index < hours:
            point = points[index]
            point["requests"] += 1
            point["cost_usd"] += row.cost_usd or 0.0
            point["counterfactual_usd"] += row.counterfactual_usd or 0.0
    return points
