"""The daemon's side of routing: builds a :class:`RouterState` per request from what the daemon holds
(engine registry, keys, provider health, budget, machine state), scores the prompt with the local
embedding model through the engine (crash-isolated, like every llama.cpp call in the daemon), and calls
the router's pure :func:`~edgeroute.router.decide.decide`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from edgeroute.chat import ChatRequest, RouteDecision
from edgeroute.errors import EdgerouteError
from edgeroute.server.gateway import Targets

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.engine import LocalEngine
    from edgeroute.ledger import BudgetGuard
    from edgeroute.paths import Paths
    from edgeroute.providers import CloudPool
    from edgeroute.router.scorer import ScoreResult
    from edgeroute.router.state import MachineState, RouterState

log = logging.getLogger("edgeroute.router")
MACHINE_TTL_S = 2.0  # psutil readings (battery reads /sys) are cached: they change slowly


class DaemonRouter:
    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        engine: LocalEngine,
        cloud: CloudPool,
        budget: BudgetGuard,
        *,
        clock: Callable[[], float] = time.monotonic,
        machine: Callable[[], MachineState] | None = None,
    ) -> None:
        from edgeroute.router.runtime import load_user_calibration
        from edgeroute.router.scorer import Scorer, load_artifact
        from edgeroute.router.state import read_machine_state

        self.settings = settings
        self.engine = engine
        self.cloud = cloud
        self.budget = budget
        self.scorer = Scorer(load_artifact(settings.router.model_file))  # embeddings come from the engine
        self.calibration = load_user_calibration(settings, paths)
        self._clock = clock
        self._read_machine = machine or read_machine_state
        self._machine: tuple[float, MachineState] | None = None

    def machine(self) -> MachineState:
        now = self._clock()
        if self._machine is None or now - self._machine[0] > MACHINE_TTL_S:
            self._machine = (now, self._read_machine())
        return self._machine[1]

    def state(self, req: ChatRequest, pinned: str | None, targets: Targets) -> RouterState:
        from edgeroute.router.state import CloudTarget, LocalTarget, RouterState

        local = tuple(
            LocalTarget(name=m.name, n_ctx=m.n_ctx, supports_tools=m.supports_tools)
            for m in targets.local.values()
            if not m.is_embedding
        )
        cloud = tuple(
            CloudTarget(
                name=c.name,
                tier=c.tier,
                context_window=c.context_window,
                supports_tools=c.supports_tools,
                supports_images=c.supports_images,
                healthy=self.cloud.unavailable(c) is None,
                provider=c.provider,
            )
            for c in targets.cloud.values()
        )
        queue = self.engine.queue_depth(local[0].name) if local else 0
        return RouterState(
            local=local,
            cloud=cloud,
            mode=self.settings.router.mode,
            queue_depth=queue,
            budget_left_usd=self.budget.left_usd(req.client),
            machine=self.machine(),
            pinned=pinned,
        )

    def _needs_score(self, req: ChatRequest, state: RouterState) -> bool:
        return (
            state.pinned is None
            and not req.private
            and req.route_hint is None
            and state.mode == "auto"
            and bool(state.local)
            and bool(state.cloud)
        )

    def _embedding_model(self, targets: Targets) -> str | None:
        wanted = self.settings.router.embedding_model
        if not self.settings.router.use_embedding:
            return None
        for name, m in targets.local.items():
            if m.is_embedding and (wanted is None or name == wanted):
                return str(name)
        return None

    async def score(self, req: ChatRequest, targets: Targets) -> ScoreResult:
        batch = [req.messages]
        embedder = self._embedding_model(targets)
        if embedder is None:
            why = "embedding-disabled" if not self.settings.router.use_embedding else "no-embedding"
            return self.scorer.score_with_vectors(batch, None, degraded=why)[0]
        try:
            result = await self.engine.embed(embedder, self.scorer.embedding_texts(batch))
        except EdgerouteError as exc:
            log.warning("routing without the embedding: %s (%s)", exc.code, embedder)
            return self.scorer.score_with_vectors(batch, None, degraded="embedding-failed")[0]
        return self.scorer.score_with_vectors(batch, result.vectors)[0]

    def base_threshold(self) -> float:
        """The premium threshold the score is held to now, before a request's adaptive shifts (each
        request's own is in its ledger row): what the TUI draws as the line between local and cloud."""
        from edgeroute.router.calibrate import Calibration, base_thresholds

        config = self.settings.router
        base = base_thresholds(
            self.calibration or Calibration(),
            config.target_cloud_share,
            config.moderate_share,
            config.threshold,
            config.moderate_threshold,
        )
        return min(1.0, max(0.0, base.premium))

    async def decide(self, req: ChatRequest, pinned: str | None, targets: Targets) -> RouteDecision:
        from edgeroute.router.decide import decide

        state = self.state(req, pinned, targets)
        score = await self.score(req, targets) if self._needs_score(req, state) else None
        return decide(
            req,
            state,
            self.settings.router,
            self.scorer,
            calibration=self.calibration,
            budget_action=self.settings.budget.on_budget_exceeded,
            score=score,
        )
