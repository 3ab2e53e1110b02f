"""`edgeroute route` and `edgeroute eval` on a small slice of the shared data, with the real MiniLM."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeroute.cli.main import cli

SLICE_PER_FILE = 15


@pytest.fixture(scope="module")
def data_slice(routing_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """15 rows of each shared file, in one JSONL (ids and outcomes kept)."""
    rng = random.Random(5)
    lines: list[str] = []
    for path in sorted(routing_data.glob("routerbench_*.jsonl")):
        rows = path.read_text(encoding="utf-8").splitlines()
        lines += rng.sample(rows, SLICE_PER_FILE)
    out = tmp_path_factory.mktemp("slice") / "slice.jsonl"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture
def config_with_minilm(tmp_path: Path, minilm_gguf: Path, starter_gguf: Path) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[router]
embedding_model = "minilm"
target_cloud_share = 0.3

[[local]]
name = "gemma"
path = "{starter_gguf}"
n_ctx = 8192

[[local]]
name = "minilm"
path = "{minilm_gguf}"
role = "embed"

[[cloud]]
name = "gpt"
provider = "openai"
model = "gpt-4o"
""",
        encoding="utf-8",
    )
    return cfg


def test_route_writes_one_decision_per_row(data_slice: Path, config_with_minilm: Path) -> None:
    result = CliRunner().invoke(cli, ["route", str(data_slice), "--config", str(config_with_minilm)])
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.stdout.splitlines()]
    ids = [json.loads(x)["id"] for x in data_slice.read_text().splitlines()]
    assert [o["id"] for o in out] == ids
    for o in out:
        assert set(o) == {"id", "score", "tier", "target", "reason"}
        assert 0.0 <= o["score"] <= 1.0
        assert (o["tier"], o["target"]) in {("local", "local/gemma"), ("cloud", "cloud/gpt")}
        assert o["reason"].startswith("score ") and "degraded" not in o["reason"]
    assert {o["tier"] for o in out} == {"local", "cloud"}


def test_route_reads_only_id_and_messages(tmp_path: Path) -> None:
    rows = [
        {
            "id": "a",
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "outcomes": "not even an object",
            "notes": "password: hunter22xyz",
        },
        {"id": "b", "messages": [{"role": "user", "content": "my key: sk-proj-" + "Q" * 30}]},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(cli, ["route", str(src), "--no-embedding"])
    assert result.exit_code == 0, result.output
    a, b = (json.loads(x) for x in result.stdout.splitlines())
    assert not a["reason"].startswith("rule:sensitive")  # the secret in "notes" was never read
    assert a["reason"].endswith("degraded:no-embedding")
    assert (b["tier"], b["reason"]) == ("local", "rule:sensitive api-key")


def test_route_from_stdin_and_bad_input(tmp_path: Path) -> None:
    line = json.dumps({"id": 7, "messages": [{"role": "user", "content": "hi"}]})
    result = CliRunner().invoke(cli, ["route", "-", "--no-embedding"], input=line + "\n")
    assert result.exit_code == 0 and json.loads(result.stdout)["id"] == "7"
    result = CliRunner().invoke(cli, ["route", "-", "--no-embedding"], input="{not json\n")
    assert result.exit_code == 2 and "line 1: not JSON" in result.output


def test_eval_reports_metrics_baselines_and_a_plot(
    data_slice: Path, config_with_minilm: Path, tmp_path: Path
) -> None:
    plot = tmp_path / "curve.png"
    args = ["eval", str(data_slice), "--weak", "mistralai/mistral-7b-chat", "--strong", "gpt-4-1106-preview"]
    result = CliRunner().invoke(
        cli, [*args, "--json", "--plot", str(plot), "--config", str(config_with_minilm)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 3 * SLICE_PER_FILE
    for name in ("router", "random", "length"):
        assert 0.0 <= report[name]["cpt50"] <= report[name]["cpt80"] <= 1.0
        assert -1.0 < report[name]["apgr"] < 2.0
    cal = report["calibrated"]
    assert 0.0 <= cal["premium_share"] <= 1.0 and cal["cost_usd"] is not None
    assert cal["cost_usd"] <= cal["all_strong_cost_usd"]
    assert report["degraded"] is None
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    table = CliRunner().invoke(cli, [*args, "--no-embedding"])
    assert table.exit_code == 0, table.output
    assert "APGR" in table.output and "prompt length" in table.output and "random" in table.output
    assert "at the calibrated threshold" in table.output


def test_eval_unknown_pair_is_a_clean_error(data_slice: Path) -> None:
    result = CliRunner().invoke(
        cli, ["eval", str(data_slice), "--weak", "nope", "--strong", "gpt-4-1106-preview"]
    )
    assert result.exit_code == 2 and "no row has outcomes" in result.output
