"""What real clients send that a strict reading would refuse, against a live daemon: explicit nulls the
OpenAI spec allows mean "not given"; paths joined from strings (``/v1//chat/completions``, a trailing
slash) are served as the canonical path, not a 404 or a redirect; and every 405 lists what the path takes
in ``Allow``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from edgeroute.wire.openai_models import EmbeddingRequestIn
from tests.fakes.cloud import FakeCloud
from tests.server.conftest import post, sent
from tests.server.live import LiveServer

HI = [{"role": "user", "content": "Hi"}]
# Every commonly nulled optional field of a chat completion, null.
NULLED = dict.fromkeys(
    [
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "tools",
        "tool_choice",
        "n",
        "seed",
        "user",
        "response_format",
        "parallel_tool_calls",
    ]
)


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud) -> None:
    cloud.reset()


def sse_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    lines = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]", response.text
    return [json.loads(line) for line in lines[:-1]]


# ---- explicit nulls ------------------------------------------------------------------------------


def test_a_chat_completion_with_every_optional_field_null_is_answered_as_if_none_was_given(
    live: LiveServer, cloud: FakeCloud
) -> None:
    answer = post(live, "/v1/chat/completions", {"model": "cloud/gpt", "messages": HI, **NULLED})
    assert answer["object"] == "chat.completion"  # stream: null is not streamed
    assert answer["choices"][0]["message"]["content"]
    body = sent(cloud)
    assert "max_tokens" not in body and "max_completion_tokens" not in body and "user" not in body


@pytest.mark.parametrize("options", [None, {"include_usage": None}])
def test_null_stream_options_stream_without_a_usage_chunk(
    live: LiveServer, options: dict[str, Any] | None
) -> None:
    body = {"model": "cloud/gpt", "messages": HI, "stream": True, "stream_options": options}
    response = httpx.post(live.url + "/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 200, response.text
    chunks = sse_chunks(response)
    assert chunks and all(chunk["choices"] for chunk in chunks)  # no usage chunk (choices: [])


@pytest.mark.parametrize(
    "nulls", [{"stream": None}, {"stream_options": None}, {"stream_options": {"include_usage": None}}]
)
def test_a_completion_takes_nulls(live: LiveServer, nulls: dict[str, Any]) -> None:
    body = {"model": "local/gemma3-270m", "prompt": "Once upon", "max_tokens": 2, "echo": None, **nulls}
    answer = post(live, "/v1/completions", body)
    assert answer["object"] == "text_completion"


@pytest.mark.parametrize(
    "nulls", [{"stream": None}, {"stream_options": None}, {"stream_options": {"include_usage": None}}]
)
def test_a_responses_request_takes_nulls(live: LiveServer, nulls: dict[str, Any]) -> None:
    answer = post(live, "/v1/responses", {"model": "cloud/gpt", "input": "Hi", **nulls})
    assert answer["object"] == "response" and answer["status"] == "completed"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
@pytest.mark.parametrize("stream", ["yes", 1])
def test_a_stream_that_is_not_a_boolean_or_null_is_still_refused(
    live: LiveServer, path: str, stream: object
) -> None:
    body = {"model": "cloud/gpt", "messages": HI, "input": "Hi", "stream": stream}
    response = httpx.post(live.url + path, json=body, timeout=60)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "stream"


def test_a_null_encoding_format_means_float() -> None:
    body = EmbeddingRequestIn.model_validate_json(b'{"model": "m", "input": "x", "encoding_format": null}')
    assert body.encoding_format == "float"


# ---- paths joined from strings -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/v1//chat/completions", "/v1/chat/completions/", "//v1/chat//completions/", "/chat/completions/"],
)
def test_a_joined_chat_completions_path_is_served(live: LiveServer, cloud: FakeCloud, path: str) -> None:
    answer = post(live, path, {"model": "cloud/gpt", "messages": HI})
    assert answer["object"] == "chat.completion"
    assert sent(cloud)["messages"] == HI


@pytest.mark.parametrize("path", ["/v1//messages", "/v1/messages/", "//v1/messages"])
def test_a_joined_messages_path_is_served(live: LiveServer, cloud: FakeCloud, path: str) -> None:
    answer = post(live, path, {"model": "cloud/claude", "max_tokens": 20, "messages": HI})
    assert answer["type"] == "message"
    assert sent(cloud)["max_tokens"] == 20


def test_a_joined_messages_path_answers_errors_in_the_anthropic_shape(live: LiveServer) -> None:
    response = httpx.post(live.url + "//v1/messages/", json={"model": "cloud/claude"}, timeout=60)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "invalid_request_error"


def test_other_paths_with_a_trailing_slash_are_served_too(live: LiveServer) -> None:
    response = httpx.get(live.url + "/v1/models/", timeout=60)  # httpx does not follow redirects
    assert response.status_code == 200, response.text
    assert any(m["id"] == "cloud/gpt" for m in response.json()["data"])
    root = httpx.get(live.url + "/", timeout=60)
    assert root.status_code == 200, root.text


# ---- 405 names the methods -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/health", "GET, HEAD"),
        ("GET", "/v1/chat/completions", "POST"),
        ("DELETE", "/v1/messages", "POST"),
        ("OPTIONS", "/", "GET, HEAD"),
        ("DELETE", "/api/mode", "GET, POST"),  # HEAD is declared on /health and / alone
        ("POST", "/v1/models/local/gemma3-270m", "GET"),
        ("GET", "/v1//chat/completions/", "POST"),
    ],
)
def test_a_405_lists_the_methods_the_path_takes(live: LiveServer, method: str, path: str, allow: str) -> None:
    response = httpx.request(method, live.url + path, timeout=60)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    for listed in allow.split(", "):  # each one listed is taken (bodyless: a 400 at most, never a 405)
        assert httpx.request(listed, live.url + path, timeout=60).status_code != 405, listed
