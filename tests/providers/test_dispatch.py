"""Fallback chains end to end over loopback: the routed target, then its fallbacks, with every attempt kept
in the trail, and the final error naming each attempt when all fail. Covers each injected fault (500,
429 + Retry-After, connect refused, timeout before the first token, a stream cut, malformed JSON, a slow
first token), private requests (the cloud receives nothing), keys, cooldowns, context windows, offline."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from edgeroute.chat import Attempt, RouteDecision
from edgeroute.config import Settings
from edgeroute.dispatch import Dispatcher
from edgeroute.errors import (
    AllTargetsFailed,
    ContextLengthExceeded,
    LocalModelCrashed,
    MissingApiKey,
    UpstreamError,
)
from edgeroute.keys import KeyStore
from edgeroute.providers import CloudPool
from tests.fakes.cloud import FakeCloud, Fault
from tests.fakes.local import ScriptedLocal
from tests.fakes.loopback import closed_port_url
from tests.fakes.memory_keyring import MemoryKeyring
from tests.providers.helpers import collect, simple_request, text_of

FAST = {"connect_timeout": 2.0, "first_token_timeout": 1.0, "total_timeout": 20.0, "max_retries": 0}
KEYS = {"openai": "sk-openai-test-0123456789", "anthropic": "sk-ant-test-0123456789"}


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def settings_for(cloud: list[dict[str, Any]], **sections: Any) -> Settings:
    return Settings(
        cloud=[{**FAST, "model": f"{c['name']}-upstream", **c} for c in cloud],
        local=[
            {"name": "qwen", "path": "/models/qwen.gguf"},
            {"name": "gemma", "path": "/models/gemma.gguf"},
        ],
        **sections,
    )


@pytest.fixture
async def build() -> AsyncIterator[Callable[..., Dispatcher]]:
    pools: list[CloudPool] = []

    def make(
        settings: Settings,
        *,
        local: ScriptedLocal | None = None,
        keys: dict[str, str] | None = None,
        sleeps: Sleeps | None = None,
        environ: dict[str, str] | None = None,
    ) -> Dispatcher:
        backend = MemoryKeyring()
        store = KeyStore(backend, environ=environ or {})
        for name, secret in (KEYS if keys is None else keys).items():
            store.set(name, secret)
        pool = CloudPool(sleep=sleeps or Sleeps(), rand=lambda: 0.0)
        pools.append(pool)
        return Dispatcher(settings, pool, store, local or ScriptedLocal())

    yield make
    for pool in pools:
        await pool.aclose()


def cloud_decision(target: str, fallbacks: list[str] | None = None) -> RouteDecision:
    tier = "cloud" if target.startswith("cloud/") else "local"
    return RouteDecision(tier=tier, target=target, reason="test", fallbacks=fallbacks or [])


def trail_summary(trail: list[Attempt]) -> list[tuple[str, str | None, int | None]]:
    return [(a.target, a.error, a.status) for a in trail]


def two_clouds(a: FakeCloud, b: FakeCloud, **extra: Any) -> Settings:
    return settings_for(
        [
            {
                "name": "gpt",
                "provider": "openai",
                "base_url": a.openai_base_url,
                "fallbacks": ["cloud/claude", "local/qwen"],
            },
            {"name": "claude", "provider": "anthropic", "base_url": b.anthropic_base_url},
        ],
        **extra,
    )


async def test_500_falls_back_to_the_next_provider(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.http(500, "boom"))
    dispatcher = build(two_clouds(fake_cloud, fake_cloud_b))
    opened = await dispatcher.open_stream(simple_request(), cloud_decision("cloud/gpt"))
    assert (opened.target, opened.tier) == ("cloud/claude", "cloud")
    assert text_of(await collect(opened.events)) == "Hello from the fake cloud."
    assert trail_summary(opened.trail) == [("cloud/gpt", "upstream_error", 500), ("cloud/claude", None, None)]
    assert opened.trail[0].message == "HTTP 500: boom"
    assert opened.fallbacks_header().startswith("cloud/gpt:upstream_error:500:")
    assert opened.cloud_model is not None and opened.cloud_model.name == "claude"
    assert (fake_cloud.count(), fake_cloud_b.count("anthropic")) == (1, 1)


async def test_429_with_retry_after_is_retried_and_the_retry_is_in_the_trail(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.rate_limited(retry_after=3))
    sleeps = Sleeps()
    settings = settings_for(
        [{"name": "gpt", "provider": "openai", "base_url": fake_cloud.openai_base_url, "max_retries": 2}]
    )
    opened = await build(settings, sleeps=sleeps).open_stream(simple_request(), cloud_decision("cloud/gpt"))
    assert opened.target == "cloud/gpt"
    assert sleeps.waits == [3.0]
    assert trail_summary(opened.trail) == [
        ("cloud/gpt", "upstream_rate_limited", 429),
        ("cloud/gpt", None, None),
    ]
    assert "retrying in 3.0s" in opened.trail[0].message
    await opened.aclose()


async def test_429_without_retries_falls_back(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.rate_limited(retry_after=60))
    opened = await build(two_clouds(fake_cloud, fake_cloud_b)).open_stream(
        simple_request(), cloud_decision("cloud/gpt")
    )
    assert trail_summary(opened.trail)[0] == ("cloud/gpt", "upstream_rate_limited", 429)
    assert opened.target == "cloud/claude"
    await opened.aclose()


async def test_connect_refused_falls_back_to_local_and_later_requests_skip_fast(
    build: Callable[..., Dispatcher],
) -> None:
    settings = settings_for(
        [
            {
                "name": "gpt",
                "provider": "openai",
                "base_url": closed_port_url() + "/v1",
                "fallbacks": ["local/qwen"],
            }
        ]
    )
    local = ScriptedLocal()
    dispatcher = build(settings, local=local)
    opened = await dispatcher.open_stream(simple_request(), cloud_decision("cloud/gpt"))
    assert (opened.target, opened.tier) == ("local/qwen", "local")
    assert text_of(await collect(opened.events)) == "Hello from the local model."
    assert trail_summary(opened.trail) == [
        ("cloud/gpt", "upstream_unreachable", None),
        ("local/qwen", None, None),
    ]
    again = await dispatcher.open_stream(simple_request(), cloud_decision("cloud/gpt"))
    assert trail_summary(again.trail)[0] == ("cloud/gpt", "unreachable", None)
    assert again.trail[0].latency_ms == 0.0  # skipped without a connection attempt
    await again.aclose()


async def test_an_unreachable_upstream_is_named_once_in_the_error(build: Callable[..., Dispatcher]) -> None:
    """The message says where it could not connect and why, once per target with its retries counted,
    without aiohttp's repeated text ("ssl:default" for an http URL) or a "retrying in" that never came."""
    url = closed_port_url()
    settings = settings_for(
        [{"name": "gpt", "provider": "openai", "base_url": url + "/v1", "max_retries": 1}]
    )
    local = ScriptedLocal(failures={"qwen": LocalModelCrashed("local/qwen: the worker crashed")})
    with pytest.raises(AllTargetsFailed) as info:
        await build(settings, local=local).open_stream(simple_request(), cloud_decision("cloud/gpt"))
    message = info.value.to_openai()["error"]["message"]
    host_port = url.removeprefix("http://")
    expected = f"cloud/gpt: upstream_unreachable - cannot connect to {host_port} (Connection refused) (after 1 retry);"
    assert expected in message and message.count("cloud/gpt") == 1, message
    assert "ssl:default" not in message and "retrying in" not in message, message
    assert [a.target for a in info.value.attempts].count("cloud/gpt") == 2  # the trail keeps both tries


