"""A local worker killed mid-answer (SIGKILL, as the OOM killer or a native crash would): the stream ends
with a clean `local_model_crashed` error at once, the request is a ledger row, the log says so, and the
next request gets a fresh worker. A worker killed while idle costs the next request nothing but a reload."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

import httpx
import pytest

from tests.hardening.conftest import Stack, error_event, sse_data

LONG = [{"role": "user", "content": "Write a long story about a lighthouse keeper and the sea."}]


def worker_pid(stack: Stack) -> int:
    models = stack.services.engine.status().models
    (model,) = [m for m in models if m.name == "gemma3-270m"]
    return int(model.pid)


def warm(stack: Stack) -> None:
    r = httpx.post(
        stack.url + "/v1/chat/completions",
        json={"model": "local/gemma3-270m", "messages": LONG, "max_tokens": 2},
        timeout=120,
    )
    assert r.status_code == 200, r.text


def test_worker_killed_mid_stream_ends_the_stream_with_an_error(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edgeroute")
    warm(stack)
    pid = worker_pid(stack)
    body: dict[str, Any] = {"model": "local/gemma3-270m", "messages": LONG, "max_tokens": 400, "stream": True}
    lines: list[str] = []
    with httpx.stream("POST", stack.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        tokens = 0
        for line in r.iter_lines():
            lines.append(line)
            if '"content":"' in line and '"content":""' not in line:
                tokens += 1
                if tokens == 3:
                    os.kill(pid, signal.SIGKILL)
                    killed_at = time.monotonic()
        ended_in = time.monotonic() - killed_at
    assert ended_in < 10, f"the stream went on {ended_in:.1f}s after the worker died"
    events = sse_data("\n".join(lines))
    error = error_event(events)
    assert error is not None and error["code"] == "local_model_crashed", events[-3:]
    assert events[-1] == "[DONE]"
    row = stack.last_row()
    assert row["status"] == 502 and row["error"] == "local_model_crashed"
    assert row["served_model"] == "local/gemma3-270m"
    assert any("local_model_crashed" in m for m in caplog.messages), caplog.messages

    warm(stack)  # a fresh worker answers the next request
    assert worker_pid(stack) != pid


def test_worker_killed_during_a_json_request_is_a_502(stack: Stack) -> None:
    warm(stack)
    pid = worker_pid(stack)
    result: dict[str, Any] = {}

    def send() -> None:
        result["r"] = httpx.post(
            stack.url + "/v1/chat/completions",
            json={"model": "local/gemma3-270m", "messages": LONG, "max_tokens": 400},
            timeout=60,
        )

    thread = threading.Thread(target=send)
    thread.start()
    deadline = time.monotonic() + 30
    while not any(m.active for m in stack.services.engine.status().models) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # some tokens in
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=30)
    assert not thread.is_alive()
    r = result["r"]
    assert r.status_code == 502 and r.json()["error"]["code"] == "local_model_crashed"
    assert stack.last_row()["error"] == "local_model_crashed"


@pytest.mark.parametrize("settle", [0.0, 0.5], ids=["at-once", "after-500ms"])
def test_worker_killed_while_idle_costs_the_next_request_nothing(stack: Stack, settle: float) -> None:
    """At once, the request usually reaches the dead worker before the engine noticed its death (it then
    runs on a fresh worker); after 500 ms the engine knows, and starts the fresh worker up front."""
    warm(stack)
    pid = worker_pid(stack)
    os.kill(pid, signal.SIGKILL)
    time.sleep(settle)
    r = httpx.post(
        stack.url + "/v1/chat/completions",
        json={"model": "local/gemma3-270m", "messages": LONG, "max_tokens": 3, "stream": True},
        timeout=120,
    )
    assert r.status_code == 200 and sse_data(r.text)[-1] == "[DONE]"
    assert error_event(sse_data(r.text)) is None
    assert worker_pid(stack) != pid


def test_a_client_leaving_mid_stream_frees_the_local_model_at_once(stack: Stack) -> None:
    warm(stack)
    body: dict[str, Any] = {"model": "local/gemma3-270m", "messages": LONG, "max_tokens": 400, "stream": True}
    with httpx.stream("POST", stack.url + "/v1/chat/completions", json=body, timeout=60) as r:
        for line in r.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                break  # leave after the first token; 399 tokens (~10 s here) are not wanted
    left_at = time.monotonic()
    warm(stack)  # queued behind the abandoned generation unless it was stopped
    assert time.monotonic() - left_at < 5
    assert stack.last_row()["status"] == 200  # the follow-up; the abandoned one is a 499 row before it
