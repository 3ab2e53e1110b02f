"""An incremental parser for Server-Sent Events read from upstream APIs (OpenAI and Anthropic stream this way).

Bytes arrive in arbitrary pieces: a UTF-8 character, a ``\\r\\n`` pair or a ``data:`` line may be split
between two network reads. :class:`SSEDecoder` keeps the unfinished part and hands back only complete
events, following the WHATWG rules (``event``/``data``/``id``/``retry`` fields, ``:`` comments, multi-line
``data``, any of ``\\r\\n``, ``\\n`` or ``\\r`` as line end). Writing SSE to our own clients lives elsewhere.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

DEFAULT_MAX_BUFFER = 8 * 1024 * 1024


class SSEError(ValueError):
    """The stream is not SSE we can parse (e.g. one line larger than the buffer limit)."""


@dataclass(slots=True)
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed bytes with :meth:`feed`, get the events they complete; call :meth:`close` at end of stream.

    An event is dispatched at a blank line; a half-sent event at end of stream is dropped, as the spec says,
    and :attr:`truncated` tells the caller the stream stopped mid-event.
    """

    def __init__(self, *, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._max_buffer = max_buffer
        self._pending_cr = False
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None
        self._has_fields = False
        self.truncated = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        return self._feed_text(self._text.decode(chunk))

    def close(self) -> list[ServerSentEvent]:
        """End of stream: process what is left; an event without its closing blank line is dropped."""
        events = self._feed_text(self._text.decode(b"", final=True))
        if self._buffer:
            events += self._line(self._buffer)
            self._buffer = ""
        self.truncated = self._has_fields
        self._reset_event()
        return events

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        buffer = self._buffer + text
        events: list[ServerSentEvent] = []
        if "\r" not in buffer:  # what upstreams send: "\n" line ends, one "data: " line per event
            lines = buffer.split("\n")
            self._buffer = lines.pop()
            for line in lines:
                if line.startswith("data: "):
                    self._data.append(line[6:])
                    self._has_fields = True
                elif line:
                    self._line(line)
                else:
                    events += self._dispatch()
            if len(self._buffer) > self._max_buffer:
                raise SSEError(f"an SSE line is longer than {self._max_buffer} bytes")
            return events
        start = 0
        length = len(buffer)
        while start < length:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr == -1 and lf == -1:
                break
            if cr == -1 or (lf != -1 and lf < cr):
                end, nxt = lf, lf + 1
            else:
                end, nxt = cr, cr + 1
                if nxt < length and buffer[nxt] == "\n":
                    nxt += 1
                elif nxt == length:
                    self._pending_cr = True  # a "\n" may follow in the next chunk
            events += self._line(buffer[start:end])
            start = nxt
        self._buffer = buffer[start:]
        if len(self._buffer) > self._max_buffer:
            raise SSEError(f"an SSE line is longer than {self._max_buffer} bytes")
        return events

    def _line(self, line: str) -> list[ServerSentEvent]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        else:
            return []
        self._has_fields = True
        return []

    def _dispatch(self) -> list[ServerSentEvent]:
        if not self._has_fields:
            return []
        event = ServerSentEvent(
            event=self._event or "message", data="\n".join(self._data), id=self._id, retry=self._retry
        )
        self._reset_event()
        if not event.data and event.event == "message":
            return []  # the spec drops events with no data
        return [event]

    def _reset_event(self) -> None:
        self._event = None
        self._data = []
        self._retry = None
        self._has_fields = False


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Events from an async iterable of byte chunks (e.g. ``response.aiter_bytes()``)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event
