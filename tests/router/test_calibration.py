"""Calibration: the share of premium calls lands within 3 points of the target, with the shipped
calibration on a task-balanced sample of the shared data, and with `edgeroute calibrate` on the user's own
traffic read from a real SQLite ledger."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeroute.chat import Message
from edgeroute.cli.main import cli
from edgeroute.config import RouterConfig
from edgeroute.ledger.schema import connect_writer, migrate
from edgeroute.router.calibrate import Calibration, base_thresholds, calibrate_from_scores, load_calibration
from edgeroute.router.dataset import read_outcomes
from edgeroute.router.decide import decide
from edgeroute.router.scorer import Scorer, load_artifact

from .conftest import chat, state

TARGETS = (0.1, 0.3, 0.5)


def balanced_sample(routing_data: Path, per_task: int, seed: int) -> list[list[Message]]:
    """The same number of prompts from every file (the reference mix weights tasks equally)."""
    rng = random.Random(seed)
    tables = [read_outcomes(path)[0] for path in sorted(routing_data.glob("*.jsonl"))]
    per_task = min(per_task, *(len(t) for t in tables))
    return [r.messages for rows in tables for r in rng.sample(rows, per_task)]


@pytest.fixture(scope="module")
def sample_scores(routing_data: Path) -> list[float]:
    """Scores of a task-balanced sample (~1,200 prompts) with the shipped artifact."""
    scorer = Scorer(load_artifact())
    return [r.score for r in scorer.score_batch(balanced_sample(routing_data, 400, seed=7))]


@pytest.fixture(scope="module")
def user_scores(routing_data: Path) -> list[float]:
    """A user whose traffic is all exam questions: 6,000 MMLU prompts."""
    rows, _ = read_outcomes(routing_data / "routellm_mmlu.jsonl")
    sample = random.Random(3).sample(rows, 6000)
    return [r.score for r in Scorer(load_artifact()).score_batch([r.messages for r in sample])]


def test_shipped_calibration_hits_the_target_share(sample_scores: list[float]) -> None:
    shipped = Calibration()
    for target in TARGETS:
        threshold = base_thresholds(shipped, target).premium
        share = sum(s >= threshold for s in sample_scores) / len(sample_scores)
        assert abs(share - target) <= 0.03, (target, share)


def test_decide_sends_the_target_share_to_premium(scorer: Scorer, routing_data: Path) -> None:
    batch = balanced_sample(routing_data, 100, seed=11)  # 400 prompts
    scores = scorer.score_batch(batch)
    cfg = RouterConfig(target_cloud_share=0.3)
    tiers = [decide(chat("x"), state(), cfg, scorer, score=s).tier for s in scores]
    assert abs(tiers.count("cloud") / len(tiers) - 0.3) <= 0.03 + 0.03  # 400 prompts: sampling error too


def test_user_calibration_from_own_traffic(user_scores: list[float]) -> None:
    # calibrate on half of the user's traffic, check the share on the other half
    fit, check = user_scores[::2], user_scores[1::2]
    calibration = calibrate_from_scores(fit)
    missed = 0
    for target in TARGETS:
        share = sum(s >= calibration.threshold_for_share(target) for s in check) / len(check)
        assert abs(share - target) <= 0.03, (target, share)
        shipped_share = sum(s >= Calibration().threshold_for_share(target) for s in check) / len(check)
        missed += abs(shipped_share - target) > 0.03
    assert missed  # one task's traffic is not the reference mix: calibrating is what fixed it


def test_two_thresholds_split_the_traffic(sample_scores: list[float]) -> None:
    calibration = calibrate_from_scores(sample_scores)
    th = base_thresholds(calibration, 0.2, 0.3)
    assert th.moderate is not None
    premium = sum(s >= th.premium for s in sample_scores) / len(sample_scores)
    cheap = sum(th.moderate <= s < th.premium for s in sample_scores) / len(sample_scores)
    assert abs(premium - 0.2) <= 0.03 and abs(cheap - 0.3) <= 0.03


def _ledger_with(path: Path, scores: list[float], age_s: float = 0.0) -> None:
    conn = connect_writer(path)
    migrate(conn)
    now = time.time() - age_s
    conn.executemany(
        "INSERT INTO requests (ts, request_id, endpoint, requested_model, tier, route_score, latency_ms, status)"
        " VALUES (?, ?, '/v1/chat/completions', 'auto', 'local', ?, 1.0, 200)",
        [(now, f"req_{i}", s) for i, s in enumerate(scores)],
    )
    conn.commit()
    conn.close()


def test_calibrate_command_reads_the_ledger(edgeroute_home: Path, sample_scores: list[float]) -> None:
    from edgeroute.paths import resolve_paths

    paths = resolve_paths()
    paths.data_dir.mkdir(parents=True)
    skewed = [min(1.0, s * 0.5) for s in sample_scores]  # this user's prompts are easier than the reference
    _ledger_with(paths.ledger_file, skewed)
    _ledger_with(paths.ledger_file, [0.99] * 500, age_s=90 * 86400)  # outside the 30-day window
    result = CliRunner().invoke(cli, ["calibrate"])
    assert result.exit_code == 0, result.output
    assert f"{len(skewed)} scores from the ledger" in result.output
    saved = load_calibration(paths.data_dir / "router-calibration.json")
    assert saved is not None and saved.source == "user" and saved.n == len(skewed)
    share = sum(s >= saved.threshold_for_share(0.3) for s in skewed) / len(skewed)
    assert abs(share - 0.3) <= 0.03
    line = next(x for x in result.output.splitlines() if x.startswith("premium threshold"))
    assert "(target 30%)" in line


def test_calibrate_refuses_too_little_traffic(edgeroute_home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["calibrate"])
    assert result.exit_code == 1 and "0 scored requests" in result.output
    scores = tmp_path / "route.jsonl"
    scores.write_text("".join(json.dumps({"id": i, "score": i / 100}) + "\n" for i in range(100)))
    result = CliRunner().invoke(cli, ["calibrate", "--from", str(scores), "--target", "0.25", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "premium threshold 0.742 -> 25.0% premium" in result.output and "dry run" in result.output
