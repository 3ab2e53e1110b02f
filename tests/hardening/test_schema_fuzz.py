"""Schema fuzzing (schemathesis) against a live daemon: for every operation of its own OpenAPI document,
requests generated from the schema (valid and invalid) never get a 5xx, and every response matches the
document (status, content type, body schema, the OpenAI or Anthropic error shape). Bounded examples;
`scripts/fuzz_api.py` runs the same with many more.

Excluded: ``/api/events`` (an endless SSE stream) and ``/api/pull`` (would reach for the model hub). The
check that schema-valid requests succeed is off: a model name is any string in the schema, and an unknown
one is rightly a 404.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from edgeroute.config import Settings
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud
from tests.hardening.conftest import cloud_settings, memory_keys
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer

EXAMPLES = int(os.environ.get("EDGEROUTE_FUZZ_EXAMPLES", "30"))
LOCAL_MAX_TOKENS = 4  # generated bodies keep their shape; local generation stays short
PROMPT_CHARS = 64

SCHEMA = schemathesis.openapi.from_dict(create_app(Settings()).openapi()).exclude(
    path_regex=r"^/api/(events|pull)"
)


KNOWN_MODELS = ("auto", "cloud/gpt", "cloud/claude", "local/gemma3-270m", "local/minilm")


def steer(case: Any) -> None:
    """Most bodies name a model that exists (else nearly every one would stop at a 404), and local
    generation stays a few tokens long. Done on the case itself, so cases from every phase (examples,
    coverage, generation) get it; validity is kept (names stay non-empty strings, limits stay >= 1)."""
    body = case.body
    if not isinstance(body, dict):
        return
    pick = len(repr(body)) % (len(KNOWN_MODELS) + 1)
    if isinstance(body.get("model"), str) and body["model"] and pick < len(KNOWN_MODELS):
        body["model"] = KNOWN_MODELS[pick]
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if (
            isinstance(body.get(key), int)
            and not isinstance(body[key], bool)
            and body[key] > LOCAL_MAX_TOKENS
        ):
            body[key] = LOCAL_MAX_TOKENS
    limit = "max_output_tokens" if case.operation.path == "/v1/responses" else "max_tokens"  # its own name
    if "model" in body and case.operation.path != "/v1/messages" and body.get(limit) is None:
        body[limit] = LOCAL_MAX_TOKENS  # no limit would generate up to the context size
    prompt = body.get("prompt")  # local prompt processing is the slow part: keep prompts short
    if isinstance(prompt, str):
        body["prompt"] = prompt[:PROMPT_CHARS]
    elif isinstance(prompt, list):
        body["prompt"] = [p[:PROMPT_CHARS] if isinstance(p, str) else p for p in prompt[:4]]


@pytest.fixture(scope="module")
def daemon(
    starter_gguf: Path, minilm_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with FakeCloud() as gpt, FakeCloud() as claude:
        settings = make_settings(
            starter_gguf,
            local=[
                {"name": "gemma3-270m", "path": str(starter_gguf), "n_ctx": 256},
                {"name": "minilm", "path": str(minilm_gguf), "role": "embed"},
            ],
            cloud=cloud_settings(gpt, claude),
        )
        app = create_app(settings, home_paths(tmp_path_factory.mktemp("home")), keys=memory_keys())
        with LiveServer(app) as live:
            yield live


@pytest.fixture(autouse=True)
def cloud_first(daemon: LiveServer) -> None:
    """Auto-routed chat goes to the fake cloud (fast); a fuzzed POST /api/mode is undone per operation."""
    assert httpx.post(daemon.url + "/api/mode", json={"mode": "cloud-only"}).status_code == 200


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_conforms_and_never_5xx(case: Any, daemon: LiveServer) -> None:
    steer(case)
    case.call_and_validate(base_url=daemon.url, excluded_checks=[positive_data_acceptance], timeout=60)
