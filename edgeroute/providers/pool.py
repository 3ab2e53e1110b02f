"""The cloud tier's shared state: one pooled :class:`~edgeroute.providers.http.UpstreamClient` per
endpoint (provider kind + base URL), the providers built on them, their health, and the retry loop around
every upstream call.

Built by the app (``create_app``) and closed with :meth:`CloudPool.aclose`; tests inject a clock, a sleep
and a random source so backoff and cooldowns run without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from edgeroute.chat import ChatRequest, StreamEvent
from edgeroute.config import CloudModelConfig
from edgeroute.errors import UpstreamError
from edgeroute.providers.base import CloudProvider, ProviderFactory, close_stream, target_label
from edgeroute.providers.health import HealthBoard, HealthPolicy, Unavailable
from edgeroute.providers.http import UpstreamClient
from edgeroute.providers.retry import RetryPolicy

if TYPE_CHECKING:
    from edgeroute.config import Settings

log = logging.getLogger("edgeroute.providers")

# Called before each retry with the failure and the wait chosen (the dispatcher records it in the trail).
RetryHook = Callable[[UpstreamError, float], None]


def default_base_url(provider: str) -> str:
    from edgeroute.providers import anthropic, openai

    return {"openai": openai.DEFAULT_BASE_URL, "anthropic": anthropic.DEFAULT_BASE_URL}[provider]


def default_kinds() -> dict[str, ProviderFactory]:
    from edgeroute.providers.anthropic import AnthropicProvider
    from edgeroute.providers.openai import OpenAIProvider

    return {"openai": OpenAIProvider, "anthropic": AnthropicProvider}


def endpoint_of(model: CloudModelConfig) -> str:
    """The health/pooling key: ``openai https://api.openai.com/v1``."""
    return f"{model.provider} {(model.base_url or default_base_url(model.provider)).rstrip('/')}"


class CloudPool:
    """HTTP clients, providers and health for every configured cloud endpoint. ``settings`` is accepted
    for symmetry with the other services; models arrive with each call, so a reloaded config just works."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        kinds: Mapping[str, ProviderFactory] | None = None,
        retry: RetryPolicy | None = None,
        health: HealthPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        max_connections: int = 32,
    ) -> None:
        self._kinds = dict(kinds) if kinds is not None else default_kinds()
        self.retry = retry or RetryPolicy()
        self.health = HealthBoard(health, clock)
        self._sleep = sleep
        self._rand = rand
        self._max_connections = max_connections
        self._clients: dict[str, UpstreamClient] = {}
        self._providers: dict[str, CloudProvider] = {}

    def provider(self, model: CloudModelConfig) -> CloudProvider:
        """The provider for the model's endpoint, with its client created on first use."""
        endpoint = endpoint_of(model)
        provider = self._providers.get(endpoint)
        if provider is None:
            from edgeroute import __version__

            client = UpstreamClient(
                max_connections=self._max_connections, user_agent=f"edgeroute/{__version__}"
            )
            self._clients[endpoint] = client
            base_url = (model.base_url or default_base_url(model.provider)).rstrip("/")
            provider = self._kinds[model.provider](client, base_url)
            self._providers[endpoint] = provider
        return provider

    @property
    def offline(self) -> bool:
        """True while the network looks down (the router keeps requests that may run locally local)."""
        return self.health.offline

    def unavailable(self, model: CloudModelConfig) -> Unavailable | None:
        """Why ``model`` must be skipped right now (cooldown, unreachable, offline), or None."""
        return self.health.unavailable(endpoint_of(model))

    async def stream_chat(
        self, model: CloudModelConfig, req: ChatRequest, api_key: str, *, on_retry: RetryHook | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Stream ``req`` from ``model``, retrying retryable failures until the first event arrives; after
        that, errors propagate (a client that has seen a token cannot be given a second answer)."""
        endpoint = endpoint_of(model)
        provider = self.provider(model)
        retry = 0
        while True:
            events = provider.stream_chat(model, req, api_key)
            try:
                first = await anext(events)
            except StopAsyncIteration:
                self.health.record_success(endpoint)
                return
            except UpstreamError as exc:
                await close_stream(events)
                allowed = self.retry.allows(retry, exc, model.max_retries)
                wait = self.retry.delay(retry, exc, self._rand()) if allowed else None
                if wait is None:
                    self.health.record_failure(endpoint, exc, retry_after_limit=self.retry.max_retry_after)
                    raise
                log.info(
                    "retrying %s in %.2fs after %s (HTTP %s)",
                    target_label(model),
                    wait,
                    exc.code,
                    exc.upstream_status or "-",
                )
                if on_retry is not None:
                    on_retry(exc, wait)
                await self._sleep(wait)
                retry += 1
                continue
            break
        self.health.record_success(endpoint)
        try:
            yield first
            async for event in events:
                yield event
        except UpstreamError as exc:
            self.health.record_failure(endpoint, exc, retry_after_limit=self.retry.max_retry_after)
            raise
        finally:
            await close_stream(events)

    async def aclose(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        self._providers.clear()
        for client in clients:
            await client.aclose()
