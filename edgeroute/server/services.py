"""Every long-lived component the daemon holds, built once per app in the lifespan and injected into the
request handlers; tests build their own with real-but-local parts (a loopback fake cloud, a temp ledger,
an in-memory keyring)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeroute.chat import ChatRequest, CompletionRequest, RouteDecision
from edgeroute.server.gateway import Decider, Targets, resolve_model, simple_decide
from edgeroute.server.respond import Done, Outcome

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.dispatch import Dispatcher, OpenedStream
    from edgeroute.engine import LocalEngine
    from edgeroute.keys import KeyStore
    from edgeroute.paths import Paths
    from edgeroute.providers import CloudPool

log = logging.getLogger("edgeroute.server")


@dataclass
class Services:
    settings: Settings
    paths: Paths
    engine: LocalEngine
    keys: KeyStore
    cloud: CloudPool
    dispatcher: Dispatcher
    decide: Decider = simple_decide
    mode: str = ""  # runtime override from POST /api/mode; "" = the config's router.mode
    extras: dict[str, Any] = field(default_factory=dict)

    def targets(self) -> Targets:
        """Local models known to the engine and cloud models that have a key."""
        local = {m.name: m for m in self.engine.models()}
        cloud = {c.name: c for c in self.settings.cloud if self.keys.has_key(c)}
        return Targets(local=local, cloud=cloud)

    def effective_settings(self) -> Settings:
        if not self.mode or self.mode == self.settings.router.mode:
            return self.settings
        copy = self.settings.model_copy(deep=True)
        copy.router.mode = self.mode  # type: ignore[assignment]
        return copy

    async def open_chat(self, req: ChatRequest) -> tuple[RouteDecision, OpenedStream]:
        targets = self.targets()
        pinned = resolve_model(req.model, self._all_targets(targets))
        decision = self.decide(req, pinned, targets, self.effective_settings())
        opened = await self.dispatcher.open_stream(req, decision)
        return decision, opened

    def _all_targets(self, with_keys: Targets) -> Targets:
        """Pinning a cloud model without a key is not a 404: the dispatcher says which command to run."""
        return Targets(local=with_keys.local, cloud={c.name: c for c in self.settings.cloud})

    def accounting_hook(
        self, req: ChatRequest, decision: RouteDecision, opened: OpenedStream, endpoint: str
    ) -> Done:
        """The coroutine run when a chat request ends (before its last bytes are sent)."""

        async def done(outcome: Outcome) -> dict[str, Any] | None:
            status = (
                outcome.error.code if outcome.error else "ok" if outcome.finished else "client_disconnected"
            )
            log.info(
                "%s %s -> %s (%s) %s %.0fms",
                req.request_id,
                endpoint,
                opened.target,
                decision.reason,
                status,
                outcome.latency_ms,
            )
            return None

        return done

    def completion_hook(self, req: CompletionRequest, served: str, endpoint: str) -> Done:
        async def done(outcome: Outcome) -> dict[str, Any] | None:
            status = (
                outcome.error.code if outcome.error else "ok" if outcome.finished else "client_disconnected"
            )
            log.info("%s %s -> %s %s %.0fms", req.request_id, endpoint, served, status, outcome.latency_ms)
            return None

        return done

    @staticmethod
    def cost_headers(extra: dict[str, Any] | None) -> dict[str, str]:
        if not extra:
            return {}
        return {
            k: v
            for k, v in (
                ("x-edgeroute-cost-usd", extra.get("cost_usd")),
                ("x-edgeroute-saved-usd", extra.get("saved_usd")),
            )
            if v is not None
        }

    async def close(self) -> None:
        await self.cloud.aclose()
        await self.engine.close()


async def build_services(settings: Settings, paths: Paths, **overrides: Any) -> Services:
    """The production wiring; ``overrides`` replace single components (keys=..., engine=...)."""
    from edgeroute.dispatch import Dispatcher
    from edgeroute.engine import LocalEngine
    from edgeroute.keys import KeyStore
    from edgeroute.providers import CloudPool

    engine = overrides.pop("engine", None) or LocalEngine(settings, paths)
    await engine.start()
    keys = overrides.pop("keys", None) or KeyStore()
    cloud = overrides.pop("cloud", None) or CloudPool(settings)
    dispatcher = overrides.pop("dispatcher", None) or Dispatcher(settings, cloud, keys, engine)
    return Services(
        settings=settings,
        paths=paths,
        engine=engine,
        keys=keys,
        cloud=cloud,
        dispatcher=dispatcher,
        **overrides,
    )
