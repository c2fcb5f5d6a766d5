"""``AsyncRequester.make_request`` as a coroutine, as asyncio code expects of an ``async``
method: ``asyncio.create_task`` and ``TaskGroup.create_task`` take only coroutines, and nothing
runs (no request is sent, no argument is read) until it is awaited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def started_when_awaited(start: Callable[..., Awaitable[T]], *args: object) -> T:
    """Calls ``start(*args)`` once awaited, on the running loop, and awaits what it returns
    (cancelling this coroutine cancels that awaitable)."""
    return await start(*args)
