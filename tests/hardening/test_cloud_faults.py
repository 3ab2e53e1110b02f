"""Cloud faults through the whole daemon: 5xx, 429, timeouts, connection resets and truncated or broken
streams, before and after the first token, streamed and not. Before the first token the request falls back
(the answer names the model that answered, the trail names the failure); after it, the client gets a clean
error in its API's shape. No request hangs, every request is a ledger row with its trail, and every failure
is a log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.cloud import Fault
from tests.hardening.conftest import MSG, Stack, error_event, stream_chat

BOUND_S = 15.0  # no request may take longer (first_token_timeout is 1 s; a hang is 3 s)


@pytest.fixture(autouse=True)
def healthy_afterwards(stack: Stack) -> Iterator[None]:
    """Each test starts from clean fakes and leaves every endpoint healthy (a success resets the breaker)."""
    stack.gpt.reset()
    stack.claude.reset()
    yield
    stack.gpt.reset()
    stack.claude.reset()
    for model in ("cloud/gpt", "cloud/claude", "cloud/solo"):
        r = httpx.post(stack.url + "/v1/chat/completions", json={"model": model, "messages": MSG}, timeout=60)
        assert r.status_code == 200, r.text


BEFORE_FIRST_TOKEN = [
    pytest.param(Fault.http(500), "upstream_error", 500, id="500"),
    pytest.param(Fault.http(503, "overloaded"), "upstream_error", 503, id="503"),
    pytest.param(Fault.rate_limited(retry_after=1), "upstream_rate_limited", 429, id="429"),
    pytest.param(Fault.hang(3.0), "upstream_timeout", None, id="no-headers-timeout"),
    pytest.param(Fault.slow_first_token(3.0), "upstream_timeout", None, id="no-first-token-timeout"),
    pytest.param(Fault.cut(after_chunks=0), "upstream_disconnected", None, id="reset-before-token"),
    pytest.param(Fault.malformed_json(after_chunks=0), "upstream_bad_response", None, id="malformed"),
    pytest.param(Fault.stream_error(after_chunks=0), "upstream_error", None, id="error-event"),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize(("fault", "code", "status"), BEFORE_FIRST_TOKEN)
def test_fault_before_first_token_falls_back_with_trail_row_and_log(
    stack: Stack,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
    code: str,
    status: int | None,
    stream: bool,
) -> None:
    caplog.set_level(logging.WARNING, logger="edgeroute")
    stack.gpt.fail_next(fault)
    started = time.monotonic()
    if stream:
        r, events = stream_chat(stack.url, {"model": "cloud/gpt", "messages": MSG})
        assert events[-1] == "[DONE]" and error_event(events) is None
    else:
        r = httpx.post(
            stack.url + "/v1/chat/completions", json={"model": "cloud/gpt", "messages": MSG}, timeout=60
        )
        assert r.json()["choices"][0]["message"]["content"] == "Hello from the fake cloud."
    assert time.monotonic() - started < BOUND_S
    assert r.status_code == 200
    assert r.headers["x-edgeroute-model"] == "cloud/claude"
    trail = r.headers["x-edgeroute-fallbacks"]
    assert trail.startswith(f"cloud/gpt:{code}" + (f":{status}" if status else ""))

    row = stack.last_row()
    assert row["status"] == 200 and row["served_model"] == "cloud/claude"
    assert [(a["target"], a["error"]) for a in row["attempts"]] == [
        ("cloud/gpt", code),
        ("cloud/claude", None),
    ]
    assert any("fallback: cloud/gpt failed" in m and code in m for m in caplog.messages), caplog.messages


AFTER_FIRST_TOKEN = [
    pytest.param(Fault.cut(after_chunks=2), "upstream_disconnected", id="reset-mid-stream"),
    pytest.param(Fault.malformed_json(after_chunks=2), "upstream_bad_response", id="malformed-mid-stream"),
    pytest.param(Fault.stream_error(after_chunks=2), "upstream_error", id="error-event-mid-stream"),
]


@pytest.mark.parametrize("fault,code", AFTER_FIRST_TOKEN)
def test_fault_after_first_token_ends_the_stream_with_an_error_event(
    stack: Stack, caplog: pytest.LogCaptureFixture, fault: Fault, code: str
) -> None:
    caplog.set_level(logging.WARNING, logger="edgeroute")
    stack.gpt.fail_next(fault)
    started = time.monotonic()
    r, events = stream_chat(stack.url, {"model": "cloud/gpt", "messages": MSG})
    assert time.monotonic() - started < BOUND_S
    assert r.status_code == 200 and r.headers["x-edgeroute-model"] == "cloud/gpt"  # headers left with token 1
    assert any('"content":"Hello' in e for e in events)  # the tokens before the fault were delivered
    error = error_event(events)
    assert error is not None and error["code"] == code
    assert events[-1] == "[DONE]"  # the stream is closed properly, after the error event
    row = stack.last_row()
    assert row["error"] == code and row["status"] >= 500 and row["served_model"] == "cloud/gpt"
    assert any(code in m and "cloud/gpt" in m for m in caplog.messages), caplog.messages


@pytest.mark.parametrize("fault,code", AFTER_FIRST_TOKEN)
def test_fault_after_first_token_in_a_json_request_is_a_clean_error(
    stack: Stack, fault: Fault, code: str
) -> None:
    stack.gpt.fail_next(fault)
    r = httpx.post(
        stack.url + "/v1/chat/completions", json={"model": "cloud/gpt", "messages": MSG}, timeout=60
    )
    assert r.status_code >= 500
    assert r.json()["error"]["code"] == code
    assert stack.last_row()["error"] == code


def test_anthropic_client_sees_a_mid_stream_fault_as_an_anthropic_error_event(stack: Stack) -> None:
    stack.claude.fail_next(Fault.cut(after_chunks=2))
    body: dict[str, Any] = {"model": "cloud/claude", "messages": MSG, "max_tokens": 50, "stream": True}
    with httpx.stream("POST", stack.url + "/v1/messages", json=body, timeout=60) as r:
        text = r.read().decode()
    assert "event: message_start" in text and "event: error" in text
    assert "event: message_stop" not in text
    assert stack.last_row()["error"] == "upstream_disconnected"


def test_every_target_failing_is_one_502_naming_each_attempt(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edgeroute")
    stack.gpt.fail_next(Fault.http(500))
    before = stack.row_count()
    started = time.monotonic()
    r = httpx.post(
        stack.url + "/v1/chat/completions", json={"model": "cloud/solo", "messages": MSG}, timeout=60
    )
    assert time.monotonic() - started < BOUND_S
    assert r.status_code == 502
    error = r.json()["error"]
    assert (
        error["code"] == "all_targets_failed" and "cloud/solo: upstream_error (HTTP 500)" in error["message"]
    )
    assert stack.row_count() == before + 1
    row = stack.last_row()
    assert row["status"] == 502 and row["tier"] is None and row["attempts"][0]["status"] == 500
    assert any("cloud/solo failed" in m for m in caplog.messages)


def test_whole_cloud_failing_lands_on_the_local_model(stack: Stack) -> None:
    stack.gpt.fail_next(Fault.http(502))
    stack.claude.fail_next(Fault.rate_limited(retry_after=1))
    r = httpx.post(
        stack.url + "/v1/chat/completions",
        json={"model": "cloud/gpt", "messages": MSG, "max_tokens": 3},
        timeout=60,
    )
    assert r.status_code == 200 and r.headers["x-edgeroute-model"] == "local/gemma3-270m"
    assert [a["error"] for a in stack.last_row()["attempts"]] == [
        "upstream_error",
        "upstream_rate_limited",
        None,
    ]


def test_a_client_that_goes_away_mid_stream_closes_the_upstream_and_is_recorded(stack: Stack) -> None:
    from tests.fakes.cloud import Reply

    stack.gpt.reset(Reply(text="word " * 200, chunk_chars=5, chunk_delay=0.05))
    before = stack.row_count()
    with httpx.stream(
        "POST",
        stack.url + "/v1/chat/completions",
        json={"model": "cloud/gpt", "messages": MSG, "stream": True},
        timeout=30,
    ) as r:
        words = 0
        for line in r.iter_lines():
            words += '"content":"word' in line
            if words == 8:
                break  # leave after 8 tokens of "word "
    deadline = time.monotonic() + 10
    while stack.row_count() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    row = stack.last_row()
    assert row["status"] == 499 and row["error"] == "client_disconnected"
    # What streamed before the client left is billed upstream: it is counted (estimated), not 0.
    assert row["completion_tokens"] >= 8 * 5 // 4 and row["estimated"]
    assert row["cost_usd"] > 0
