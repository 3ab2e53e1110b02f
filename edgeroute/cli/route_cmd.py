"""``edgeroute route``, ``edgeroute eval`` and ``edgeroute calibrate``: the router on files and on the
ledger, without a running daemon. Only click and the stdlib are imported here; numpy, llama.cpp and the
router load inside the commands."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from edgeroute.cli.common import config_option, load_or_exit

if TYPE_CHECKING:
    from edgeroute.router.dataset import PromptRow

BATCH = 64


class _Progress:
    """A one-line progress bar on stderr, redrawn at most 5 times a second."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total, self.enabled, self.done = total, enabled, 0
        self.started = self._last = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.2:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(1e-9, now - self.started)
        if self.total:
            frac = min(1.0, self.done / self.total)
            bar = "#" * int(frac * 30)
            line = f"\r[{bar:<30}] {self.done}/{self.total} {rate:.0f}/s"
        else:
            line = f"\r{self.done} rows {rate:.0f}/s"
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            sys.stderr.write("\n")


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _batches(stream: IO[str]) -> Any:
    from edgeroute.router.dataset import read_prompts

    batch: list[PromptRow] = []
    for row in read_prompts(stream):
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@click.command()
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@config_option
@click.option("--no-embedding", is_flag=True, help="Score on cheap features only (no MiniLM).")
@click.option("--threads", type=int, default=None, help="Threads for the embedding model.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: long files).")
def route(
    file: Path | None,
    config_path: Path | None,
    no_embedding: bool,
    threads: int | None,
    progress: bool | None,
) -> None:
    """Route prompts from a JSONL file (or - for stdin) and print one decision per line.

    Each input row needs "id" and "messages"; nothing else in a row is read. Each output line is
    {"id", "score", "tier", "target", "reason"}. Targets come from the config (placeholders when it names
    none); every configured cloud model is assumed reachable. Without FILE, rows are read from a pipe.
    """
    if file is None:
        if sys.stdin.isatty():  # nothing piped in: reading the terminal would just hang
            raise click.UsageError("give a JSONL FILE, or - to read rows from standard input")
        file = Path("-")
    from edgeroute.chat import ChatRequest
    from edgeroute.errors import EdgerouteError
    from edgeroute.router.decide import decide
    from edgeroute.router.runtime import build_scorer, load_user_calibration, offline_state

    settings, paths = load_or_exit(config_path)
    scorer, why = build_scorer(settings, paths, use_embedding=not no_embedding, threads=threads)
    if why and not no_embedding:
        click.echo(f"note: routing on cheap features only: {why}", err=True)
    state = offline_state(settings)
    calibration = load_user_calibration(settings, paths)
    total = _count_lines(file) if str(file) != "-" else None
    bar = _Progress(
        total, progress if progress is not None else bool(sys.stderr.isatty() and (total or 0) > 200)
    )
    stream = sys.stdin if str(file) == "-" else file.open(encoding="utf-8")
    out = sys.stdout
    try:
        for batch in _batches(stream):
            scores = scorer.score_batch([row.messages for row in batch])
            for row, score in zip(batch, scores, strict=True):
                request = ChatRequest(model="auto", messages=row.messages)
                try:
                    d = decide(request, state, settings.router, scorer, calibration=calibration, score=score)
                    line = {
                        "id": row.id,
                        "score": round(d.score if d.score is not None else score.score, 4),
                        "tier": d.tier,
                        "target": d.target,
                        "reason": d.reason,
                    }
                except EdgerouteError as exc:
                    line = {
                        "id": row.id,
                        "score": round(score.score, 4),
                        "tier": None,
                        "target": None,
                        "reason": f"error:{exc.code}",
                    }
                out.write(json.dumps(line) + "\n")
            bar.advance(len(batch))
    except ValueError as exc:
        click.echo(f"error: {file}: {exc}", err=True)
        raise SystemExit(2) from None
    finally:
        bar.close()
        if stream is not sys.stdin:
            stream.close()