async def test_timeout_before_the_first_token_falls_back(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.hang(5))
    opened = await build(two_clouds(fake_cloud, fake_cloud_b)).open_stream(
        simple_request(), cloud_decision("cloud/gpt")
    )
    assert trail_summary(opened.trail)[0] == ("cloud/gpt", "upstream_timeout", None)
    assert 900 <= opened.trail[0].latency_ms < 3000
    assert opened.target == "cloud/claude"
    await opened.aclose()


async def test_slow_first_token_within_the_timeout_is_served(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.slow_first_token(0.4))
    opened = await build(two_clouds(fake_cloud, fake_cloud_b)).open_stream(
        simple_request(), cloud_decision("cloud/gpt")
    )
    assert opened.target == "cloud/gpt" and opened.first_event_ms >= 400
    assert trail_summary(opened.trail) == [("cloud/gpt", None, None)]
    assert opened.fallbacks_header() == ""
    await opened.aclose()


async def test_slow_first_token_past_the_timeout_falls_back(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.slow_first_token(5))
    opened = await build(two_clouds(fake_cloud, fake_cloud_b)).open_stream(
        simple_request(), cloud_decision("cloud/gpt")
    )
    assert trail_summary(opened.trail)[0] == ("cloud/gpt", "upstream_timeout", None)
    assert "no first token within 1s" in opened.trail[0].message
    assert opened.target == "cloud/claude"
    await opened.aclose()


