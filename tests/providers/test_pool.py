"""CloudPool: retries with backoff (honouring Retry-After) before the first token only, the circuit breaker,
fast offline detection, and one pooled client per endpoint. Sleep and clock are injected, so no test waits
for a backoff or a cooldown."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from edgeroute.errors import UpstreamConnectError, UpstreamError, UpstreamRateLimited, UpstreamTimeout
from edgeroute.providers import CloudPool, HealthPolicy, RetryPolicy, endpoint_of
from tests.fakes.cloud import FakeCloud, Fault
from tests.fakes.loopback import closed_port_url
from tests.providers.conftest import cloud_model
from tests.providers.helpers import collect, simple_request, text_of

KEY = "sk-test-pool-0123456789"


class FakeTime:
    """A clock tests move by hand; ``sleep`` records the wait and moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def pool(fake_time: FakeTime) -> AsyncIterator[CloudPool]:
    pool = CloudPool(clock=fake_time.clock, sleep=fake_time.sleep, rand=lambda: 0.0)
    yield pool
    await pool.aclose()


async def test_5xx_is_retried_with_exponential_backoff(
    pool: CloudPool, fake_time: FakeTime, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.http(500), Fault.http(502))
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, max_retries=2)
    retries: list[tuple[str, float]] = []
    events = await collect(
        pool.stream_chat(model, simple_request(), KEY, on_retry=lambda e, w: retries.append((e.code, w)))
    )
    assert text_of(events) == "Hello from the fake cloud."
    assert fake_cloud.count() == 3
    assert fake_time.sleeps == [0.5, 1.0]  # base 0.5 s doubling (jitter factor 1.0 with rand=0)
    assert retries == [("upstream_error", 0.5), ("upstream_error", 1.0)]


def test_jitter_shortens_the_wait() -> None:
    policy = RetryPolicy(base_delay=1.0, jitter=0.5)
    exc = UpstreamError("x", upstream_status=500)
    assert policy.delay(2, exc, rand=0.0) == 4.0
    assert policy.delay(2, exc, rand=1.0) == 2.0
    assert policy.delay(10, exc, rand=0.0) == policy.max_delay


async def test_429_honours_retry_after(pool: CloudPool, fake_time: FakeTime, fake_cloud: FakeCloud) -> None:
    fake_cloud.fail_next(Fault.rate_limited(retry_after=7))
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, max_retries=2)
    await collect(pool.stream_chat(model, simple_request(), KEY))
    assert fake_time.sleeps == [7.0]
    assert fake_cloud.count() == 2


async def test_a_long_retry_after_falls_back_at_once_and_cools_the_endpoint(
    pool: CloudPool, fake_time: FakeTime, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.rate_limited(retry_after=120))
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, max_retries=3)
    with pytest.raises(UpstreamRateLimited) as info:
        await collect(pool.stream_chat(model, simple_request(), KEY))
    assert info.value.retry_after == 120 and fake_time.sleeps == []
    skip = pool.unavailable(model)
    assert skip is not None and skip.code == "circuit_open" and skip.retry_after == pytest.approx(120)
    fake_time.now += 121
    assert pool.unavailable(model) is None


async def test_client_errors_and_timeouts_are_not_retried(
    pool: CloudPool, fake_time: FakeTime, fake_cloud: FakeCloud
) -> None:
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, max_retries=3, first_token_timeout=0.3)
    fake_cloud.fail_next(Fault.http(400, "bad"))
    with pytest.raises(UpstreamError, match="HTTP 400"):
        await collect(pool.stream_chat(model, simple_request(), KEY))
    fake_cloud.fail_next(Fault.hang(3))
    with pytest.raises(UpstreamTimeout):
        await collect(pool.stream_chat(model, simple_request(), KEY))
    assert fake_cloud.count() == 2 and fake_time.sleeps == []


async def test_no_retry_once_a_token_was_streamed(
    pool: CloudPool, fake_time: FakeTime, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.cut(2))
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, max_retries=3)
    seen = []
    with pytest.raises(UpstreamError, match="closed mid-response"):
        async for event in pool.stream_chat(model, simple_request(), KEY):
            seen.append(event)
    assert text_of(seen) == "Hello from t"
    assert fake_cloud.count() == 1 and fake_time.sleeps == []


