"""A replay store the ASGI middleware awaits: its answer about a verified request, within a
time bound, without holding the event loop."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from xnonce._deadline import within
from xnonce._xnonce import Verified
from xnonce.types import AsyncReplayStore, ReplayStore

logger = logging.getLogger("xnonce")


def checked_store(store: object) -> AsyncReplayStore | ReplayStore:
    """``store`` if it can be one: an object (not a class) with ``insert_if_absent``."""
    if inspect.isclass(store) or not callable(getattr(store, "insert_if_absent", None)):
        raise TypeError("replay_store must be an object with an insert_if_absent method")
    return store  # type: ignore[return-value]


async def record(
    store: AsyncReplayStore | ReplayStore, verified: Verified, timeout: float
) -> bool | None:
    """``store.insert_if_absent`` for ``verified``: true (recorded: the first copy), false (a
    copy), or ``None`` when the store failed or had not answered within ``timeout`` seconds
    (logged on the ``xnonce`` logger, one line; the traceback at DEBUG).

    An ``async def`` method is awaited; a synchronous one runs in a worker thread, so a slow
    store never holds the event loop: asyncio's worker threads under asyncio, anyio's under
    another event loop (trio). The bound is ``_deadline.within``'s: without anyio, outside
    asyncio, the store is awaited unbounded (and a synchronous one called in place)."""
    method: Callable[..., Any] = store.insert_if_absent
    args = (verified.replay_key, verified.remember_until, time.time_ns() // 1_000_000)
    asynchronous = inspect.iscoroutinefunction(method)

    try:
        asyncio.get_running_loop()
        to_thread: Callable[..., Any] = asyncio.to_thread
    except RuntimeError:
        to_thread = _anyio_to_thread()

    async def answer() -> object:
        result = await method(*args) if asynchronous else await to_thread(method, *args)
        return await result if inspect.isawaitable(result) else result

    try:
        return bool(await within(answer, timeout))
    except TimeoutError:
        logger.error(
            "replay store did not answer within %s s; the request was refused 503", timeout
        )
    except Exception as e:
        logger.error(
            "replay store failed (%s: %s); the request was refused 503", type(e).__name__, e
        )
        logger.debug("replay store failure", exc_info=e)
    return None


def _anyio_to_thread() -> Callable[..., Any]:
    """How a synchronous store runs under an event loop other than asyncio: in anyio's worker
    threads when anyio is there, else in place."""
    try:
        import anyio.to_thread
    except ImportError:
        return _inline

    # Abandoned on timeout (the thread finishes on its own): `abandon_on_cancel` since anyio
    # 4.1, `cancellable` before.
    known = inspect.signature(anyio.to_thread.run_sync).parameters
    abandon = "abandon_on_cancel" if "abandon_on_cancel" in known else "cancellable"

    run_sync: Callable[..., Any] = anyio.to_thread.run_sync

    async def to_thread(function: Callable[..., Any], *args: Any) -> Any:
        return await run_sync(lambda: function(*args), **{abandon: True})

    return to_thread


async def _inline(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)
