"""Time bounds of the ASGI middleware: a timeout setting, checked, and an awaited piece of work
cut off when it runs out, under asyncio or another event loop (trio)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def checked_timeout(seconds: object, name: str) -> float:
    """``seconds`` as the timeout setting ``name``: a positive, finite number of seconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(seconds).__name__}")
    try:
        value = float(seconds)
    except OverflowError:
        value = math.inf
    if not (0 < value < math.inf):
        raise ValueError(f"{name} must be a positive, finite number of seconds: {seconds}")
    return value


async def within(work: Callable[[], Awaitable[T]], timeout: float) -> T:
    """``work()``, awaited for at most ``timeout`` seconds, else ``TimeoutError``. Under
    asyncio the bound is ``asyncio.wait_for``; under another event loop (trio) it is
    ``anyio.fail_after``, which needs anyio (Starlette and FastAPI bring it): without it the
    work is awaited unbounded, as it comes."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        try:
            import anyio
        except ImportError:
            return await work()
        with anyio.fail_after(timeout):
            return await work()
    try:
        return await asyncio.wait_for(work(), timeout)
    except asyncio.TimeoutError as e:  # not the built-in TimeoutError before Python 3.11
        raise TimeoutError from e