async def test_malformed_json_falls_back(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.malformed_json())
    opened = await build(two_clouds(fake_cloud, fake_cloud_b)).open_stream(
        simple_request(), cloud_decision("cloud/gpt")
    )
    assert trail_summary(opened.trail)[0] == ("cloud/gpt", "upstream_bad_response", None)
    assert opened.target == "cloud/claude"
    await opened.aclose()


async def test_stream_cut_before_the_first_token_falls_back(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.cut(0))
    opened = await build(two_clouds(fake_cloud, fake_cloud_b)).open_stream(
        simple_request(), cloud_decision("cloud/gpt")
    )
    assert trail_summary(opened.trail)[0] == ("cloud/gpt", "upstream_disconnected", None)
    assert opened.target == "cloud/claude"
    await opened.aclose()


async def test_stream_cut_after_the_first_token_reaches_the_client(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.cut(2))
    opened = await build(two_clouds(fake_cloud, fake_cloud_b)).open_stream(
        simple_request(), cloud_decision("cloud/gpt")
    )
    assert opened.target == "cloud/gpt"
    seen = []
    with pytest.raises(UpstreamError, match="closed mid-response"):
        async for event in opened.events:
            seen.append(event)
    assert text_of(seen) == "Hello from t"
    assert (fake_cloud.count(), fake_cloud_b.count()) == (1, 0)  # no retry, no second answer


async def test_all_fail_names_every_attempt(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.http(500, "first broke"))
    fake_cloud_b.fail_next(Fault.malformed_json())
    local = ScriptedLocal(failures={"qwen": LocalModelCrashed("local/qwen: the worker crashed (signal 11)")})
    with pytest.raises(AllTargetsFailed) as info:
        await build(two_clouds(fake_cloud, fake_cloud_b), local=local).open_stream(
            simple_request(), cloud_decision("cloud/gpt")
        )
    exc = info.value
    assert exc.status == 502
    assert trail_summary(exc.attempts) == [
        ("cloud/gpt", "upstream_error", 500),
        ("cloud/claude", "upstream_bad_response", None),
        ("local/qwen", "local_model_crashed", None),
    ]
    message = exc.to_openai()["error"]["message"]
    assert message.startswith("All targets failed: ")
    for part in (
        "cloud/gpt: upstream_error (HTTP 500) - HTTP 500: first broke",
        "cloud/claude: upstream_bad_response",
        "local/qwen: local_model_crashed",
    ):
        assert part in message


async def test_all_unavailable_is_503_with_retry_after(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.rate_limited(retry_after=90))
    fake_cloud_b.fail_next(Fault.rate_limited(retry_after=45))
    settings = two_clouds(fake_cloud, fake_cloud_b)
    dispatcher = build(settings, local=ScriptedLocal(failures={"qwen": LocalModelCrashed("x")}))
    decision = cloud_decision("cloud/gpt", ["cloud/claude"])
    with pytest.raises(AllTargetsFailed) as first:
        await dispatcher.open_stream(simple_request(), decision)
    assert first.value.status == 503 and first.value.retry_after == 45
    # both endpoints now cool down: the next request is refused without touching them
    with pytest.raises(AllTargetsFailed) as second:
        await dispatcher.open_stream(simple_request(), decision)
    assert trail_summary(second.value.attempts) == [
        ("cloud/gpt", "circuit_open", None),
        ("cloud/claude", "circuit_open", None),
    ]
    assert second.value.status == 503
    assert (fake_cloud.count(), fake_cloud_b.count()) == (1, 1)


async def test_private_request_never_reaches_the_cloud(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud
) -> None:
    settings = settings_for(
        [{"name": "gpt", "provider": "openai", "base_url": fake_cloud.openai_base_url}],
        router={"default_fallbacks": ["cloud/gpt", "local/gemma"]},
    )
    local = ScriptedLocal(
        failures={"qwen": LocalModelCrashed("crashed"), "gemma": LocalModelCrashed("crashed too")}
    )
    with pytest.raises(AllTargetsFailed) as info:
        await build(settings, local=local).open_stream(
            simple_request(private=True), cloud_decision("local/qwen")
        )
    assert trail_summary(info.value.attempts) == [
        ("local/qwen", "local_model_crashed", None),
        ("local/gemma", "local_model_crashed", None),
    ]
    assert fake_cloud.requests == []
    assert local.calls == ["qwen", "gemma"]


