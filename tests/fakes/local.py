"""A small real implementation of the dispatcher's LocalChatBackend protocol for tests that are not about
llama.cpp: it answers with fixed text, or raises the error configured for a model (a crashed worker...)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from edgeroute.chat import ChatRequest, Finish, StreamEvent, TextDelta, Usage
from edgeroute.errors import EdgerouteError


class ScriptedLocal:
    def __init__(
        self,
        text: str = "Hello from the local model.",
        *,
        failures: dict[str, EdgerouteError] | None = None,
    ) -> None:
        self.text = text
        self.failures = dict(failures or {})
        self.calls: list[str] = []

    async def stream_chat(
        self, name: str, req: ChatRequest, *, want_stats: bool = False
    ) -> AsyncIterator[StreamEvent]:
        self.calls.append(name)
        failure = self.failures.get(name)
        if failure is not None:
            raise failure
        words = self.text.split(" ")
        for i, word in enumerate(words):
            yield TextDelta(word if i == 0 else " " + word)
        yield Usage(prompt_tokens=5, completion_tokens=len(words))
        yield Finish("stop")