async def test_a_stream_cut_before_the_first_token_is_retried(
    pool: CloudPool, fake_time: FakeTime, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.cut(0))
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, max_retries=1)
    events = await collect(pool.stream_chat(model, simple_request(), KEY))
    assert text_of(events) == "Hello from the fake cloud." and fake_cloud.count() == 2


async def test_circuit_opens_after_repeated_failures_and_a_probe_closes_it(
    pool: CloudPool, fake_time: FakeTime, fake_cloud: FakeCloud
) -> None:
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url)
    fake_cloud.always = Fault.http(503)
    for _ in range(3):
        assert pool.unavailable(model) is None
        with pytest.raises(UpstreamError):
            await collect(pool.stream_chat(model, simple_request(), KEY))
    skip = pool.unavailable(model)
    assert skip is not None and skip.code == "circuit_open" and skip.retry_after == pytest.approx(30)
    fake_time.now += 31  # half-open: one probe goes through, fails, reopens for twice as long
    assert pool.unavailable(model) is None
    with pytest.raises(UpstreamError):
        await collect(pool.stream_chat(model, simple_request(), KEY))
    skip = pool.unavailable(model)
    assert skip is not None and skip.retry_after == pytest.approx(60)
    fake_time.now += 61
    fake_cloud.always = None
    await collect(pool.stream_chat(model, simple_request(), KEY))
    assert pool.unavailable(model) is None
    assert pool.health.snapshot()[endpoint_of(model)]["consecutive_failures"] == 0


async def test_a_sibling_model_on_another_endpoint_is_unaffected(
    pool: CloudPool, fake_cloud: FakeCloud
) -> None:
    broken = cloud_model("gpt", "openai", closed_port_url() + "/v1")
    healthy = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    with pytest.raises(UpstreamConnectError):
        await collect(pool.stream_chat(broken, simple_request(), KEY))
    assert pool.unavailable(broken) is not None
    assert pool.unavailable(healthy) is None and not pool.offline


async def test_connect_refused_is_retried_once_then_the_endpoint_is_skipped_fast(
    pool: CloudPool, fake_time: FakeTime
) -> None:
    model = cloud_model("gpt", "openai", closed_port_url() + "/v1", max_retries=3)
    with pytest.raises(UpstreamConnectError):
        await collect(pool.stream_chat(model, simple_request(), KEY))
    assert len(fake_time.sleeps) == 1  # max_connect_retries
    skip = pool.unavailable(model)
    assert skip is not None and skip.code == "unreachable"
    fake_time.now += HealthPolicy().unreachable_s + 1
    assert pool.unavailable(model) is None


async def test_two_unreachable_endpoints_mean_offline(
    pool: CloudPool, fake_time: FakeTime, fake_cloud: FakeCloud
) -> None:
    first = cloud_model("a", "openai", closed_port_url() + "/v1")
    second = cloud_model("b", "anthropic", closed_port_url())
    for model in (first, second):
        with pytest.raises(UpstreamConnectError):
            await collect(pool.stream_chat(model, simple_request(), KEY))
    assert pool.offline
    other = cloud_model("c", "openai", fake_cloud.openai_base_url)
    skip = pool.unavailable(other)
    assert skip is not None and skip.code == "offline"
    fake_time.now += HealthPolicy().offline_s + 1
    assert not pool.offline
    await collect(pool.stream_chat(other, simple_request(), KEY))
    assert not pool.offline


def test_dns_failure_means_offline_at_once() -> None:
    from edgeroute.providers import HealthBoard

    board = HealthBoard(clock=lambda: 0.0)
    cause = OSError("[Errno -3] Temporary failure in name resolution")
    exc = UpstreamConnectError("cloud/x: cannot connect")
    exc.__cause__ = cause
    board.record_failure("openai https://api.openai.com/v1", exc)
    assert board.offline


async def test_one_client_per_endpoint(pool: CloudPool, fake_cloud: FakeCloud) -> None:
    a = cloud_model("a", "openai", fake_cloud.openai_base_url)
    b = cloud_model("b", "openai", fake_cloud.openai_base_url + "/")
    c = cloud_model("c", "anthropic", fake_cloud.anthropic_base_url)
    assert pool.provider(a) is pool.provider(b)
    assert pool.provider(a) is not pool.provider(c)
    await collect(pool.stream_chat(a, simple_request(), KEY))
    await collect(pool.stream_chat(b, simple_request(), KEY))
    assert fake_cloud.count() == 2
