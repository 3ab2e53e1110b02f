"""Progress output: a redrawn line with speed and ETA on a terminal, a plain line every 5 s elsewhere."""

from __future__ import annotations

import io

from edgeroute.hub.progress import LineProgress, TerminalProgress, human_bytes, human_duration, progress_for


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_line_shows_bytes_speed_and_eta() -> None:
    out, clock = io.StringIO(), Clock()
    bar = TerminalProgress(out, clock)
    bar.start("m.gguf", 100_000_000, 0)
    for step in range(1, 5):
        clock.now += 1.0
        bar.update(step * 10_000_000)
    bar.finish()
    frames = out.getvalue().split("\r")
    assert "m.gguf   40%  40.0 MB / 100.0 MB  10.0 MB/s  ETA 0:06" in frames[-2]
    assert frames[-1].startswith("m.gguf  40.0 MB  done: 40.0 MB fetched in 0:04 (10.0 MB/s)")
    assert frames[-1].endswith("\n")


def test_terminal_redraws_at_most_ten_times_a_second() -> None:
    out, clock = io.StringIO(), Clock()
    bar = TerminalProgress(out, clock)
    bar.start("m", 1000, 0)
    for i in range(90):  # 90 updates within 0.09 s
        clock.now += 0.001
        bar.update(i)
    assert out.getvalue().count("\r") == 1  # only the first frame
    clock.now += 0.02
    bar.update(95)
    assert out.getvalue().count("\r") == 2


def test_plain_lines_every_five_seconds_and_a_resume_note() -> None:
    out, clock = io.StringIO(), Clock()
    lines = LineProgress(out, clock)
    lines.start("m.gguf", 10_000_000, 2_000_000)
    for _ in range(12):
        clock.now += 1.0
        lines.update(lines.done + 500_000)
    lines.finish()
    text = out.getvalue().splitlines()
    assert text[0] == "m.gguf  downloading 10.0 MB (resuming at 2.0 MB)"
    assert len(text) == 4 and "\r" not in out.getvalue()
    assert text[1].startswith("m.gguf   45%  4.5 MB / 10.0 MB  500.0 KB/s  ETA 0:11")
    assert text[3] == "m.gguf  8.0 MB  done: 6.0 MB fetched in 0:12 (500.0 KB/s)"


def test_the_kind_follows_the_stream() -> None:
    assert isinstance(progress_for(FakeTTY()), TerminalProgress)
    assert isinstance(progress_for(io.StringIO()), LineProgress)


def test_human_units() -> None:
    assert [human_bytes(n) for n in (999, 1_500, 2_500_000, 1_120_000_000)] == [
        "999 B",
        "1.5 KB",
        "2.5 MB",
        "1.1 GB",
    ]
    assert [human_duration(s) for s in (5, 65, 3725)] == ["0:05", "1:05", "1:02:05"]
