"""Score → tier by two thresholds, task routes, and adaptive threshold shifts from an injected state."""

from __future__ import annotations

from edgeroute.config import AdaptiveConfig, RouterConfig, TaskRouteConfig
from edgeroute.router.adaptive import adaptive_shifts, total_shift
from edgeroute.router.decide import decide
from edgeroute.router.scorer import Scorer, ScoreResult
from edgeroute.router.state import CloudTarget, LocalTarget, MachineState

from .conftest import chat, state

THREE_TIERS = state(
    local=(LocalTarget("gemma"),),
    cloud=(CloudTarget("mini", tier="cheap"), CloudTarget("gpt", tier="premium")),
)


def scored(value: float) -> ScoreResult:
    return ScoreResult(score=value, p_gain=0.3, features={})


def test_two_thresholds_map_the_score_to_three_tiers(scorer: Scorer) -> None:
    cfg = RouterConfig(target_cloud_share=0.2, moderate_share=0.3)  # premium >= 0.8, cheap >= 0.5
    cases = {0.1: "local/gemma", 0.49: "local/gemma", 0.5: "cloud/mini", 0.79: "cloud/mini", 0.8: "cloud/gpt"}
    for value, target in cases.items():
        d = decide(chat("q"), THREE_TIERS, cfg, scorer, score=scored(value))
        assert d.target == target, (value, d.reason)
        assert d.score == value
    d = decide(chat("q"), THREE_TIERS, cfg, scorer, score=scored(0.85))
    assert d.reason == "score 0.85>=0.80 (target 20%)"
    d = decide(chat("q"), THREE_TIERS, cfg, scorer, score=scored(0.6))
    assert d.reason == "score 0.60>=0.50 moderate (target 20%)"
    d = decide(chat("q"), THREE_TIERS, cfg, scorer, score=scored(0.3))
    assert d.reason == "score 0.30<0.80 (target 20%)" and d.tier == "local"


def test_without_a_cheap_target_the_middle_goes_local(scorer: Scorer) -> None:
    cfg = RouterConfig(target_cloud_share=0.2, moderate_share=0.3)
    d = decide(chat("q"), state(), cfg, scorer, score=scored(0.6))
    assert d.target == "local/gemma"


def test_fixed_thresholds_win(scorer: Scorer) -> None:
    cfg = RouterConfig(threshold=0.9, moderate_threshold=0.4)
    assert decide(chat("q"), THREE_TIERS, cfg, scorer, score=scored(0.85)).target == "cloud/mini"
    assert decide(chat("q"), THREE_TIERS, cfg, scorer, score=scored(0.95)).target == "cloud/gpt"


def test_adaptive_shifts_from_an_injected_machine_state(scorer: Scorer) -> None:
    cfg = RouterConfig(target_cloud_share=0.3)  # threshold 0.70
    battery = state(machine=MachineState(on_battery=True))
    d = decide(chat("q"), battery, cfg, scorer, score=scored(0.67))
    assert d.tier == "cloud"
    assert d.reason == "score 0.67>=0.65 (target 30%); adaptive:on-battery -0.05"
    assert d.features["shift"] == -0.05
    busy = state(machine=MachineState(cpu_load=0.97, free_mem_mb=300.0), queue_depth=3)
    d = decide(chat("q"), busy, cfg, scorer, score=scored(0.61))
    assert "adaptive:cpu 97% -0.05" in d.reason
    assert "adaptive:low-memory 300MB -0.05" in d.reason
    assert "adaptive:queue 3 -0.06" in d.reason
    assert "adaptive:clamped -0.10" in d.reason  # -0.16 clamped to adaptive_max_shift
    assert d.reason.startswith("score 0.61>=0.60")
    calm = state(machine=MachineState(on_battery=False, cpu_load=0.2, free_mem_mb=8000.0))
    d = decide(chat("q"), calm, cfg, scorer, score=scored(0.67))
    assert d.tier == "local" and "adaptive" not in d.reason


