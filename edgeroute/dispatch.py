"""Fallback chains: try the routed target, then its fallbacks, until one produces a first event.

The chain is ``[decision.target]`` + ``decision.fallbacks`` (else the cloud target's configured
``fallbacks``, else ``router.default_fallbacks``). For each target the dispatcher pulls the FIRST event
before committing, so any failure up to the first token (HTTP error, timeout, 429, cut stream, crashed local
worker) moves on to the next target; after it, errors reach the client. Skipped without a request, each
with an :class:`~edgeroute.chat.Attempt` in the trail: cloud targets of a private request (they are never
contacted, not even as a fallback), providers without a key, endpoints cooling down or unreachable, and
cloud models whose ``context_window`` cannot hold the prompt. When the network is down and every cloud
target failed to connect, a request that may run locally gets the default local model. A cloud target
gets the request with its token limit capped at the model's ``max_output_tokens`` (:func:`capped_to`).

Every attempt is kept in order (the one that answered last, with ``error=None``); the server puts the
failures in ``x-edgeroute-fallbacks`` and the ledger stores them all. When everything fails:
:class:`~edgeroute.errors.AllTargetsFailed` naming every attempt (503 when all were merely unavailable, else
502), or the one actionable error when every attempt failed the same way (no key: which command to run;
a busy local model: ``local_busy`` with its Retry-After; a client error such as a chat request to an
embedding model: that 4xx).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import anyio

from edgeroute.chat import Attempt, ChatRequest, RouteDecision, StreamEvent
from edgeroute.errors import (
    AllTargetsFailed,
    ContextLengthExceeded,
    EdgerouteError,
    ModelNotFound,
    UpstreamError,
)
from edgeroute.keys import missing_key_error
from edgeroute.providers.base import close_stream
from edgeroute.providers.tokens import estimate_prompt_tokens

if TYPE_CHECKING:
    from edgeroute.config import CloudModelConfig, Settings
    from edgeroute.keys import KeyStore
    from edgeroute.providers.pool import CloudPool

log = logging.getLogger("edgeroute.dispatch")

Tier = Literal["local", "cloud"]
# Failures that mean "not usable right now" rather than "broken": all of them -> 503.
UNAVAILABLE = frozenset(
    {"private", "offline", "unreachable", "circuit_open", "upstream_unreachable", "upstream_rate_limited"}
    | {"local_busy", "insufficient_memory", "missing_api_key"}
)
# Failures that say the cloud cannot be reached at all (the offline rescue goes local after them).
NETWORK = frozenset({"offline", "unreachable", "upstream_unreachable"})
MIN_THINKING_BUDGET = 1024  # Anthropic's least thinking budget_tokens


class LocalChatBackend(Protocol):
    """What the dispatcher needs from the local engine. ``name`` is the local model's name without the
    ``local/`` prefix; failures raise :class:`~edgeroute.errors.EdgerouteError` (LocalModelCrashed...)."""

    def stream_chat(
        self, name: str, req: ChatRequest, *, want_stats: bool = False
    ) -> AsyncIterator[StreamEvent]: ...


@dataclass(slots=True)
class OpenedStream:
    """A target that produced its first event: ``events`` replays it, then the rest."""

    target: str
    tier: Tier
    events: AsyncIterator[StreamEvent]
    trail: list[Attempt] = field(default_factory=list)
    cloud_model: CloudModelConfig | None = None  # the config of a cloud target (prices, tier)
    first_event_ms: float = 0.0

    @property
    def failures(self) -> list[Attempt]:
        return [a for a in self.trail if a.error]

    def fallbacks_header(self) -> str:
        """The ``x-edgeroute-fallbacks`` value: failed attempts, in order ("" when none)."""
        return ", ".join(a.header_value() for a in self.failures)

    async def aclose(self) -> None:
        await close_stream(self.events)


def split_target(target: str) -> tuple[Tier, str] | None:
    tier, _, name = target.partition("/")
    if tier in ("local", "cloud") and name:
        return ("local" if tier == "local" else "cloud"), name
    return None


async def _replay(first: StreamEvent | None, rest: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
    try:
        if first is not None:
            yield first
        async for event in rest:
            yield event
    finally:
        await close_stream(rest)


async def _close_shielded(stream: AsyncIterator[StreamEvent]) -> None:
    """Close a stream even while the task is being cancelled (anyio scopes re-cancel every await)."""
    with anyio.CancelScope(shield=True):
        await close_stream(stream)


class _Skip(Exception):
    """A target passed over without a request."""

    def __init__(self, code: str, message: str, error: EdgerouteError | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.error = error


@dataclass(slots=True)
class _Walk:
    """One request's way down the chain: every attempt with the error behind it, retries marked."""

    trail: list[Attempt] = field(default_factory=list)
    errors: list[EdgerouteError | None] = field(default_factory=list)
    retries: list[bool] = field(default_factory=list)

    def add(self, attempt: Attempt, error: EdgerouteError | None, *, retry: bool = False) -> None:
        self.trail.append(attempt)
        self.errors.append(error)
        self.retries.append(retry)

    def final(self) -> list[tuple[Attempt, EdgerouteError | None]]:
        """Each target's last word (retries that led to another try left out)."""
        return [(a, e) for a, e, r in zip(self.trail, self.errors, self.retries, strict=True) if not r]


