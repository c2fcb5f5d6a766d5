"""Type aliases of the public API (importable at runtime, for annotations in user code)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Protocol, TypedDict, Union

from xnonce._xnonce import Secret

__all__ = [
    "AsyncReplayStore",
    "Body",
    "ParamValue",
    "Params",
    "ReplayStore",
    "RequestOptions",
    "SecretSource",
]

#: A parameter value: turned into text by the core (``True`` → ``"true"``, ``3.0`` → ``"3"``).
ParamValue = Union[str, int, float, bool]
#: Params: a mapping (its order is kept) or ``(key, value)`` pairs; ``None`` for none. At run
#: time any iterable of pairs is taken; the type names the usual ones (a list or tuple,
#: ``dict.items()``, a generator) rather than ``Iterable``, so that a type checker reads a dict
#: literal of mixed values (``{"user": "a", "page": 2}``) as a mapping of ``ParamValue``s: with
#: ``Iterable[tuple[...]]`` in the union, mypy infers ``dict[str, object]`` and refuses it.
Params = Union[
    Mapping[str, ParamValue],
    Sequence[tuple[str, ParamValue]],
    # A pair may be a list of two (``[["a", 1]]``), as the README says. (``Sequence`` rather than
    # ``list``: mypy infers ``["a", 1]`` as ``list[object]`` against a ``list`` member; the cost
    # is that a string, a sequence too, passes the type and is refused at run time.)
    Sequence[Sequence[ParamValue]],
    AbstractSet[tuple[str, ParamValue]],
    Iterator[tuple[str, ParamValue]],
    None,
]
#: A body: bytes as they are sent (any bytes-like object: the buffer's bytes, as ``hashlib``
#: reads them), or text (sent as UTF-8).
Body = Union[bytes, bytearray, memoryview, str, None]
#: Where a ``Verifier`` finds a client's secret(s): a mapping or a callable, looked up per request.
#: A secret: text, or an ``xnonce.Secret`` holding it (redacted ``repr``).
SecretSource = Union[
    Mapping[str, Union[str, Secret, Sequence[Union[str, Secret]], None]],
    Callable[[str], Union[str, Secret, Sequence[Union[str, Secret]], None]],
]


class ReplayStore(Protocol):
    """Where ``Verifier.verify_once`` records accepted requests (``Verifier(...,
    replay_store=...)``): shared by every process that verifies for one API, so that a copy
    of a request sent to another process is refused too. ``xnonce.redis.RedisReplayStore``
    is one over Redis."""

    def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> object:
        """Records ``key`` until ``expires_at_ms`` (ms since the epoch) unless it is recorded
        and unexpired at ``now_ms``, atomically: true (any truthy value) the first time,
        false (falsy) for a replay. What it raises refuses the request with
        ``store_unavailable`` (503).

        A store that refuses every request for a while once it finds it lost its keys (as
        ``xnonce.redis``'s stores do) may also have ``widen_fence(fence_ms)``: the verifier
        (or the ASGI middleware) holding it calls it with its ``fence_after_loss_ms`` when
        built and after each ``reconfigure``, to raise that while to cover its windows."""
        ...


class AsyncReplayStore(Protocol):
    """A replay store the ASGI middleware awaits (``XNonceMiddleware(...,
    replay_store=...)``), as ``ReplayStore`` but asynchronous: the event loop goes on
    serving while the store answers. ``xnonce.redis.AsyncRedisReplayStore`` is one over
    ``redis.asyncio``."""

    async def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> object:
        """As ``ReplayStore.insert_if_absent``, awaited."""
        ...


class RequestOptions(TypedDict, total=False):
    """em-secure-api's ``options`` of ``make_request``: every key is optional."""

    #: Sign with this timestamp (ms, an ``int``; a float or bool is ``invalid_timestamp``)
    #: instead of the clock (em-secure-api's ``force_timestamp``). Sent as given: a stale
    #: answer is returned, never retried with a corrected clock.
    timestamp: int | None
    #: v2: sign with this nonce (32 lower-case hex) instead of a random one.
    nonce: str | None
    #: Params sent but NOT signed: a verifying server refuses the request (401). Meant for
    #: testing tamper detection, as em-secure-api's option was.
    extra_params: Params
    #: v2: a JSON body (any ``json.dumps``-able value); the params go in the query. Sent as
    #: ``json.dumps(json, separators=(",", ":"), ensure_ascii=False)`` writes it, byte for
    #: byte (integers of any size stay exact); 128 levels of nesting or more is
    #: ``invalid_body``.
    json: Any
    #: Extra request headers; a ``Host`` here is the host v2 signs.
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None
