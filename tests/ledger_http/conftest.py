"""Helpers for the ledger's HTTP acceptance tests: hand-written prices in nano-dollars per token, cloud
model entries pointing at the loopback fake, a memory key store, and a Prometheus text parser.

Prices are "USD per 1M tokens" in the config; one token at $P/1M costs P * 1000 nano-dollars, so every
expected amount in these tests is an exact integer computed here, never by edgeroute's pricing code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from edgeroute.keys import KeyStore
from tests.fakes.cloud import FakeCloud
from tests.fakes.memory_keyring import MemoryKeyring

NANO = 1_000_000_000
OPENAI_KEY = "sk-test-openai-ledger"
ANTHROPIC_KEY = "sk-ant-test-ledger"


def nano_per_token(usd_per_million: float) -> int:
    """$P per 1M tokens = P * 1000 nano-dollars per token (exact for prices with up to 3 decimals)."""
    value = round(usd_per_million * 1000)
    assert value == usd_per_million * 1000, "hand prices must have at most 3 decimals"
    return value


def usd(nano: int) -> float:
    return nano / NANO


def to_nano(amount: float) -> int:
    """A USD float from JSON back to integer nano-dollars."""
    return round(amount * NANO)


def cloud_entry(name: str, base_url: str, **extra: Any) -> dict[str, Any]:
    """A ``[[cloud]]`` entry for the fake: OpenAI wire format unless ``provider`` says otherwise."""
    provider = extra.pop("provider", "openai")
    entry: dict[str, Any] = {
        "name": name,
        "provider": provider,
        "base_url": base_url,
        "model": f"fake-{name}",
        "key": f"fake-{provider}",
        "max_retries": 0,
        "fallbacks": [],
    }
    entry.update(extra)
    return entry


def memory_keys() -> KeyStore:
    keys = KeyStore(backend=MemoryKeyring(), environ={})
    keys.set("fake-openai", OPENAI_KEY)
    keys.set("fake-anthropic", ANTHROPIC_KEY)
    return keys


def metric_values(text: str) -> dict[str, float]:
    """``{"name{label=value,...}": value}`` from the Prometheus text format (labels sorted)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def metric_sum(values: dict[str, float], name: str, **labels: str) -> float:
    """Sum of one metric's samples whose labels include ``labels``."""
    total = 0.0
    for key, value in values.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        have = dict(p.split("=", 1) for p in rest.rstrip("}").split(",") if p)
        if all(have.get(k) == v for k, v in labels.items()):
            total += value
    return total


@pytest.fixture(scope="module")
def cloud() -> Iterator[FakeCloud]:
    with FakeCloud() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh_cloud(request: pytest.FixtureRequest) -> None:
    """Tests that use the fake start from its default reply, with no faults queued."""
    if "cloud" in request.fixturenames:
        request.getfixturevalue("cloud").reset()
