"""Routing inside the daemon: the learned score (with the MiniLM embedding through the engine) decides
`auto` requests and travels in the headers and the ledger; the cascade answers locally and escalates an
unsure answer to the cloud before any token reaches the client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgeroute.config import Settings
from edgeroute.keys import KeyStore
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud
from tests.fakes.memory_keyring import MemoryKeyring
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer

EASY = [{"role": "user", "content": "hi"}]
HARD = [
    {
        "role": "user",
        "content": "Prove that for every integer n > 2 the equation x^n + y^n = z^n has no solution in "
        "positive integers, then derive the complexity of your argument in three numbered steps, each with "
        "a precise bound, and compare it against two alternative approaches under these constraints.",
    }
]


@pytest.fixture(scope="module")
def routed(
    starter_gguf: Path, minilm_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, FakeCloud, Settings]]:
    with FakeCloud() as cloud:
        settings = Settings(
            local=[
                {"name": "gemma3-270m", "path": str(starter_gguf)},
                {"name": "minilm", "path": str(minilm_gguf), "role": "embed"},
            ],
            cloud=[
                {
                    "name": "gpt",
                    "provider": "openai",
                    "base_url": cloud.openai_base_url,
                    "model": "gpt-4o",
                    "key": "k",
                    "max_retries": 0,
                    "price_in": 2.5,
                    "price_out": 10.0,
                }
            ],
            engine={"keep_alive": -1, "use_extra_bufts": False},
            router={"target_cloud_share": 0.3},
        )
        keys = KeyStore(backend=MemoryKeyring(), environ={})
        keys.set("k", "sk-routing-test-1234")
        app = create_app(settings, home_paths(tmp_path_factory.mktemp("home")), keys=keys)
        with LiveServer(app) as live:
            yield live, cloud, settings


def chat(live: LiveServer, messages: list[dict[str, str]], **extra: object) -> httpx.Response:
    body = {"model": "auto", "messages": messages, "max_tokens": 6, **extra}
    response = httpx.post(live.url + "/v1/chat/completions", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return response


def streamed_text(response: httpx.Response) -> str:
    chunks = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_auto_requests_are_scored_and_the_score_is_reported(
    routed: tuple[LiveServer, FakeCloud, Settings],
) -> None:
    live, _, _ = routed
    easy, hard = chat(live, EASY), chat(live, HARD)
    easy_score, hard_score = (
        float(easy.headers["x-edgeroute-score"]),
        float(hard.headers["x-edgeroute-score"]),
    )
    assert 0.0 <= easy_score < hard_score <= 1.0
    assert easy.headers["x-edgeroute-reason"].startswith("score ")
    assert "degraded" not in easy.headers["x-edgeroute-reason"]  # the embedding ran, through the engine
    assert easy.headers["x-edgeroute-tier"] == "local"
    rows = httpx.get(live.url + "/api/requests?limit=2").json()["requests"]
    assert [r["route_score"] for r in rows] == pytest.approx([hard_score, easy_score], abs=1e-3)


def test_score_threshold_moves_with_the_target_share(routed: tuple[LiveServer, FakeCloud, Settings]) -> None:
    live, cloud, settings = routed
    try:
        settings.router.target_cloud_share = 1.0  # everything scored goes premium
        assert chat(live, EASY).headers["x-edgeroute-tier"] == "cloud"
        settings.router.target_cloud_share = 0.0
        before = cloud.count()
        assert chat(live, HARD).headers["x-edgeroute-tier"] == "local"
        assert cloud.count() == before
    finally:
        settings.router.target_cloud_share = 0.3


def test_the_router_api_reports_the_threshold_the_score_is_held_to(
    routed: tuple[LiveServer, FakeCloud, Settings],
) -> None:
    """The TUI draws it as the line between local and cloud; it was always null."""
    live, _, settings = routed
    try:
        at_30 = httpx.get(live.url + "/api/router").json()["threshold"]
        assert 0.0 < at_30 < 1.0  # before a request's adaptive shifts (busy CPU, battery), which vary
        higher_share = httpx.post(live.url + "/api/router", json={"target_cloud_share": 0.6}).json()
        assert higher_share["threshold"] < at_30  # a larger cloud share lowers the bar
    finally:
        settings.router.target_cloud_share = 0.3


def test_cascade_escalates_an_unsure_local_answer(routed: tuple[LiveServer, FakeCloud, Settings]) -> None:
    live, cloud, settings = routed
    try:
        settings.router.target_cloud_share = 0.0  # the score keeps it local; the cascade has the last word
        settings.router.cascade.enabled = True
        settings.router.cascade.min_token_prob = 1.0  # no answer is ever that sure
        before = cloud.count()
        r = chat(live, EASY, stream=True)
        assert r.headers["x-edgeroute-model"] == "cloud/gpt"
        assert r.headers["x-edgeroute-fallbacks"].startswith("local/gemma3-270m:cascade_escalated")
        assert streamed_text(r) == "Hello from the fake cloud." and cloud.count() == before + 1

        settings.router.cascade.min_token_prob = 0.0  # every answer is sure enough: kept local
        kept = chat(live, EASY, stream=True)
        assert kept.headers["x-edgeroute-model"] == "local/gemma3-270m"
        assert kept.headers["x-edgeroute-fallbacks"] == "" and cloud.count() == before + 1
    finally:
        settings.router.cascade.enabled = False
        settings.router.target_cloud_share = 0.3


def test_a_cloud_route_without_any_key_names_the_models_and_the_fix(
    starter_gguf: Path, tmp_path: Path
) -> None:
    """`x-edgeroute-route: cloud` with cloud models configured but no key stored: the 400 says which models
    lack one and the command for each, not the generic "add a [[cloud]] model"."""
    settings = make_settings(
        starter_gguf,
        cloud=[
            {"name": "gpt", "provider": "openai", "model": "gpt-4o", "key": "work-openai"},
            {"name": "mini", "provider": "openai", "model": "gpt-4o-mini", "key_env": "MINI_KEY"},
        ],
    )
    keys = KeyStore(backend=MemoryKeyring(), environ={})
    with LiveServer(create_app(settings, home_paths(tmp_path), keys=keys)) as live:
        body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        answer = httpx.post(
            live.url + "/v1/chat/completions", json=body, headers={"x-edgeroute-route": "cloud"}
        )
        assert answer.status_code == 400, answer.text
        message = answer.json()["error"]["message"]
        assert "cloud/gpt: `edgeroute keys set work-openai`" in message, message
        assert "cloud/mini: `edgeroute keys set openai` or set MINI_KEY" in message, message
        assert httpx.get(live.url + "/health").status_code == 200
