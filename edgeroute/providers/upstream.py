"""HTTP plumbing every provider kind shares: per-call timeouts and deadlines, reading SSE under those
deadlines, and turning upstream error responses into :mod:`edgeroute.errors` at this boundary, with the
user's key scrubbed from anything an upstream echoes back (transport errors are mapped in
:mod:`edgeroute.providers.http`).

Timeouts: ``connect_timeout`` is the socket's; ``first_token_timeout`` and ``total_timeout`` are wall-clock
deadlines enforced around each network read (a server that sends keep-alive comments but no token still
times out), so no extra task is needed per stream.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections.abc import AsyncGenerator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import anyio

from edgeroute import jsonio
from edgeroute.config import CloudModelConfig
from edgeroute.errors import UpstreamError, UpstreamRateLimited, UpstreamTimeout
from edgeroute.providers.http import MESSAGE_LIMIT, Timeouts, UpstreamClient, UpstreamResponse
from edgeroute.sse import ServerSentEvent, SSEDecoder, SSEError

ERROR_BODY_LIMIT = 64 * 1024
NETWORK_DOWN_HINTS = (
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "no address associated",
    "getaddrinfo failed",
    "network is unreachable",
)
CONTEXT_HINTS = (
    "context_length_exceeded",
    "context length",
    "context window",
    "prompt is too long",
    "too many tokens",
    "maximum context",
)


def http_timeout(model: CloudModelConfig) -> Timeouts:
    """The socket's own timeouts: connect from the config; a read may wait as long as a first token (so a
    stream that stalls mid-way is cut too); the deadlines of :class:`Deadline` bound the rest.
    0 disables a timeout."""
    total = model.total_timeout or None
    return Timeouts(connect=model.connect_timeout or None, read=model.first_token_timeout or total)


class Deadline:
    """The first-token and total deadlines of one upstream call (monotonic clock), used as a context
    manager around the call (leaving it cancels the timer).

    Every network read of a stream runs in :meth:`scope`, so the deadline is one bare timer for the whole
    call rather than one per read: it is armed for the current end (the first token's, then the total's)
    and, when it fires, cancels the task waiting inside a scope (what ``asyncio.timeout`` does); fired
    between two reads, it makes the next scope raise at once."""

    def __init__(self, model: CloudModelConfig, label: str) -> None:
        now = time.monotonic()
        self.label = label
        self._first_s = model.first_token_timeout
        self._total_s = model.total_timeout
        self._first_at = now + self._first_s if self._first_s > 0 else math.inf
        self._total_at = now + self._total_s if self._total_s > 0 else math.inf
        self.got_token = False
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = math.nan  # the end the timer was set for
        self._fired = False
        self._waiting: asyncio.Task[Any] | None = None  # the task inside a scope, if any

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def mark_token(self) -> None:
        self.got_token = True

    def _end(self) -> float:
        return self._total_at if self.got_token else min(self._first_at, self._total_at)

    def expired(self) -> UpstreamTimeout:
        if not self.got_token and self._first_at <= self._total_at:
            return UpstreamTimeout(f"{self.label}: no first token within {self._first_s:g}s")
        return UpstreamTimeout(
            f"{self.label}: the answer took longer than {self._total_s:g}s (total_timeout)"
        )

    def _arm(self, end: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for = end
        self._fired = False
        delay = max(end - time.monotonic(), 0.0)
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        self._fired = True
        if self._waiting is not None:
            self._waiting.cancel()

    def scope(self) -> _Read:
        """A context for one network read: overrunning the current deadline raises
        :class:`UpstreamTimeout`."""
        return _Read(self)


class _Read:
    """One network read under a :class:`Deadline`. A class rather than a generator-based context manager:
    every read of every stream enters one."""

    __slots__ = ("_deadline", "_fallback", "_task")

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline
        self._task: asyncio.Task[Any] | None = None
        self._fallback: Any = None  # Python 3.10: an anyio scope

    def __enter__(self) -> None:
        deadline = self._deadline
        end = deadline._end()
        if end == math.inf:
            return
        task = asyncio.current_task() if sys.version_info >= (3, 11) else None
        if task is None:  # Python 3.10 has no Task.uncancel(): the anyio scope is the safe way there
            self._fallback = anyio.fail_after(max(end - time.monotonic(), 0.0))
            self._fallback.__enter__()
            return
        if end != deadline._armed_for:
            deadline._arm(end)
        elif deadline._fired:
            raise deadline.expired()
        # The timer's cancel can only land while the task waits in here: it cancels ``_waiting`` only.
        deadline._waiting = self._task = task

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        deadline = self._deadline
        if self._fallback is not None:
            try:
                self._fallback.__exit__(kind, exc, tb)  # its own cancellation comes out as TimeoutError
            except TimeoutError as error:
                raise deadline.expired() from error
            return
        task = self._task
        if task is None:
            return
        deadline._waiting = None
        # Our cancel, and nobody else's pending: the deadline's error instead of the cancellation.
        cancelled = kind is not None and issubclass(kind, asyncio.CancelledError)
        if cancelled and deadline._fired and task.uncancel() == 0:
            raise deadline.expired() from None


def is_network_down(exc: BaseException) -> bool:
    """A connect error that says this machine has no network at all (DNS or route), not one host down."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        text = str(seen).lower()
        if any(hint in text for hint in NETWORK_DOWN_HINTS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def scrub(text: str, secret: str | None) -> str:
    """``text`` with the key, and any 8+ character piece of it an upstream echoed back, replaced by ``…``."""
    if not secret or not text:
        return text
    text = text.replace(secret, "…")
    width = 8
    if len(secret) < width:
        return text
    grams = {secret[i : i + width] for i in range(len(secret) - width + 1)}
    hit = [False] * len(text)
    for i in range(len(text) - width + 1):
        if text[i : i + width] in grams:
            for j in range(i, i + width):
                hit[j] = True
    if not any(hit):
        return text
    out: list[str] = []
    for i, ch in enumerate(text):
        if not hit[i]:
            out.append(ch)
        elif i == 0 or not hit[i - 1]:
            out.append("…")
    return "".join(out)


def parse_json(data: str, label: str) -> Any:
    try:
        return jsonio.loads(data)
    except ValueError as exc:
        raise UpstreamError(
            f"{label}: malformed JSON in the upstream's answer", code="upstream_bad_response"
        ) from exc


def _error_details(body: bytes) -> tuple[str, str]:
    """(message, code-or-type) from OpenAI ``{"error": {...}}``, Anthropic ``{"type":"error","error":{...}}``
    or plain text bodies."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text, ""
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        message = str(err.get("message") or "")
        kind = str(err.get("code") or err.get("type") or "")
        return message, kind
    if isinstance(err, str):
        return err, ""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"], ""
    return text, ""


def error_from_status(
    status: int, headers: Mapping[str, str], body: bytes, *, label: str, key_name: str, secret: str
) -> UpstreamError:
    """The error for an upstream HTTP error response; messages are scrubbed and cut short."""
    message, kind = _error_details(body)
    message = " ".join(scrub(message, secret).split())[:MESSAGE_LIMIT]
    detail = f"{label}: HTTP {status}" + (f": {message}" if message else "")
    retry_after = parse_retry_after(headers)
    if status == 429:
        return UpstreamRateLimited(detail, upstream_status=status, retry_after=retry_after)
    lowered = f"{kind} {message}".lower()
    if status in (400, 413) and any(hint in lowered for hint in CONTEXT_HINTS):
        return UpstreamError(detail, code="context_length_exceeded", status=400, upstream_status=status)
    if status in (401, 403):
        hint = f" (the key '{key_name}' was refused; store a new one with `edgeroute keys set {key_name}`)"
        return UpstreamError(detail + hint, code="upstream_auth_failed", upstream_status=status)
    if status == 404:
        return UpstreamError(detail, code="upstream_not_found", upstream_status=status)
    if status >= 500 or status == 408:
        return UpstreamError(detail, upstream_status=status, retry_after=retry_after)
    return UpstreamError(detail, code="upstream_bad_request", upstream_status=status)


async def open_response(
    client: UpstreamClient,
    url: str,
    body: Any,
    headers: Mapping[str, str],
    deadline: Deadline,
    timeouts: Timeouts,
    *,
    key_name: str,
    secret: str,
) -> UpstreamResponse:
    """POST ``body`` as JSON and return the open response, or raise the mapped error for any failure or
    HTTP error status (the response is closed then)."""
    label = deadline.label
    payload = jsonio.dumps(body)
    with deadline.scope():
        response = await client.post(url, payload, headers, timeouts, label)
    if response.status < 400:
        if not response.headers.get("content-type", "").startswith("text/html"):
            return response
        response.close()
        message = f"{label}: answered with an HTML page (a captive portal or a proxy in the way?)"
        raise UpstreamError(message, code="upstream_bad_response", upstream_status=response.status)
    try:
        with deadline.scope():
            error_body = await response.read(ERROR_BODY_LIMIT)
    finally:
        response.close()
    raise error_from_status(
        response.status, response.headers, error_body, label=label, key_name=key_name, secret=secret
    )


async def read_body(response: UpstreamResponse, deadline: Deadline) -> bytes:
    """A whole (non-streamed) response body under the deadline."""
    with deadline.scope():
        return await response.read()


async def iter_sse(response: UpstreamResponse, deadline: Deadline) -> AsyncGenerator[ServerSentEvent, None]:
    """The response's SSE events, each network read under the deadline. A stream that stops mid-event
    raises ``upstream_disconnected``."""
    label = deadline.label
    decoder = SSEDecoder()
    chunks = response.chunks()
    while True:
        with deadline.scope():
            chunk = await anext(chunks, None)
        if chunk is None:
            break
        try:
            events = decoder.feed(chunk)
        except SSEError as exc:
            raise UpstreamError(f"{label}: {exc}", code="upstream_bad_response") from exc
        for event in events:
            yield event
    for event in decoder.close():
        yield event
    if decoder.truncated:
        raise UpstreamError(f"{label}: the stream stopped mid-event", code="upstream_disconnected")


def stream_ended_early(label: str) -> UpstreamError:
    return UpstreamError(
        f"{label}: the stream ended before the answer finished", code="upstream_disconnected"
    )
