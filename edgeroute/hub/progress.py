"""Download progress for people: a redrawn line (bytes, speed, ETA) on a terminal, a plain line every few
seconds in logs and pipes, where carriage returns would make a mess."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, label: str, total: int | None, done: int) -> None: ...

    def update(self, done: int) -> None: ...

    def finish(self) -> None: ...


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class _Rate:
    """Bytes per second over the last few seconds, so the ETA follows the connection as it is now."""

    def __init__(self, clock: Callable[[], float], window: float = 5.0) -> None:
        self.clock = clock
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, done: int) -> None:
        now = self.clock()
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()

    def per_second(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0


class _Base:
    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self.started = 0.0
        self.start_done = 0
        self.rate = _Rate(clock)

    def start(self, label: str, total: int | None, done: int) -> None:
        self.label, self.total, self.done, self.start_done = label, total, done, done
        self.started = self.clock()
        self.rate = _Rate(self.clock)
        self.rate.add(done)

    def status(self) -> str:
        speed = self.rate.per_second()
        parts = [self.label]
        if self.total:
            parts.append(f"{100 * self.done / self.total:3.0f}%")
            parts.append(f"{human_bytes(self.done)} / {human_bytes(self.total)}")
        else:
            parts.append(human_bytes(self.done))
        parts.append(f"{human_bytes(speed)}/s")
        if self.total and speed > 0:
            parts.append(f"ETA {human_duration((self.total - self.done) / speed)}")
        return "  ".join(parts)

    def summary(self) -> str:
        elapsed = self.clock() - self.started
        fetched = self.done - self.start_done
        speed = fetched / elapsed if elapsed > 0 else 0.0
        return (
            f"{self.label}  {human_bytes(self.done)}  done: {human_bytes(fetched)} fetched in "
            f"{human_duration(elapsed)} ({human_bytes(speed)}/s)"
        )


class TerminalProgress(_Base):
    """Redraws one line at most ten times a second."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(stream, clock)
        self.last_draw = 0.0
        self.width = 0

    def start(self, label: str, total: int | None, done: int) -> None:
        super().start(label, total, done)
        self._draw(force=True)

    def update(self, done: int) -> None:
        self.done = done
        self.rate.add(done)
        self._draw()

    def _draw(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        line = self.status()
        self.stream.write("\r" + line.ljust(self.width))
        self.width = len(line)
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\r" + self.summary().ljust(self.width) + "\n")
        self.stream.flush()


class LineProgress(_Base):
    """A plain line when a download starts, every ``every`` seconds, and when it ends."""

    def __init__(
        self, stream: TextIO, clock: Callable[[], float] = time.monotonic, every: float = 5.0
    ) -> None:
        super().__init__(stream, clock)
        self.every = every
        self.last_line = 0.0

    def start(self, label: str, total: int | None, done: int) -> None:
        super().start(label, total, done)
        self.last_line = self.started
        resumed = f" (resuming at {human_bytes(done)})" if done else ""
        size = human_bytes(total) if total else "unknown size"
        self._line(f"{label}  downloading {size}{resumed}")

    def update(self, done: int) -> None:
        self.done = done
        self.rate.add(done)
        now = self.clock()
        if now - self.last_line >= self.every:
            self.last_line = now
            self._line(self.status())

    def finish(self) -> None:
        self._line(self.summary())

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class NullProgress:
    def start(self, label: str, total: int | None, done: int) -> None:
        pass

    def update(self, done: int) -> None:
        pass

    def finish(self) -> None:
        pass


def progress_for(stream: TextIO) -> Progress:
    """A redrawn line on a terminal, plain lines otherwise."""
    isatty = getattr(stream, "isatty", None)
    return TerminalProgress(stream) if isatty is not None and isatty() else LineProgress(stream)
