"""Every long-lived component the daemon holds, built once per app in the lifespan and injected into the
request handlers; tests build their own with real-but-local parts (a loopback fake cloud, a temp ledger,
an in-memory keyring)."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from edgeroute.chat import Attempt, ChatRequest, CompletionRequest, RouteDecision, Usage
from edgeroute.errors import EdgerouteError, UnsupportedByModel
from edgeroute.providers.tokens import estimate_prompt_tokens, estimate_tokens
from edgeroute.server.gateway import Targets, resolve_model
from edgeroute.server.respond import Done, Outcome

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.dispatch import Dispatcher, OpenedStream
    from edgeroute.engine import LocalEngine
    from edgeroute.keys import KeyStore
    from edgeroute.ledger import BudgetGuard, Ledger, Metrics, PriceBook, RateLimiter
    from edgeroute.paths import Paths
    from edgeroute.providers import CloudPool
    from edgeroute.server.routing import DaemonRouter

log = logging.getLogger("edgeroute.server")


def _check_local_sampling(req: ChatRequest, decision: RouteDecision) -> None:
    """A sampling control a local target would refuse (``min_p: 2``) is the client's error: a 400 now,
    rather than a local failure that falls back to a paid cloud call carrying the same value."""
    from edgeroute.engine.sampling import logit_bias_of, sampling_options

    if any(target.startswith("local/") for target in (decision.target, *decision.fallbacks)):
        sampling_options(req.extra)
        logit_bias_of(req.extra)


def _noting_dropped_tools(req: ChatRequest, decision: RouteDecision, targets: Targets) -> RouteDecision:
    """A local model without tool support answers a request with tools in text (the engine leaves them
    out): the reason says so, so the ledger, the TUI and ``x-edgeroute-reason`` show why an agent got no
    tool call."""
    if not req.tools or decision.tier != "local":
        return decision
    model = targets.local.get(decision.target.removeprefix("local/"))
    if model is None or model.supports_tools:
        return decision
    return dataclasses.replace(decision, reason=f"{decision.reason} (tools left out)")


@dataclass
class Services:
    settings: Settings
    paths: Paths
    engine: LocalEngine
    keys: KeyStore
    cloud: CloudPool
    dispatcher: Dispatcher
    ledger: Ledger
    prices: PriceBook
    budget: BudgetGuard
    limiter: RateLimiter
    metrics: Metrics
    router: DaemonRouter
    extras: dict[str, Any] = field(default_factory=dict)

    def targets(self) -> Targets:
        """Local models known to the engine and cloud models that have a key."""
        local = self.engine.catalog()
        cloud = {c.name: c for c in self.settings.cloud if self.keys.has_key(c)}
        return Targets(local=local, cloud=cloud)

    async def open_chat(self, req: ChatRequest, endpoint: str) -> tuple[RouteDecision, OpenedStream]:
        """Admit, route and open one chat request; a refusal or total failure is still a ledger row."""
        started = time.perf_counter()
        decision: RouteDecision | None = None
        try:
            prompt_estimate = estimate_prompt_tokens(req)
            self.limiter.acquire(req.client, prompt_estimate + (req.max_tokens or 0))
            targets = self.targets()
            pinned = resolve_model(
                req.model, Targets(local=targets.local, cloud={c.name: c for c in self.settings.cloud})
            )
            try:
                decision = await self.router.decide(req, pinned, targets)
            except UnsupportedByModel as exc:
                raise self._explain_missing_keys(exc, targets) from None
            decision = self._within_budget(req, decision, targets, prompt_estimate)
            decision = _noting_dropped_tools(req, decision, targets)
            if decision.tier == "local" or decision.fallbacks:
                _check_local_sampling(req, decision)
            opened = await self.dispatcher.open_stream(req, decision)
        except EdgerouteError as exc:
            await self._record_failure(req, endpoint, decision, exc, (time.perf_counter() - started) * 1000)
            raise
        return decision, opened

    def _explain_missing_keys(self, exc: UnsupportedByModel, targets: Targets) -> UnsupportedByModel:
        """A request the cloud must serve, where the config has cloud models but none with a key: name
        them and the command that fixes it, rather than the router's generic advice."""
        keyless = [c for c in self.settings.cloud if c.name not in targets.cloud]
        if exc.code not in ("no_cloud_model", "no_model") or not keyless:
            return exc
        fixes = "; ".join(
            f"cloud/{c.name}: `edgeroute keys set {c.key_name}`"
            + (f" or set {c.key_env} in the daemon's environment" if c.key_env else "")
            for c in keyless
        )
        return UnsupportedByModel(f"No cloud model has a key. {fixes}.", code=exc.code)

    def _within_budget(
        self, req: ChatRequest, decision: RouteDecision, targets: Targets, prompt: int
    ) -> RouteDecision:
        if decision.tier != "cloud" or not self.budget.capped(req.client):
            return decision  # the estimate below prices the request: only worth it against a cap
        verdict = self.budget.check(
            req.client, self.prices.estimate(decision.target, prompt, req.max_tokens or 1024)
        )
        if verdict == "ok":
            return decision
        local = targets.default_local()
        if local is None:  # nowhere cheaper to go: the budget rule cannot be honoured locally
            return decision
        return RouteDecision(
            tier="local",
            target=f"local/{local}",
            reason=f"rule:budget-exceeded ({decision.reason})",
            score=decision.score,
        )

    async def _record_failure(
        self,
        req: ChatRequest,
        endpoint: str,
        decision: RouteDecision | None,
        exc: EdgerouteError,
        latency_ms: float,
    ) -> None:
        from edgeroute.ledger import LedgerRecord

        attempts: list[Attempt] = list(exc.attempts)
        # Refused or failed before a first token: no tokens were billed, so $0 (known), not "unknown".
        money = self.prices.account(tier=None, served_model=None, usage=Usage(0, 0))
        await self.ledger.record(
            LedgerRecord(
                request_id=req.request_id,
                endpoint=endpoint,
                requested_model=req.model,
                status=exc.status,
                latency_ms=latency_ms,
                client=req.client,
                route_reason=decision.reason if decision else None,
                route_score=decision.score if decision else None,
                attempts=attempts,
                error=exc.code,
                cost_usd=money.cost_usd,
                counterfactual_usd=money.counterfactual_usd,
                saved_usd=money.saved_usd,
                reference_model=money.reference,
                stream=req.stream,
                prompt_text=req.prompt_text(),
            )
        )

    def accounting_hook(
        self, req: ChatRequest, decision: RouteDecision, opened: OpenedStream, endpoint: str
    ) -> Done:
        """The coroutine run when a chat request ends, before its last bytes are sent."""

        async def done(outcome: Outcome) -> dict[str, Any]:
            return await self._account(
                request_id=req.request_id,
                endpoint=endpoint,
                requested=req.model,
                served=opened.target,
                client=req.client,
                decision=decision,
                attempts=opened.trail,
                outcome=outcome,
                stream=req.stream,
                prompt=req.prompt_text(),
            )

        return done

    def completion_hook(self, req: CompletionRequest, served: str, endpoint: str) -> Done:
        decision = RouteDecision(tier="local", target=served, reason="rule:completions-local")

        async def done(outcome: Outcome) -> dict[str, Any]:
            return await self._account(
                request_id=req.request_id,
                endpoint=endpoint,
                requested=req.model,
                served=served,
                client=req.client,
                decision=decision,
                attempts=[],
                outcome=outcome,
                stream=req.stream,
                prompt=req.prompt + (req.suffix or ""),
            )

        return done

    async def _account(
        self,
        *,
        request_id: str,
        endpoint: str,
        requested: str,
        served: str,
        client: str | None,
        decision: RouteDecision,
        attempts: list[Attempt],
        outcome: Outcome,
        stream: bool,
        prompt: str,
    ) -> dict[str, Any]:
        from edgeroute.ledger import LedgerRecord

        # No usage from the backend (the client left mid-stream, or it never reports any): estimated, with
        # what was streamed before, which the provider bills too.
        usage = outcome.usage or Usage(estimate_tokens(prompt), outcome.generated.tokens, estimated=True)
        tier: Literal["local", "cloud"] = "local" if served.startswith("local/") else "cloud"
        money = self.prices.account(
            tier=tier, served_model=served, usage=usage, seconds=outcome.latency_ms / 1000
        )
        error = outcome.error.code if outcome.error else None if outcome.finished else "client_disconnected"
        if outcome.error is not None:  # after the first token: no fallback, so the log must say it
            log.warning(
                "%s: %s failed mid-answer (%s): %s",
                request_id,
                served,
                outcome.error.code,
                outcome.error.message,
            )
        status = outcome.error.status if outcome.error else 200 if outcome.finished else 499
        await self.ledger.record(
            LedgerRecord(
                request_id=request_id,
                endpoint=endpoint,
                requested_model=requested,
                status=status,
                latency_ms=outcome.latency_ms,
                tier=tier,
                served_model=served,
                client=client,
                route_reason=decision.reason,
                route_score=decision.score,
                route_features=dict(decision.features),
                attempts=list(attempts),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cache_write_1h_tokens=usage.cache_write_1h_tokens,
                web_searches=usage.web_searches,
                estimated=usage.estimated,
                ttft_ms=outcome.ttft_ms,
                error=error,
                cost_usd=money.cost_usd,
                counterfactual_usd=money.counterfactual_usd,
                saved_usd=money.saved_usd,
                reference_model=money.reference,
                stream=stream,
                prompt_text=prompt,
            )
        )
        return {"cost_usd": money.cost_usd, "saved_usd": money.saved_usd}

    async def record_refused(
        self,
        *,
        request_id: str,
        endpoint: str,
        requested: str,
        client: str | None,
        exc: EdgerouteError,
        latency_ms: float,
        stream: bool = False,
        prompt: str | None = None,
    ) -> None:
        """A completions or embeddings request that failed before any output (unknown model, a busy
        local model...): a $0 row, as chat requests get from :meth:`open_chat`."""
        from edgeroute.ledger import LedgerRecord

        money = self.prices.account(tier=None, served_model=None, usage=Usage(0, 0))
        await self.ledger.record(
            LedgerRecord(
                request_id=request_id,
                endpoint=endpoint,
                requested_model=requested,
                status=exc.status,
                latency_ms=latency_ms,
                client=client,
                attempts=list(exc.attempts),
                error=exc.code,
                cost_usd=money.cost_usd,
                counterfactual_usd=money.counterfactual_usd,
                saved_usd=money.saved_usd,
                reference_model=money.reference,
                stream=stream,
                prompt_text=prompt,
            )
        )

    async def record_embedding(
        self, request_id: str, requested: str, served: str, client: str | None, tokens: int, latency_ms: float
    ) -> None:
        from edgeroute.ledger import LedgerRecord

        await self.ledger.record(
            LedgerRecord(
                request_id=request_id,
                endpoint="/v1/embeddings",
                requested_model=requested,
                status=200,
                latency_ms=latency_ms,
                tier="local",
                served_model=served,
                client=client,
                route_reason="rule:embeddings-local",
                prompt_tokens=tokens,
                cost_usd=0.0,
                counterfactual_usd=0.0,
                saved_usd=0.0,
            )
        )

    @staticmethod
    def cost_headers(extra: dict[str, Any] | None) -> dict[str, str]:
        from edgeroute.ledger import header_usd

        if extra is None:
            return {}
        return {
            "x-edgeroute-cost-usd": header_usd(extra.get("cost_usd")),
            "x-edgeroute-saved-usd": header_usd(extra.get("saved_usd")),
        }

    async def close(self) -> None:
        await self.cloud.aclose()
        await self.engine.close()
        await self.ledger.aclose()


