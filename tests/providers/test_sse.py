"""The incremental SSE parser: every way a network can split an event stream yields the same events."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeroute.sse import ServerSentEvent, SSEDecoder, SSEError, aiter_sse

STREAM = (
    b": keep-alive comment\n"
    b"event: message_start\n"
    b'data: {"type": "message_start"}\n'
    b"\n"
    b"data: first line\r\n"
    b"data: second line \xc3\xa9\xe2\x82\xac\r\n"
    b"id: 7\r\n"
    b"\r\n"
    b"event: ping\rdata: {}\r\r"
    b"retry: 1500\n"
    b"data:no-space\n"
    b"unknown: field\n"
    b"\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent("message_start", '{"type": "message_start"}'),
    ServerSentEvent("message", "first line\nsecond line é€", id="7"),
    ServerSentEvent("ping", "{}", id="7"),
    ServerSentEvent("message", "no-space", id="7", retry=1500),
    ServerSentEvent("message", "[DONE]", id="7"),
]


def parse(chunks: list[bytes]) -> tuple[list[ServerSentEvent], bool]:
    decoder = SSEDecoder()
    events = [e for c in chunks for e in decoder.feed(c)]
    events += decoder.close()
    return events, decoder.truncated


def test_whole_stream() -> None:
    assert parse([STREAM]) == (EXPECTED, False)


def test_one_byte_at_a_time_splits_crlf_and_utf8() -> None:
    assert parse([STREAM[i : i + 1] for i in range(len(STREAM))]) == (EXPECTED, False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    chunks = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    assert parse(chunks) == (EXPECTED, False)


def test_a_stream_cut_mid_event_is_dropped_and_flagged() -> None:
    events, truncated = parse([b"data: complete\n\n", b'data: {"half": '])
    assert events == [ServerSentEvent("message", "complete")]
    assert truncated


def test_event_without_data_is_dropped_but_named_event_with_empty_data_is_kept() -> None:
    events, _ = parse([b"id: 1\n\nevent: done\ndata:\n\n"])
    assert events == [ServerSentEvent("done", "", id="1")]


def test_an_endless_line_is_refused() -> None:
    decoder = SSEDecoder(max_buffer=64)
    with pytest.raises(SSEError):
        decoder.feed(b"data: " + b"x" * 100)


async def test_aiter_sse_over_async_chunks() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(STREAM), 5):
            yield STREAM[i : i + 5]

    assert [e async for e in aiter_sse(chunks())] == EXPECTED