@click.command(name="eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--weak", required=True, help="The small model's name in the rows' outcomes.")
@click.option("--strong", required=True, help="The large model's name in the rows' outcomes.")
@click.option(
    "--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG plot."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--no-embedding", is_flag=True, help="Score on cheap features only (no MiniLM).")
@config_option
def eval_(
    file: Path,
    weak: str,
    strong: str,
    plot_path: Path | None,
    as_json: bool,
    no_embedding: bool,
    config_path: Path | None,
) -> None:
    """Measure the router on a file of per-prompt outcomes: APGR, CPT(50%), CPT(80%) and quality/cost at
    the calibrated threshold, next to random and prompt-length baselines."""
    from edgeroute.router.report import evaluate_file, render_plot, render_table

    settings, paths = load_or_exit(config_path)
    try:
        report = evaluate_file(file, weak, strong, settings, paths, use_embedding=not no_embedding)
    except ValueError as exc:
        click.echo(f"error: {file}: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyError as exc:
        click.echo(f"error: {file}: a row has no {exc.args[0]!r} field", err=True)
        raise SystemExit(2) from None
    except (TypeError, AttributeError) as exc:  # e.g. "outcomes" that is not an object
        click.echo(f"error: {file}: a row has an unexpected shape ({exc})", err=True)
        raise SystemExit(2) from None
    if plot_path is not None:
        try:
            render_plot(report, plot_path)
        except ImportError:
            click.echo("error: --plot needs matplotlib (pip install matplotlib)", err=True)
            raise SystemExit(2) from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=1))
    else:
        click.echo(render_table(report))
        if plot_path is not None:
            click.echo(f"plot: {plot_path}")


@click.command()
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Scores from a JSONL file (e.g. `edgeroute route` output) instead of the ledger.",
)
@click.option(
    "--days", type=click.FloatRange(0, min_open=True), default=30.0, show_default=True, help="Ledger window."
)
@click.option("--target", "target_share", type=float, default=None, help="Premium share to aim at.")
@click.option(
    "--min-requests",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Refuse with fewer scores.",
)
@click.option("--dry-run", is_flag=True, help="Show the thresholds without saving them.")
@config_option
def calibrate(
    source: Path | None,
    days: float,
    target_share: float | None,
    min_requests: int,
    dry_run: bool,
    config_path: Path | None,
) -> None:
    """Calibrate the router's thresholds on your own recent traffic (the scores the ledger keeps), so the
    premium share lands on router.target_cloud_share."""
    from edgeroute.router.calibrate import base_thresholds, calibrate_from_scores, save_calibration
    from edgeroute.router.ledger_scores import ledger_scores, scores_from_jsonl
    from edgeroute.router.runtime import calibration_path

    settings, paths = load_or_exit(config_path)
    share = settings.router.target_cloud_share if target_share is None else target_share
    if not 0.0 <= share <= 1.0:
        click.echo("error: --target must be between 0 and 1", err=True)
        raise SystemExit(2)
    try:
        if source is not None:
            scores = scores_from_jsonl(source)
            where = str(source)
        else:
            scores = ledger_scores(paths.ledger_file, since=time.time() - days * 86400)
            where = f"the ledger ({paths.ledger_file}, last {days:g} days)"
    except (OSError, ValueError) as exc:
        click.echo(f"error: cannot read scores: {exc}", err=True)
        raise SystemExit(1) from None
    if len(scores) < min_requests:
        click.echo(
            f"error: {len(scores)} scored requests in {where}; need at least {min_requests} "
            "(route more traffic, or pass --min-requests)",
            err=True,
        )
        raise SystemExit(1)
    calibration = calibrate_from_scores(scores)
    th = base_thresholds(calibration, share, settings.router.moderate_share)
    sent = sum(1 for s in scores if s >= th.premium) / len(scores)
    click.echo(f"{len(scores)} scores from {where}")
    click.echo(
        f"premium threshold {th.premium:.3f} -> {sent:.1%} premium on this traffic (target {share:.0%})"
    )
    if th.moderate is not None:
        click.echo(f"moderate threshold {th.moderate:.3f}")
    if dry_run:
        click.echo("dry run: nothing saved")
        return
    dest = calibration_path(settings, paths)
    save_calibration(calibration, dest)
    click.echo(f"saved {dest}")
