"""The router: hard rules, task routes, a learned difficulty score, calibrated thresholds, tiers, adaptive
shifts and the local-first cascade. ``decide(request, state, config, scorer) -> RouteDecision``.

Nothing here imports numpy or llama.cpp at import time; the scorer and the embedder load them when used.
"""

from edgeroute.router.calibrate import Calibration, calibrate_from_scores, load_calibration
from edgeroute.router.cascade import CascadeVerdict, GatedStream, StreamCascade, gate_stream, judge
from edgeroute.router.decide import decide
from edgeroute.router.scorer import RouterArtifact, Scorer, ScoreResult, load_artifact
from edgeroute.router.sensitive import find_sensitive
from edgeroute.router.state import CloudTarget, LocalTarget, MachineState, RouterState, read_machine_state

__all__ = [
    "Calibration",
    "CascadeVerdict",
    "CloudTarget",
    "GatedStream",
    "LocalTarget",
    "MachineState",
    "RouterArtifact",
    "RouterState",
    "ScoreResult",
    "Scorer",
    "StreamCascade",
    "calibrate_from_scores",
    "decide",
    "find_sensitive",
    "gate_stream",
    "judge",
    "load_artifact",
    "load_calibration",
    "read_machine_state",
]
