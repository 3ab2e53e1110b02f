"""Fixtures for the cloud tier: fake upstreams on loopback, an in-memory keyring, settings builders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from edgeroute.config import CloudModelConfig
from edgeroute.providers.http import UpstreamClient
from tests.fakes.fixtures import fake_cloud, fake_cloud_b, fake_cloud_servers, memory_keyring

__all__ = ["client", "cloud_model", "fake_cloud", "fake_cloud_b", "fake_cloud_servers", "memory_keyring"]


def cloud_model(name: str, provider: str, base_url: str, **extra: Any) -> CloudModelConfig:
    """A cloud model with short timeouts, so failure tests finish fast."""
    fields: dict[str, Any] = {
        "name": name,
        "provider": provider,
        "base_url": base_url,
        "model": f"{name}-upstream",
        "connect_timeout": 2.0,
        "first_token_timeout": 5.0,
        "total_timeout": 20.0,
        "max_retries": 0,
    }
    fields.update(extra)
    return CloudModelConfig(**fields)


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    """One pooled upstream client per test, closed after it."""
    c = UpstreamClient()
    yield c
    await c.aclose()
