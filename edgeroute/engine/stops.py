"""Stop sequences on a token stream: text that could still become a stop sequence is held back, so a
client never sees half of one."""

from __future__ import annotations


class StopMatcher:
    """Feed text as it is generated; get back what is safe to emit and whether a stop sequence was hit."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.matched: str | None = None  # the stop sequence that ended the text (Anthropic reports it)

    def feed(self, text: str) -> tuple[str, bool]:
        """``(emit, stopped)``: on a stop, ``emit`` is the text before it and the rest is dropped; the stop
        that starts earliest wins (the first listed, on a tie) and is kept in ``matched``."""
        if not self.stops:
            return text, False
        buf = self.pending + text
        hit = -1
        for stop in self.stops:
            at = buf.find(stop)
            if at != -1 and (hit == -1 or at < hit):
                hit, self.matched = at, stop
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