async def build_services(settings: Settings, paths: Paths, **overrides: Any) -> Services:
    """The production wiring; ``overrides`` replace single components (keys=..., engine=..., clock=...)."""
    from edgeroute.dispatch import Dispatcher
    from edgeroute.engine import LocalEngine
    from edgeroute.keys import KeyStore
    from edgeroute.ledger import BudgetGuard, Ledger, Metrics, PriceBook, RateLimiter
    from edgeroute.paths import ensure_dir
    from edgeroute.providers import CloudPool

    ensure_dir(paths.data_dir)
    # One injectable wall clock for ledger timestamps, budget windows and rate-limit windows (tests).
    clock = overrides.pop("clock", None)
    engine = overrides.pop("engine", None) or LocalEngine(settings, paths)
    await engine.start()
    keys = overrides.pop("keys", None) or KeyStore()
    cloud = overrides.pop("cloud", None) or CloudPool(settings)
    dispatcher = overrides.pop("dispatcher", None) or Dispatcher(settings, cloud, keys, engine)
    ledger = overrides.pop("ledger", None) or Ledger.open(
        paths.ledger_file,
        clock=clock or time.time,
        log_prompts=settings.ledger.log_prompts,
        synchronous=settings.ledger.synchronous,
    )
    prices = PriceBook.from_settings(settings)
    budget = BudgetGuard.from_settings(settings, clock=clock or time.time)
    await budget.load(ledger)
    limiter = RateLimiter.from_settings(settings, clock=clock or time.monotonic)
    metrics = Metrics()
    for listener in (budget.add, limiter.observe, metrics.observe):
        ledger.add_listener(listener)
    metrics.track_engine(
        lambda: float(sum(m.queued + m.active for m in engine.status().models)),
        lambda: float(len(engine.status().models)),
    )
    from edgeroute.server.routing import DaemonRouter

    router = overrides.pop("router", None) or DaemonRouter(settings, paths, engine, cloud, budget)
    return Services(
        settings=settings,
        paths=paths,
        engine=engine,
        keys=keys,
        cloud=cloud,
        dispatcher=dispatcher,
        ledger=ledger,
        prices=prices,
        budget=budget,
        limiter=limiter,
        metrics=metrics,
        router=router,
        **overrides,
    )