async def test_private_request_routed_to_cloud_is_refused_not_sent(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud
) -> None:
    settings = settings_for(
        [
            {
                "name": "gpt",
                "provider": "openai",
                "base_url": fake_cloud.openai_base_url,
                "fallbacks": ["local/qwen"],
            }
        ]
    )
    opened = await build(settings).open_stream(simple_request(private=True), cloud_decision("cloud/gpt"))
    assert opened.target == "local/qwen"
    assert trail_summary(opened.trail)[0] == ("cloud/gpt", "private", None)
    assert fake_cloud.requests == []
    await opened.aclose()


async def test_pinned_provider_without_key_says_which_command_to_run(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud
) -> None:
    settings = settings_for(
        [
            {
                "name": "gpt",
                "provider": "openai",
                "base_url": fake_cloud.openai_base_url,
                "key_env": "OPENAI_API_KEY",
                "fallbacks": [],
            }
        ]
    )
    with pytest.raises(MissingApiKey) as info:
        await build(settings, keys={}).open_stream(simple_request(), cloud_decision("cloud/gpt"))
    assert info.value.status == 401
    assert "`edgeroute keys set openai`" in info.value.message and "OPENAI_API_KEY" in info.value.message
    assert trail_summary(info.value.attempts) == [("cloud/gpt", "missing_api_key", None)]
    assert fake_cloud.requests == []