class Dispatcher:
    """Walks a request's fallback chain (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        cloud: CloudPool,
        keys: KeyStore,
        local: LocalChatBackend,
        *,
        offline_local: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.cloud = cloud
        self.keys = keys
        self.local = local
        self._offline_local = offline_local
        self._clock = clock

    # ---- the chain -------------------------------------------------------------------------------

    def cloud_model(self, name: str) -> CloudModelConfig | None:
        return next((m for m in self.settings.cloud if m.name == name), None)

    def chain(self, req: ChatRequest, decision: RouteDecision) -> list[str]:
        """The targets to try, in order: cloud ones dropped from the fallbacks of a private request or in
        local-only mode (a cloud *target* stays, to be skipped with a reason in the trail)."""
        fallbacks: list[str] = list(decision.fallbacks)
        if not fallbacks:
            parts = split_target(decision.target)
            model = self.cloud_model(parts[1]) if parts and parts[0] == "cloud" else None
            if model is not None and model.fallbacks is not None:
                fallbacks = list(model.fallbacks)
            else:
                fallbacks = list(self.settings.router.default_fallbacks)
        no_cloud = req.private or self.settings.router.mode == "local-only"
        out = [decision.target]
        for target in fallbacks:
            if target in out or (no_cloud and target.startswith("cloud/")):
                continue
            out.append(target)
        return out

    def _rescue_target(self, req: ChatRequest, chain: list[str], trail: list[Attempt]) -> str | None:
        """The local model for a request that may run locally once the cloud proved unreachable."""
        if any(t.startswith("local/") for t in chain) or self.settings.router.mode == "cloud-only":
            return None
        if req.route_hint == "cloud" or req.model.startswith("cloud/"):
            return None
        if not trail or any(a.error not in NETWORK for a in trail):
            return None
        if self._offline_local:
            return f"local/{self._offline_local}"
        chat = [m for m in self.settings.local if m.role in (None, "chat")]
        code = [m for m in self.settings.local if m.role == "code"]
        candidates = chat or code
        return f"local/{candidates[0].name}" if candidates else None

    # ---- opening -----------------------------------------------------------------------------------

    async def open_stream(self, req: ChatRequest, decision: RouteDecision) -> OpenedStream:
        """The first target of the chain that answers, with the trail of those that did not."""
        chain = self.chain(req, decision)
        walk = _Walk()
        index = 0
        while index < len(chain):
            target = chain[index]
            index += 1
            cascade = decision.cascade and index == 1 and index < len(chain)
            opened = await self._try(target, req, decision, walk, cascade=cascade)
            if opened is not None:
                return opened
            if index == len(chain):
                rescue = self._rescue_target(req, chain, walk.trail)
                if rescue is not None:
                    log.warning(
                        "the cloud is unreachable: answering %s locally with %s", req.request_id, rescue
                    )
                    chain.append(rescue)
            last = walk.trail[-1]
            log.warning(
                "fallback: %s failed (%s%s, %.0f ms); next: %s",
                target,
                last.error,
                f", HTTP {last.status}" if last.status else "",
                last.latency_ms,
                chain[index] if index < len(chain) else "none left",
            )
        raise self._all_failed(walk)

    async def _try(
        self,
        target: str,
        req: ChatRequest,
        decision: RouteDecision,
        walk: _Walk,
        *,
        cascade: bool = False,
    ) -> OpenedStream | None:
        """Open ``target`` and pull its first event. With ``cascade`` (a local first try that has a
        target to escalate to), the local answer is held back until its token confidence is judged; an
        unsure answer is closed and recorded as a ``cascade_escalated`` attempt, so the walk moves on."""
        parts = split_target(target)
        started = self._clock()
        model: CloudModelConfig | None = None
        try:
            if parts is None:
                raise _Skip("model_not_found", f"'{target}' is not a local/ or cloud/ target")
            tier, name = parts
            if tier == "cloud":
                model, stream = await self._open_cloud(name, target, req, walk)
            else:
                local_req = local_capped(req, self.settings.router.local_answer_room)
                stream = self.local.stream_chat(name, local_req, want_stats=cascade)
        except _Skip as skip:
            walk.add(Attempt(target, skip.code, message=skip.message), skip.error)
            return None
        try:
            if cascade:
                kept = await self._gate(stream, target, started, walk)
                if kept is None:
                    return None
                stream = kept
            first: StreamEvent | None = await anext(stream)
        except StopAsyncIteration:
            first = None
        except BaseException as exc:
            await _close_shielded(stream)
            if not isinstance(exc, Exception):
                raise  # cancelled (the client went away): the upstream connection is closed already
            self._record_failure(target, exc, started, walk)
            return None
        latency = self._ms(started)
        walk.add(Attempt(target, None, None, latency), None)
        return OpenedStream(target, tier, _replay(first, stream), walk.trail, model, latency)

    async def _gate(
        self, stream: AsyncIterator[StreamEvent], target: str, started: float, walk: _Walk
    ) -> AsyncIterator[StreamEvent] | None:
        from edgeroute.router.cascade import gate_stream

        gated = await gate_stream(stream, self.settings.router.cascade)
        if gated.verdict.escalate:
            walk.add(
                Attempt(target, "cascade_escalated", None, self._ms(started), gated.verdict.reason), None
            )
            log.info("cascade: %s was unsure (%s); escalating", target, gated.verdict.reason)
            return None
        return gated.events

    def _record_failure(self, target: str, exc: Exception, started: float, walk: _Walk) -> None:
        if isinstance(exc, EdgerouteError):
            status = exc.upstream_status if isinstance(exc, UpstreamError) else None
            message = exc.message.removeprefix(f"{target}: ")
            walk.add(Attempt(target, exc.code, status, self._ms(started), message), exc)
        else:  # a bug in a backend must not hide the next target; its class is enough
            walk.add(Attempt(target, "internal_error", None, self._ms(started), type(exc).__name__), None)

    async def _open_cloud(
        self,
        name: str,
        target: str,
        req: ChatRequest,
        walk: _Walk,
    ) -> tuple[CloudModelConfig, AsyncIterator[StreamEvent]]:
        model = self.cloud_model(name)
        if model is None:
            raise _Skip(
                "model_not_found", f"no [[cloud]] model named '{name}'", ModelNotFound(f"Unknown {target}")
            )
        if req.private:
            raise _Skip("private", "a private request never goes to a cloud target")
        key = await self.keys.aget(model)
        if key is None:
            error = missing_key_error(model, keyring_problem=not self.keys.has_backend)
            raise _Skip("missing_api_key", error.message, error)
        unavailable = self.cloud.unavailable(model)
        if unavailable is not None:
            busy = EdgerouteError(unavailable.message, retry_after=unavailable.retry_after)
            raise _Skip(unavailable.code, unavailable.message, busy)
        req = capped_to(model, req)
        if model.context_window:
            needed = estimate_prompt_tokens(req) + (req.max_tokens or 0)
            if needed > model.context_window:
                message = f"~{needed} tokens needed, context window is {model.context_window}"
                raise _Skip("context_length_exceeded", message, ContextLengthExceeded(message))
        retry_started = [self._clock()]

        def on_retry(exc: UpstreamError, wait: float) -> None:
            message = f"{exc.message.removeprefix(f'{target}: ')}; retrying in {wait:.1f}s"
            attempt = Attempt(target, exc.code, exc.upstream_status, self._ms(retry_started[0]), message)
            walk.add(attempt, exc, retry=True)
            retry_started[0] = self._clock() + wait

        return model, self.cloud.stream_chat(model, req, key, on_retry=on_retry)

    def _ms(self, since: float) -> float:
        return max(self._clock() - since, 0.0) * 1000.0

    # ---- when nothing answered ---------------------------------------------------------------------

    def _all_failed(self, walk: _Walk) -> EdgerouteError:
        final = walk.final()
        codes = {a.error for a, _ in final}
        exc: EdgerouteError
        errors = [e for _, e in final if e is not None]
        same = len(codes) == 1 and len(errors) == len(final) > 0
        if codes == {"context_length_exceeded"}:
            exc = ContextLengthExceeded(
                "The prompt fits no target: " + "; ".join(_describe(a) for a, _ in final), param="messages"
            )
        elif same and (
            codes <= {"missing_api_key", "local_busy"}
            or all(400 <= e.status < 500 and not isinstance(e, UpstreamError) for e in errors)
        ):
            # One actionable error: which command to run, a busy model with its Retry-After, or what is
            # wrong with the request itself (e.g. a chat request to an embedding model): not a 502.
            exc = errors[0]
        else:
            unavailable = bool(final) and codes <= UNAVAILABLE
            waits = [e.retry_after for _, e in final if e is not None and e.retry_after is not None]
            retried = Counter(a.target for a, retry in zip(walk.trail, walk.retries, strict=True) if retry)
            summary = "; ".join(_describe(a, retried[a.target]) for a, _ in final) or "no target to try"
            exc = AllTargetsFailed(
                f"All targets failed: {summary}",
                status=503 if unavailable else 502,
                retry_after=min(waits) if unavailable and waits else None,
            )
        exc.attempts = list(walk.trail)
        return exc


def capped_to(model: CloudModelConfig, req: ChatRequest) -> ChatRequest:
    """``req`` with its token limit lowered to the model's ``max_output_tokens`` (a larger one is a 400
    upstream: Claude Code asks every model for 32000, gpt-4o takes 16384), per target, so each fallback
    gets its own cap. No limit stays no limit (the provider's default). An Anthropic ``thinking`` budget,
    which must stay under the limit, shrinks with it, or goes when no valid budget (1024+) fits."""
    cap = model.max_output_tokens
    if cap is None or req.max_tokens is None or req.max_tokens <= cap:
        return req
    extra = req.extra
    thinking = extra.get("thinking")
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    if isinstance(thinking, dict) and isinstance(budget, int) and budget >= cap:
        extra = dict(extra)
        if cap - 1 >= MIN_THINKING_BUDGET:
            extra["thinking"] = {**thinking, "budget_tokens": cap - 1}
        else:
            del extra["thinking"]
    return dataclasses.replace(req, max_tokens=cap, extra=extra)


def local_capped(req: ChatRequest, room: int) -> ChatRequest:
    """``req`` with its token limit at most ``room`` (``router.local_answer_room``) for a local model. A
    client's ``max_tokens`` is a ceiling (Claude Code and opencode ask for 32000, Aider for none), and a
    small model that falls into a loop would otherwise write until its context is full: minutes of
    tokens. The answer that reaches the cap ends with ``length``."""
    if req.max_tokens is not None and req.max_tokens <= room:
        return req
    return dataclasses.replace(req, max_tokens=room)


def _describe(attempt: Attempt, retries: int = 0) -> str:
    """One target's last word for an error message (every try stays in the trail and the ledger)."""
    text = f"{attempt.target}: {attempt.error}"
    if attempt.status is not None:
        text += f" (HTTP {attempt.status})"
    if attempt.message:
        text += f" - {attempt.message}"
    if retries:
        text += f" (after {retries} {'retry' if retries == 1 else 'retries'})"
    return text