def test_budget_burn_and_provider_health_raise_the_threshold(scorer: Scorer) -> None:
    cfg = RouterConfig(target_cloud_share=0.3)
    burning = state(budget_burn=1.5, budget_left_usd=2.0)
    d = decide(chat("q"), burning, cfg, scorer, score=scored(0.72))
    assert d.tier == "local" and "adaptive:budget-burn x1.5 +0.05" in d.reason
    down = state(cloud=(CloudTarget("gpt", healthy=False), CloudTarget("mini", tier="cheap")))
    shifts = adaptive_shifts(down, AdaptiveConfig())
    assert [s.name for s in shifts] == ["premium-unhealthy"]
    d = decide(chat("q"), down, cfg, scorer, score=scored(0.75))
    assert d.tier == "local" and "adaptive:premium-unhealthy +0.10" in d.reason
    d = decide(chat("q"), down, cfg, scorer, score=scored(0.85))
    assert d.target == "cloud/mini"  # the only healthy cloud target


def test_shift_bounds() -> None:
    cfg = AdaptiveConfig()
    st = state(machine=MachineState(on_battery=True, cpu_load=1.0, free_mem_mb=10.0), queue_depth=10)
    shifts = adaptive_shifts(st, cfg)
    assert total_shift(shifts, 0.1) == -0.1
    assert total_shift(shifts, 0.0) == 0.0


def test_task_routes(scorer: Scorer) -> None:
    routes = [
        TaskRouteConfig(name="sql", keywords=["sql"], target="cloud/gpt", max_input_tokens=1000),
        TaskRouteConfig(name="summaries", task="summarize", target="local/gemma"),
        TaskRouteConfig(
            name="proofs", regex=r"(?i)\bprove\b", target="cloud/missing", fallbacks=["cloud/gpt"]
        ),
        TaskRouteConfig(name="chat", keywords=["hello"], target="auto", cascade=True),
    ]
    cfg = RouterConfig(routes=routes)
    d = decide(chat("write SQL for the top 10 customers"), state(), cfg, scorer)
    assert (d.target, d.reason) == ("cloud/gpt", "route:sql keyword=sql")
    d = decide(chat("mysqldump flags?"), state(), cfg, scorer)
    assert not d.reason.startswith("route:sql")  # whole words only
    d = decide(chat("write SQL " + "x " * 5000), state(), cfg, scorer)
    assert not d.reason.startswith("route:sql")  # over max_input_tokens
    d = decide(chat("anything"), state(task="summarize"), cfg, scorer)
    assert (d.target, d.reason) == ("local/gemma", "route:summaries task=summarize")
    d = decide(chat("Prove that sqrt 2 is irrational"), state(), cfg, scorer)
    assert d.target == "cloud/gpt" and d.reason == "route:proofs regex (cloud/missing unavailable)"
    d = decide(chat("hello there"), state(), cfg, scorer, score=scored(0.1))
    assert d.reason.startswith("route:chat keyword=hello; score 0.10<0.70")
    assert d.tier == "local" and d.cascade
    d = decide(chat("hello there"), state(), cfg, scorer, score=scored(0.9))
    assert d.tier == "cloud" and not d.cascade


def test_degraded_scorer_says_so(scorer: Scorer) -> None:
    d = decide(chat("Explain quantum entanglement in detail."), state(), RouterConfig(), scorer)
    assert d.score is not None and 0.0 <= d.score <= 1.0
    assert d.reason.endswith("degraded:no-embedding")
    assert "p_gain" in d.features and "log_chars" in d.features


def test_embedder_failure_degrades_instead_of_failing() -> None:
    from edgeroute.router.scorer import load_artifact

    def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("worker died")

    s = Scorer(load_artifact(), broken)
    d = decide(chat("hello"), state(), RouterConfig(), s)
    assert d.reason.endswith("degraded:embedding-failed")