async def test_provider_without_key_is_skipped_in_a_chain(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    opened = await build(
        two_clouds(fake_cloud, fake_cloud_b), keys={"anthropic": KEYS["anthropic"]}
    ).open_stream(simple_request(), cloud_decision("cloud/gpt"))
    assert trail_summary(opened.trail) == [
        ("cloud/gpt", "missing_api_key", None),
        ("cloud/claude", None, None),
    ]
    await opened.aclose()


async def test_key_from_the_environment_wins(build: Callable[..., Dispatcher], fake_cloud: FakeCloud) -> None:
    fake_cloud.api_key = "sk-from-env-0123456789"
    settings = settings_for(
        [{"name": "gpt", "provider": "openai", "base_url": fake_cloud.openai_base_url, "key_env": "MY_KEY"}]
    )
    dispatcher = build(settings, environ={"MY_KEY": "sk-from-env-0123456789"})
    opened = await dispatcher.open_stream(simple_request(), cloud_decision("cloud/gpt"))
    assert opened.target == "cloud/gpt"
    await opened.aclose()


async def test_context_window_too_small_is_skipped(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    settings = settings_for(
        [
            {
                "name": "small",
                "provider": "openai",
                "base_url": fake_cloud.openai_base_url,
                "context_window": 1000,
                "fallbacks": ["cloud/big"],
            },
            {
                "name": "big",
                "provider": "anthropic",
                "base_url": fake_cloud_b.anthropic_base_url,
                "context_window": 200000,
            },
        ]
    )
    req = simple_request("word " * 2000, max_tokens=500)  # ~2500 prompt tokens + 500
    opened = await build(settings).open_stream(req, cloud_decision("cloud/small"))
    assert trail_summary(opened.trail) == [
        ("cloud/small", "context_length_exceeded", None),
        ("cloud/big", None, None),
    ]
    assert "context window is 1000" in opened.trail[0].message
    assert fake_cloud.count() == 0
    await opened.aclose()


async def test_a_prompt_that_fits_nowhere_is_a_400(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud
) -> None:
    settings = settings_for(
        [
            {
                "name": "small",
                "provider": "openai",
                "base_url": fake_cloud.openai_base_url,
                "context_window": 100,
                "fallbacks": [],
            }
        ]
    )
    with pytest.raises(ContextLengthExceeded) as info:
        await build(settings).open_stream(simple_request("x" * 2000), cloud_decision("cloud/small"))
    assert info.value.status == 400 and "cloud/small" in info.value.message


async def test_upstream_context_error_falls_back(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.http(400, "This model's maximum context length is 8192 tokens"))
    opened = await build(two_clouds(fake_cloud, fake_cloud_b)).open_stream(
        simple_request(), cloud_decision("cloud/gpt")
    )
    assert trail_summary(opened.trail)[0] == ("cloud/gpt", "context_length_exceeded", 400)
    assert opened.target == "cloud/claude"
    await opened.aclose()


async def test_chain_sources(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    settings = two_clouds(fake_cloud, fake_cloud_b, router={"default_fallbacks": ["local/gemma"]})
    dispatcher = build(settings)
    req = simple_request()
    assert dispatcher.chain(req, cloud_decision("cloud/gpt")) == ["cloud/gpt", "cloud/claude", "local/qwen"]
    assert dispatcher.chain(req, cloud_decision("cloud/claude")) == ["cloud/claude", "local/gemma"]
    assert dispatcher.chain(req, cloud_decision("local/qwen")) == ["local/qwen", "local/gemma"]
    assert dispatcher.chain(req, cloud_decision("cloud/gpt", ["local/gemma", "cloud/gpt"])) == [
        "cloud/gpt",
        "local/gemma",
    ]
    assert dispatcher.chain(
        simple_request(private=True), cloud_decision("local/qwen", ["cloud/gpt", "local/gemma"])
    ) == ["local/qwen", "local/gemma"]
    local_only = build(two_clouds(fake_cloud, fake_cloud_b, router={"mode": "local-only"}))
    assert local_only.chain(req, cloud_decision("cloud/gpt")) == ["cloud/gpt", "local/qwen"]


async def test_offline_requests_that_may_run_locally_go_local(build: Callable[..., Dispatcher]) -> None:
    settings = settings_for(
        [
            {
                "name": "gpt",
                "provider": "openai",
                "base_url": closed_port_url() + "/v1",
                "fallbacks": ["cloud/claude"],
            },
            {"name": "claude", "provider": "anthropic", "base_url": closed_port_url()},
        ]
    )
    dispatcher = build(settings)
    opened = await dispatcher.open_stream(simple_request(), cloud_decision("cloud/gpt"))
    assert opened.target == "local/qwen"
    assert trail_summary(opened.trail) == [
        ("cloud/gpt", "upstream_unreachable", None),
        ("cloud/claude", "upstream_unreachable", None),
        ("local/qwen", None, None),
    ]
    assert dispatcher.cloud.offline
    # while offline nothing waits on the network
    again = await dispatcher.open_stream(simple_request(), cloud_decision("cloud/gpt"))
    assert trail_summary(again.trail) == [
        ("cloud/gpt", "offline", None),
        ("cloud/claude", "offline", None),
        ("local/qwen", None, None),
    ]
    await opened.aclose()
    await again.aclose()
    # a request pinned to the cloud is not silently answered by a local model
    with pytest.raises(AllTargetsFailed) as info:
        await dispatcher.open_stream(simple_request(model="cloud/gpt"), cloud_decision("cloud/gpt"))
    assert info.value.status == 503


async def test_each_fallback_is_logged_without_prompt_or_key(
    build: Callable[..., Dispatcher],
    fake_cloud: FakeCloud,
    fake_cloud_b: FakeCloud,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_cloud.fail_next(Fault.http(503, "down"))
    caplog.set_level(logging.DEBUG)
    opened = await build(two_clouds(fake_cloud, fake_cloud_b)).open_stream(
        simple_request("SECRET PROMPT TEXT"), cloud_decision("cloud/gpt")
    )
    await opened.aclose()
    warnings = [r for r in caplog.records if r.name == "edgeroute.dispatch" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    line = warnings[0].getMessage()
    assert "cloud/gpt" in line and "upstream_error" in line and "HTTP 503" in line and "cloud/claude" in line
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert "SECRET PROMPT TEXT" not in everything
    assert all(key not in everything for key in KEYS.values())


async def test_a_backend_bug_does_not_hide_the_next_target(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud
) -> None:
    settings = settings_for(
        [{"name": "gpt", "provider": "openai", "base_url": fake_cloud.openai_base_url}],
        router={"default_fallbacks": ["cloud/gpt"]},
    )
    local = ScriptedLocal(failures={"qwen": KeyError("oops")})  # type: ignore[dict-item]
    opened = await build(settings, local=local).open_stream(simple_request(), cloud_decision("local/qwen"))
    assert trail_summary(opened.trail) == [("local/qwen", "internal_error", None), ("cloud/gpt", None, None)]
    assert opened.trail[0].message == "KeyError"
    await opened.aclose()


async def test_cancelling_while_waiting_for_the_first_token_closes_the_upstream(
    build: Callable[..., Dispatcher], fake_cloud: FakeCloud, fake_cloud_b: FakeCloud
) -> None:
    import asyncio

    fake_cloud.fail_next(Fault.hang(10))
    dispatcher = build(two_clouds(fake_cloud, fake_cloud_b))
    task = asyncio.create_task(dispatcher.open_stream(simple_request(), cloud_decision("cloud/gpt")))
    for _ in range(100):  # until the fake holds the request
        if fake_cloud.count():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):  # the fake sees the connection go away, long before its 10 s hang ends
        if fake_cloud.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake_cloud.disconnects == 1
    assert fake_cloud_b.count() == 0  # no fallback for a request nobody waits for
