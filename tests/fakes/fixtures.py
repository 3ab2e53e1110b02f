"""Pytest fixtures for the fakes. Import them into a conftest.py (``from tests.fakes.fixtures import *``) or
list the module in ``pytest_plugins`` of the root conftest.

The fake clouds' servers live for the whole session (a uvicorn start/stop costs ~0.2 s); each test gets
them reset: default reply, no key check, no faults, an empty request log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.cloud import FakeCloud
from tests.fakes.memory_keyring import MemoryKeyring

__all__ = ["fake_cloud", "fake_cloud_b", "fake_cloud_servers", "memory_keyring"]


@pytest.fixture(scope="session")
def fake_cloud_servers() -> Iterator[tuple[FakeCloud, FakeCloud]]:
    with FakeCloud() as first, FakeCloud() as second:
        yield first, second


@pytest.fixture
def fake_cloud(fake_cloud_servers: tuple[FakeCloud, FakeCloud]) -> FakeCloud:
    """A running fake cloud (OpenAI and Anthropic wire formats) on a loopback port, freshly reset."""
    cloud = fake_cloud_servers[0]
    cloud.reset()
    return cloud


@pytest.fixture
def fake_cloud_b(fake_cloud_servers: tuple[FakeCloud, FakeCloud]) -> FakeCloud:
    """A second, independent fake cloud (for fallback between providers)."""
    cloud = fake_cloud_servers[1]
    cloud.reset()
    return cloud


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()
