"""Stop sequences on a token stream: text that could still become a stop sequence is held back, so a
client never sees half of one."""

from __future__ import annotations


class StopMatcher:
    """Feed text as it is generated; get back what is safe to emit and whether a stop sequence was hit."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """``(emit, stopped)``: on a stop, ``emit`` is the text before it and the rest is dropped."""
        if not self.stops:
            return text, False
        buf = self.pending + text
        hit = min((i for i in (buf.find(s) for s in self.stops) if i != -1), default=-1)
        if hit != -1:
            self.pending = ""
            return buf[:hit], True
        hold = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(buf)), hold, -1):
                if buf.endswith(stop[:k]):
                    hold = k
                    break
        self.pending = buf[len(buf) - hold :] if hold else ""
        return buf[: len(buf) - hold], False

    def flush(self) -> str:
        """What was held back, once generation ended without a stop."""
        rest, self.pending = self.pending, ""
        return rest
