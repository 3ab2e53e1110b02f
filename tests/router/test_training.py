"""Training and leave-one-task-out evaluation on a small slice of the shared data (cheap features only)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from edgeroute.chat import Message
from edgeroute.router.evaluation import format_table, loto
from edgeroute.router.scorer import Scorer, load_artifact
from edgeroute.router.training import load_training_tasks

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_data(routing_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 rows of each shared file, in files of the same names."""
    out = tmp_path_factory.mktemp("routing-slice")
    rng = random.Random(2)
    for path in sorted(routing_data.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        (out / path.name).write_text(
            "\n".join(rng.sample(lines, min(200, len(lines)))) + "\n", encoding="utf-8"
        )
    return out


def test_loto_table_on_a_slice(small_data: Path) -> None:
    tasks = load_training_tasks(small_data)
    assert [t.name for t in tasks] == ["arc_challenge", "mbpp", "mmlu", "winogrande"]
    rows = loto(tasks)
    assert [r.task for r in rows] == [t.name for t in tasks]
    for r in rows:
        assert r.n <= 200 and 0.0 < r.router.apgr < 1.5
        assert abs(r.random.apgr - 0.5) < 0.05
    table = format_table(rows, "slice")
    assert "| **mean** |" in table and table.count("\n| ") >= 6


def test_train_script_writes_a_loadable_artifact(small_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "router.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "train_router.py"),
            "--data",
            str(small_data),
            "--out",
            str(out),
            "--no-embedding",
        ],
        check=True,
        capture_output=True,
    )
    artifact = load_artifact(out)
    assert artifact.full is None and len(artifact.cheap.reference) == 101
    assert artifact.meta["trained_on"]["mmlu"] <= 200
    scorer = Scorer(artifact)
    easy, hard = scorer.score_batch(
        [
            [Message(role="user", content="Hi!")],
            [
                Message(
                    role="user",
                    content="Statement 1 | If x > 3 then x^2 > 9. Statement 2 | Every prime "
                    "is odd, except 2.\nA. True, True\nB. False, False\nC. True, False\nD. False, True",
                )
            ],
        ]
    )
    assert easy.score < hard.score
    assert easy.degraded == "no-embedding"


def test_shipped_artifact_is_the_trained_one() -> None:
    artifact = load_artifact()
    assert artifact.version == 1 and artifact.full is not None
    assert artifact.embedding_model == "all-MiniLM-L6-v2"
    assert set(artifact.meta["trained_on"]) == {"arc_challenge", "mbpp", "mmlu", "winogrande"}
