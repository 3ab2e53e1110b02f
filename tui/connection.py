"""Following the daemon's event stream: hold it open, and when it drops say so and retry with backoff.

A plain coroutine over an :class:`ApiClient` and a ``post`` callable, so the loop's rules live in one place
and the app only runs it in a worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .api import ApiClient, ApiError, DaemonUnavailable, StreamIdle
from .backoff import Backoff
from .messages import ConnectionChanged, LinkState, RequestArrived


async def daemon_answers(api: ApiClient) -> bool:
    try:
        await api.health()
    except (DaemonUnavailable, ApiError):
        return False
    return True


async def follow_events(
    api: ApiClient,
    backoff: Backoff,
    post: Callable[[Any], object],
    *,
    was_connected: Callable[[], bool],
    poll_s: float,
) -> None:
    """Runs until cancelled. Posts ``ConnectionChanged`` on every change and ``RequestArrived`` per event.

    - the stream opens: ``connected`` (and the backoff starts over);
    - nothing answers: ``offline`` before the first connection, ``reconnecting`` after it;
    - the daemon answers with an error (a refused token): ``refused``;
    - a daemon without ``/api/events`` (404) but alive: ``connected``, and the app's periodic reload does
      the rest;
    - a silent stream past its read timeout is reopened at once without any state change.
    """
    while True:
        detail = "the daemon closed the event stream"
        try:
            async with api.events() as rows:
                backoff.reset()
                post(ConnectionChanged("connected", api.base_url))
                async for row in rows:
                    post(RequestArrived(row))
        except StreamIdle:
            continue
        except DaemonUnavailable as exc:
            detail = str(exc)
        except ValueError as exc:  # a stream that is not SSE we can read: start over
            detail = f"unreadable event stream ({type(exc).__name__})"
        except ApiError as exc:
            if exc.status == 404 and await daemon_answers(api):
                post(ConnectionChanged("connected", api.base_url, detail="polling"))
                await asyncio.sleep(poll_s)
                continue
            delay = backoff.next_delay()
            post(ConnectionChanged("refused", api.base_url, backoff.attempt, delay, str(exc)))
            await asyncio.sleep(delay)
            continue
        delay = backoff.next_delay()
        state: LinkState = "reconnecting" if was_connected() else "offline"
        post(ConnectionChanged(state, api.base_url, backoff.attempt, delay, detail))
        await asyncio.sleep(delay)
