"""The decision pipeline: ``decide(request, state, config, scorer) -> RouteDecision``.

Order (first match wins, each with a named reason):

1. ``rule:private`` / ``rule:sensitive <kinds>``: the request stays on this machine, whatever else asks
   for the cloud (a pinned cloud model, a header, the mode); fallbacks are local only.
2. ``rule:pinned``, ``rule:header local|cloud``, ``rule:mode local-only|cloud-only``.
3. ``rule:context 9120>8192``: the prompt plus ``max_tokens`` fits no local model → a target that fits.
4. ``rule:tools`` / ``rule:images``: no local model supports them → cloud.
5. ``route:<name> <why>``: a task route from the config.
6. ``score 0.71>=0.58 (target 30%)``: the learned score against calibrated thresholds, shifted by
   ``adaptive:...`` terms; with a cheap cloud tier, two thresholds pick local / cheap / premium.

Any decision for the cloud then meets the budget: exhausted → ``rule:budget`` local, or a
``BudgetExceeded`` error when the config says reject.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from edgeroute.chat import ChatRequest, RouteDecision
from edgeroute.config import RouterConfig
from edgeroute.errors import BudgetExceeded, ContextLengthExceeded, InvalidRequest, UnsupportedByModel
from edgeroute.router.adaptive import adaptive_shifts, total_shift
from edgeroute.router.calibrate import Calibration, base_thresholds
from edgeroute.router.features import estimate_tokens, last_user_text
from edgeroute.router.routes import match_route
from edgeroute.router.scorer import Scorer, ScoreResult
from edgeroute.router.sensitive import ALL_KINDS, find_sensitive
from edgeroute.router.state import CloudTarget, LocalTarget, RouterState

DEFAULT_MAX_TOKENS = 512  # completion room assumed when a request does not say
BudgetAction = Literal["local", "reject"]


@dataclass(frozen=True, slots=True)
class _Need:
    prompt_tokens: int
    total_tokens: int  # prompt + max_tokens: what a cloud model's window must hold
    local_tokens: int  # prompt + the answer room a local model must leave (``local_answer_room``)


def _need(request: ChatRequest, config: RouterConfig) -> _Need:
    prompt = estimate_tokens(request.messages)
    answer = request.max_tokens or DEFAULT_MAX_TOKENS
    return _Need(prompt, prompt + answer, prompt + min(answer, config.local_answer_room))


def _pinned(request: ChatRequest, state: RouterState) -> str | None:
    if state.pinned:
        return state.pinned
    if request.model.startswith(("local/", "cloud/")):
        return request.model
    return None


def _local_fitting(
    state: RouterState, need: _Need, *, tools: bool = False, images: bool = False
) -> LocalTarget | None:
    """The first local model (preference order) that fits and supports what the request carries."""
    for t in state.local:
        if (
            t.n_ctx >= need.local_tokens
            and (t.supports_tools or not tools)
            and (t.supports_images or not images)
        ):
            return t
    return None


def _cloud_fitting(state: RouterState, need: _Need, prefer: str = "premium") -> CloudTarget | None:
    healthy = [c for c in state.cloud if c.healthy and (c.context_window or 1 << 30) >= need.total_tokens]
    for c in healthy:
        if c.tier == prefer:
            return c
    return healthy[0] if healthy else None


def _local_fallbacks(state: RouterState, chosen: str) -> list[str]:
    return [t.target for t in state.local if t.target != chosen]


def _fallbacks(names: list[str], state: RouterState, chosen: str) -> list[str]:
    """Configured fallbacks that are available now (unhealthy or keyless cloud targets dropped)."""
    out = []
    for name in names:
        target = state.find(name)
        if name != chosen and target is not None and (not isinstance(target, CloudTarget) or target.healthy):
            out.append(name)
    return out


def _keep_local(
    request: ChatRequest, state: RouterState, need: _Need, reason: str, pinned: str | None
) -> RouteDecision:
    """Rule 1: the request must not leave the machine."""
    mode = state.mode
    wants_cloud = (pinned or "").startswith("cloud/") or request.route_hint == "cloud" or mode == "cloud-only"
    if wants_cloud and request.private:
        raise InvalidRequest(
            "This request is marked private (x-edgeroute-private) but asks for a cloud model; "
            "a private request never leaves this machine.",
            code="private_request_cloud_target",
            param="model",
        )
    if wants_cloud:
        reason += " (cloud refused)"
    if pinned and pinned.startswith("local/") and state.find(pinned) is not None:
        target: LocalTarget | None = state.find(pinned)  # type: ignore[assignment]
    else:
        target = _local_fitting(state, need) or (state.local[0] if state.local else None)
    if target is None:
        raise UnsupportedByModel(
            "This request must stay on this machine, but no local chat model is available "
            "(add one with `edgeroute pull`).",
            code="no_local_model",
        )
    return RouteDecision(
        tier="local", target=target.target, reason=reason, fallbacks=_local_fallbacks(state, target.target)
    )


def _budget_gate(
    decision: RouteDecision, state: RouterState, need: _Need, action: BudgetAction
) -> RouteDecision:
    """Cloud decisions meet the budget last, whichever rule made them."""
    if decision.tier != "cloud" or state.budget_left_usd is None or state.budget_left_usd > 0:
        return decision
    if action == "reject":
        raise BudgetExceeded(
            "The cloud budget is exhausted; the request was rejected (budget.on_budget_exceeded)."
        )
    local = _local_fitting(state, need) or (state.local[0] if state.local else None)
    if local is None:
        raise BudgetExceeded("The cloud budget is exhausted and no local model is available.")
    return replace(
        decision,
        tier="local",
        target=local.target,
        reason=f"rule:budget exhausted ({decision.reason})",
        fallbacks=_local_fallbacks(state, local.target),
        cascade=False,
    )


def decide(
    request: ChatRequest,
    state: RouterState,
    config: RouterConfig,
    scorer: Scorer | None,
    *,
    calibration: Calibration | None = None,
    budget_action: BudgetAction = "local",
    score: ScoreResult | None = None,
) -> RouteDecision:
    """Route one request. Pure: everything it reads comes in as arguments (``score`` may be passed in
    when the caller scored a batch already). Raises ``InvalidRequest`` (private request pinned to the
    cloud), ``UnsupportedByModel`` (nowhere to run it), ``ContextLengthExceeded`` or ``BudgetExceeded``."""
    state = state if state.mode is not None else replace(state, mode=config.mode)
    need = _need(request, config)
    pinned = _pinned(request, state)

    # 1. private and sensitive prompts stay here
    if request.private:
        return _keep_local(request, state, need, "rule:private", pinned)
    if config.keep_sensitive_local:
        kinds = find_sensitive(request.prompt_text(), config.sensitive_kinds or ALL_KINDS)
        if kinds:
            return _keep_local(request, state, need, f"rule:sensitive {','.join(kinds)}", pinned)

    decision = _explicit(request, state, config, need, pinned)
    if decision is None:
        decision = _capability(request, state, need)
    if decision is None:
        decision = _routed_or_scored(request, state, config, scorer, calibration, need, score)
    return _budget_gate(decision, state, need, budget_action)


def _explicit(
    request: ChatRequest, state: RouterState, config: RouterConfig, need: _Need, pinned: str | None
) -> RouteDecision | None:
    """Rule 2: what the client or the user asked for outright."""
    if pinned:
        tier: Literal["local", "cloud"] = "local" if pinned.startswith("local/") else "cloud"
        fallbacks = _fallbacks(config.default_fallbacks, state, pinned)
        return RouteDecision(tier=tier, target=pinned, reason="rule:pinned", fallbacks=fallbacks)
    for asked, why in ((request.route_hint, "rule:header"), (state.mode, "rule:mode")):
        if asked in ("local", "local-only"):
            local = _local_fitting(state, need) or (state.local[0] if state.local else None)
            if local is None:
                raise UnsupportedByModel("No local chat model is available.", code="no_local_model")
            return RouteDecision(
                tier="local",
                target=local.target,
                reason=f"{why} {asked}",
                fallbacks=_local_fallbacks(state, local.target),
            )
        if asked in ("cloud", "cloud-only"):
            cloud = _cloud_fitting(state, need) or state.premium()
            if cloud is None:
                raise UnsupportedByModel(
                    "No cloud model with a key is available: add a [[cloud]] model to config.toml and "
                    "store its key with `edgeroute keys set NAME`.",
                    code="no_cloud_model",
                )
            return RouteDecision(
                tier="cloud",
                target=cloud.target,
                reason=f"{why} {asked}",
                fallbacks=_fallbacks(config.default_fallbacks, state, cloud.target),
            )
    return None


def _capability(request: ChatRequest, state: RouterState, need: _Need) -> RouteDecision | None:
    """Rules 3-4: the request does not fit, or needs tools or images no local model has."""
    if not state.local:
        cloud = _cloud_fitting(state, need)
        if cloud is None:
            raise UnsupportedByModel(
                "No model is available: no local model, no cloud model with a key.", code="no_model"
            )
        return RouteDecision(tier="cloud", target=cloud.target, reason="rule:no-local-model")
    if _local_fitting(state, need) is None:
        biggest = max(state.local, key=lambda t: t.n_ctx)
        why = f"rule:context {need.local_tokens}>{biggest.n_ctx}"
        cloud = _cloud_fitting(state, need)
        if cloud is None:
            room = need.local_tokens - need.prompt_tokens
            raise ContextLengthExceeded(
                f"The prompt (~{need.prompt_tokens} tokens) and {room} tokens of room for the answer do not "
                f"fit any available model (the largest context: {biggest.target}, {biggest.n_ctx} tokens). "
                "Shorten the conversation, or add a cloud model with a larger context.",
                param="messages",
            )
        return RouteDecision(tier="cloud", target=cloud.target, reason=why)
    if request.anthropic_tools():
        anthropic = [
            c
            for c in state.cloud
            if c.healthy and c.provider == "anthropic" and (c.context_window or 1 << 30) >= need.total_tokens
        ]
        if anthropic:  # else the other rules place it, and those tools are left out there
            chosen = next((c for c in anthropic if c.tier == "premium"), anthropic[0])
            return RouteDecision(tier="cloud", target=chosen.target, reason="rule:server-tools")
    tools, images = bool(request.tools), request.has_images()
    if (tools or images) and _local_fitting(state, need, tools=tools, images=images) is None:
        why = "rule:tools" if tools else "rule:images"
        capable = [
            c
            for c in state.cloud
            if c.healthy
            and (c.supports_tools or not tools)
            and (c.supports_images or not images)
            and (c.context_window or 1 << 30) >= need.total_tokens
        ]
        if capable:
            chosen = next((c for c in capable if c.tier == "premium"), capable[0])
            return RouteDecision(tier="cloud", target=chosen.target, reason=why)
        local = _local_fitting(state, need)
        assert local is not None
        return RouteDecision(tier="local", target=local.target, reason=f"{why} (no capable cloud target)")
    return None


def _routed_or_scored(
    request: ChatRequest,
    state: RouterState,
    config: RouterConfig,
    scorer: Scorer | None,
    calibration: Calibration | None,
    need: _Need,
    score: ScoreResult | None,
) -> RouteDecision:
    """Rules 5-6: a task route, else the score."""
    local = _local_fitting(state, need, tools=bool(request.tools), images=request.has_images())
    assert local is not None  # _capability ruled the other cases out
    cascade = config.cascade.enabled
    route_reason = ""
    match = match_route(config.routes, last_user_text(request.messages), state.task, need.prompt_tokens)
    if match is not None:
        route = match.route
        route_reason = f"route:{route.name} {match.why}"
        cascade = route.cascade
        if route.target != "auto":
            candidates = [route.target, *route.fallbacks]
            available = [c for c in candidates if _available(state, c)]
            if available:
                chosen = available[0]
                return RouteDecision(
                    tier="local" if chosen.startswith("local/") else "cloud",
                    target=chosen,
                    reason=route_reason
                    if chosen == route.target
                    else f"{route_reason} ({route.target} unavailable)",
                    fallbacks=available[1:],
                    cascade=cascade and chosen.startswith("local/"),
                )
            route_reason += f" ({route.target} unavailable)"

    premium = _cloud_fitting(state, need, "premium")
    if premium is None:
        reason = "rule:no-cloud-target" if not route_reason else f"{route_reason}; rule:no-cloud-target"
        return RouteDecision(
            tier="local", target=local.target, reason=reason, fallbacks=_local_fallbacks(state, local.target)
        )

    if score is None:
        if scorer is None:
            raise ValueError("decide() needs a scorer (or a precomputed score) to route on difficulty")
        score = scorer.score(request.messages)
    base = base_thresholds(
        calibration or Calibration(),
        config.target_cloud_share,
        config.moderate_share,
        config.threshold,
        config.moderate_threshold,
    )
    shifts = adaptive_shifts(state, config.adaptive)
    shift = total_shift(shifts, config.adaptive_max_shift)
    premium_thr = min(1.0, max(0.0, base.premium + shift))
    moderate_thr = None if base.moderate is None else min(premium_thr, max(0.0, base.moderate + shift))

    s = score.score
    target_txt = f"(target {config.target_cloud_share:.0%})"
    cheap = _cloud_fitting(state, need, "cheap")
    if s >= premium_thr:
        chosen_target, tier_name = premium.target, "premium"
        parts = [f"score {s:.2f}>={premium_thr:.2f} {target_txt}"]
    elif moderate_thr is not None and s >= moderate_thr and cheap is not None and cheap.tier == "cheap":
        chosen_target, tier_name = cheap.target, "cheap"
        parts = [f"score {s:.2f}>={moderate_thr:.2f} moderate (target {config.target_cloud_share:.0%})"]
    else:
        chosen_target, tier_name = local.target, "local"
        parts = [f"score {s:.2f}<{premium_thr:.2f} {target_txt}"]
    if route_reason:
        parts.insert(0, route_reason)
    parts += [sh.reason() for sh in shifts]
    if shifts and abs(shift) < abs(sum(sh.value for sh in shifts)):
        parts.append(f"adaptive:clamped {shift:+.2f}")
    if score.degraded:
        parts.append(f"degraded:{score.degraded}")
    features = dict(score.features)
    features.update({"p_gain": score.p_gain, "threshold": premium_thr, "shift": shift})
    if tier_name == "local":
        return RouteDecision(
            tier="local",
            target=chosen_target,
            reason="; ".join(parts),
            score=s,
            features=features,
            fallbacks=_fallbacks(config.default_fallbacks, state, chosen_target) or [premium.target],
            cascade=cascade,
        )
    return RouteDecision(
        tier="cloud",
        target=chosen_target,
        reason="; ".join(parts),
        score=s,
        features=features,
        fallbacks=_fallbacks(config.default_fallbacks, state, chosen_target),
    )


def _available(state: RouterState, name: str) -> bool:
    target = state.find(name)
    return target is not None and (not isinstance(target, CloudTarget) or target.healthy)
