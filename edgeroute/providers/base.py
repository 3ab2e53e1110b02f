"""What a cloud provider kind is: something that streams one chat request to an upstream API.

Every kind (``openai``, ``anthropic``) translates the internal :class:`~edgeroute.chat.ChatRequest` to its
wire format and the upstream's stream back to internal events, in this order::

    (TextDelta | ReasoningDelta | ToolCallDelta)*  Usage  Finish

``Usage`` is exact when the upstream reports it, else estimated (``Usage.estimated``); ``Finish`` is always
the last event. Failures raise :class:`~edgeroute.errors.UpstreamError` subclasses with
``upstream_status`` set when the upstream answered with an HTTP error; transport errors never leak out.
Retries, cooldowns and fallbacks are not a provider's business (see :mod:`edgeroute.providers.pool` and
:mod:`edgeroute.dispatch`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from edgeroute.chat import ChatRequest, StreamEvent
from edgeroute.config import CloudModelConfig

if TYPE_CHECKING:
    from edgeroute.providers.http import UpstreamClient


class CloudProvider(Protocol):
    """One upstream endpoint (a base URL) of one provider kind, sharing one pooled HTTP client."""

    def stream_chat(
        self, model: CloudModelConfig, req: ChatRequest, api_key: str
    ) -> AsyncIterator[StreamEvent]:
        """Send ``req`` to ``model`` and yield its answer as internal events."""
        ...


# A provider kind: builds the provider for one base URL around the pool's client for it.
ProviderFactory = Callable[["UpstreamClient", str], CloudProvider]


def target_label(model: CloudModelConfig) -> str:
    """How errors and logs name a cloud model: ``cloud/<name>`` (never the key, never the prompt)."""
    return f"cloud/{model.name}"


async def close_stream(events: AsyncIterator[StreamEvent]) -> None:
    """Close an event stream early (its upstream connection goes back or away now, not at GC)."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
