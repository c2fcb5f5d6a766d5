"""A replay store in Redis, for several processes verifying for one API (``gunicorn -w 4``,
``uvicorn --workers 4``, several hosts): each accepted request is recorded once for all of
them, as the reference server's Redis store does (same keys, so Python processes and
``xnonce-server`` instances can share one Redis).

```python
import redis
import xnonce
from redis.backoff import NoBackoff
from redis.retry import Retry
from xnonce.redis import RedisReplayStore

# Bounded, not retried: older redis-py versions wait for Redis forever by default (a Redis
# that stops answering would hold every request, every WSGI worker, instead of a 503), and
# recent ones resend a SET whose answer was lost (which then finds its own key: a 409 for a
# first copy). The store warns (RuntimeWarning) of a client that does either.
client = redis.Redis(
    host="127.0.0.1", port=6379,
    socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0),
)
store = RedisReplayStore(client)
verifier = xnonce.Verifier({"billing": secret}, replay_store=store)
```

Under ASGI, ``AsyncRedisReplayStore`` over ``redis.asyncio`` is awaited by the middleware,
so the event loop goes on serving while Redis answers:

```python
import redis.asyncio
from xnonce.asgi import XNonceMiddleware
from xnonce.redis import AsyncRedisReplayStore

pool = redis.asyncio.BlockingConnectionPool(host="127.0.0.1", port=6379, max_connections=50)
store = AsyncRedisReplayStore(redis.asyncio.Redis(connection_pool=pool))
app.add_middleware(XNonceMiddleware, verifier=xnonce.Verifier(secrets), replay_store=store)
```

(A blocking pool: with redis-py's default one, requests beyond 100 at once fail with
``MaxConnectionsError`` and are refused 503 while Redis is healthy.)

Needs ``redis`` (redis-py: ``pip install redis``), which this module does not import: pass a
client. Set Redis's ``maxmemory-policy`` to ``noeviction`` (an evicted key is a request that
can be replayed): each store reads it (``CONFIG GET``) before its first ``SET``, and again
after Redis lost its keys, and warns (``RuntimeWarning``) of any other policy, as
``xnonce-server`` does; where ``CONFIG`` is not allowed it cannot tell, and says nothing. Keep
the processes' clocks synchronised (NTP).
"""

from __future__ import annotations

import inspect
import logging
import secrets
import sys
import threading
import time
import warnings
from typing import Any

from xnonce._xnonce import SharedKeys

__all__ = [
    "CLOCK_MARGIN_MS",
    "DEFAULT_FENCE_MS",
    "DEFAULT_PREFIX",
    "AsyncRedisReplayStore",
    "RedisLostKeysError",
    "RedisReplayStore",
    "RedisReplicaError",
    "SharedKeys",
]

logger = logging.getLogger("xnonce")

#: The reference server's key prefix (``[replay] key_prefix``).
DEFAULT_PREFIX: str = SharedKeys.DEFAULT_PREFIX

#: How much longer than ``expires_at_ms`` a key is kept: 1 s, as the reference server does, so
#: that a process whose clock is up to that much behind still finds it.
CLOCK_MARGIN_MS: int = SharedKeys.CLOCK_MARGIN_MS


def _is_async(client: Any) -> bool:
    """Whether ``client`` is a ``redis.asyncio`` one: its commands are plain methods that
    return awaitables of its async ``execute_command``."""
    return any(
        inspect.iscoroutinefunction(getattr(client, name, None))
        for name in ("set", "execute_command")
    )


def _warn_of_unbounded(store: str, client: Any, *, timeout_needed: bool) -> None:
    """A ``RuntimeWarning`` for each setting of a redis-py client that a replay store should
    not have: commands retried (a SET whose answer was lost is sent again and finds its own
    key, so a first copy is refused as a replay), and, when nothing else bounds the wait, no
    ``socket_timeout``. Settings a client does not expose are not guessed at. Called by a
    store's ``_check_client`` from its ``__init__``: the warnings point at the caller of that."""
    get_retry = getattr(client, "get_retry", None)
    retry = get_retry() if callable(get_retry) else None
    retries = getattr(retry, "_retries", 0)
    # A pool's connections given retry_on_timeout or retry_on_error and no retry make
    # Retry(NoBackoff(), 1) of them: one resend, which the client names nowhere.
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if retry is None and isinstance(kwargs, dict) and kwargs.get("retry") is None:
        on_error = kwargs.get("retry_on_error")
        if kwargs.get("retry_on_timeout") is True or (
            isinstance(on_error, (list, tuple)) and on_error
        ):
            retries = 1
    # redis-py's Retry takes a negative count (-1) as "retry without end".
    if isinstance(retries, int) and not isinstance(retries, bool) and retries != 0:
        times = f"{retries} times" if retries > 0 else "without end"
        warnings.warn(
            f"{store}: the Redis client retries commands ({times}): a SET whose answer "
            "was lost is sent again and finds its own key, so a first copy is refused as a "
            "replay (409); give the client retry=Retry(NoBackoff(), 0) (see xnonce.redis)",
            RuntimeWarning,
            stacklevel=4,
        )
    # A pool's connections take its connection_kwargs, and where those have no
    # socket_timeout, their class's default: None (wait forever) in older redis-py, 5 s from
    # redis-py 8 (redis.Redis(host=...) fills one in, a ConnectionPool made directly does not).
    if not (timeout_needed and isinstance(kwargs, dict)):
        return
    if "socket_timeout" in kwargs:
        timeout = kwargs["socket_timeout"]
    else:
        timeout = _default_socket_timeout(getattr(pool, "connection_class", None))
    if timeout is None:
        warnings.warn(
            f"{store}: the Redis client has no socket_timeout: a Redis that stops answering "
            "holds each request (and its worker) forever instead of a 503; give the client "
            "socket_timeout=2 (see xnonce.redis)",
            RuntimeWarning,
            stacklevel=4,
        )


_UNKNOWN = object()


def _default_socket_timeout(connection_class: Any) -> Any:
    """The ``socket_timeout`` a redis-py connection class takes when it is not given: the
    default of the first ``__init__`` in its MRO that names it; a placeholder (not ``None``)
    when none can be read, so that nothing is guessed at."""
    for klass in getattr(connection_class, "__mro__", ()):
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            parameter = inspect.signature(init).parameters.get("socket_timeout")
        except (TypeError, ValueError):
            return _UNKNOWN
        if parameter is not None:
            if parameter.default is inspect.Parameter.empty:
                return _UNKNOWN
            return parameter.default
    return _UNKNOWN


def _eviction_warning(store: str, policy: str) -> str:
    return (
        f"{store}: Redis's maxmemory-policy is {policy!r}: when its memory is full, Redis may "
        "evict live replay keys, and each evicted key lets a copy of its request through; set "
        "maxmemory-policy noeviction (a full Redis then refuses requests with 503)"
    )


def _policy_of(answer: Any) -> str | None:
    """The policy in redis-py's answer to ``CONFIG GET maxmemory-policy`` (a dict), else
    ``None``."""
    if not isinstance(answer, dict):
        return None
    policy = answer.get("maxmemory-policy", answer.get(b"maxmemory-policy"))
    if isinstance(policy, bytes):
        policy = policy.decode("utf-8", "replace")
    return policy if isinstance(policy, str) else None


def _is_redis_answer(error: Exception) -> bool:
    """Whether ``error`` is Redis's own error reply (``NOPERM`` from an ACL, ``ERR unknown
    command`` from a proxy), which a new attempt would get again; not a connection failure."""
    exceptions = sys.modules.get("redis.exceptions")
    response_error = getattr(exceptions, "ResponseError", None)
    return isinstance(response_error, type) and isinstance(error, response_error)


#: How long a store refuses every request once Redis is found to have lost its keys, by
#: default: twice the default 30 s window plus ``CLOCK_MARGIN_MS``, as the reference server
#: computes it from its longest window. A ``Verifier`` (or ASGI middleware) given the store
#: raises it to its own ``fence_after_loss_ms`` (``widen_fence``) for longer windows.
DEFAULT_FENCE_MS: int = SharedKeys.DEFAULT_FENCE_MS


class RedisLostKeysError(RuntimeError):
    """Redis lost its replay keys (restarted empty, flushed, or replaced): its epoch marker
    changed. The store refuses every request until what Redis may have forgotten is stale."""


class RedisReplicaError(RuntimeError):
    """The store's Redis is a replica (``INFO replication`` says ``role:slave``, or it
    answered a ``SET`` with ``READONLY``): it cannot keep replay keys for every process — a
    read-only one takes none, a writable one keeps them where the primary and every other
    process never look — so each request is refused (503) until the client reaches the
    primary again (after a failover, once its address follows the new primary). A
    ``READONLY`` error is its ``__cause__``."""


def _replica_role_error(answer: Any) -> RedisReplicaError | None:
    """A ``RedisReplicaError`` when redis-py's answer to ``INFO replication`` (a dict) says
    ``role:slave``, else ``None``."""
    if not isinstance(answer, dict) or answer.get("role") not in ("slave", b"slave"):
        return None
    return RedisReplicaError(
        "redis is a replica (role:slave), which cannot keep replay keys for every process: "
        "the client must reach the primary (after a failover, once its address follows the "
        "new primary, requests are accepted again)"
    )


def _replica_error(error: Exception) -> RedisReplicaError | None:
    """A ``RedisReplicaError`` for redis-py's ``ReadOnlyError`` (Redis's ``READONLY`` reply),
    else ``None``."""
    exceptions = sys.modules.get("redis.exceptions")
    read_only = getattr(exceptions, "ReadOnlyError", None)
    if not (isinstance(read_only, type) and isinstance(error, read_only)):
        return None
    return RedisReplicaError(
        "redis is a read-only replica (READONLY), which cannot keep replay keys for every "
        "process: the client must reach the primary (after a failover, once its address "
        f"follows the new primary, requests are accepted again): {error}"
    )


class _RedisKeys:
    """What both stores share: the client, the core's ``SharedKeys`` under ``prefix``
    (``ValueError`` if it holds ``{`` or ``}``), and the fence after a loss of keys: the
    epoch marker ``<prefix>epoch`` (the reference server's), read after each ``SET``."""

    @staticmethod
    def _check_client(client: Any) -> None:
        """Refuses a client of the wrong kind (``TypeError``) and warns of an unbounded one."""
        raise NotImplementedError

    def __init__(
        self,
        client: Any,
        prefix: str = DEFAULT_PREFIX,
        *,
        fence_after_loss_ms: int | None = DEFAULT_FENCE_MS,
    ) -> None:
        self._check_client(client)
        self.keys = SharedKeys(prefix)
        self.client = client
        self.prefix = prefix
        if fence_after_loss_ms is not None and (
            isinstance(fence_after_loss_ms, bool)
            or not isinstance(fence_after_loss_ms, int)
            or fence_after_loss_ms <= 0
        ):
            raise ValueError("fence_after_loss_ms must be a positive int (ms) or None")
        self.fence_ms = fence_after_loss_ms
        self.epoch_key = self.keys.epoch_key
        self._lock = threading.Lock()
        self._epoch: bytes | None = None
        self._fenced_until = 0.0
        # The maxmemory-policy check: "unchecked" until Redis has answered it (a policy, or
        # an error reply: cannot tell), "checking" while one request runs it.
        self._policy = "unchecked"
        # Whether Redis said it is no replica (INFO replication), or cannot say (an error
        # reply): until then every request asks before its SET, which a replica's answer
        # refuses. Asked again after Redis lost its keys (a failover may be why).
        self._role_checked = False

    def widen_fence(self, fence_ms: int) -> None:
        """Raises the fence (``fence_after_loss_ms``) to ``fence_ms`` if it is shorter; a store
        built without a fence (``None``) keeps none. Never lowered: keys recorded under the
        longer windows of earlier settings may still be in Redis. A ``Verifier`` given this
        store as its ``replay_store`` calls it with its ``fence_after_loss_ms`` when built and
        at each ``reconfigure``, and the ASGI middleware for its own ``replay_store``: a
        verifier with windows longer than the default needs no ``fence_after_loss_ms`` of
        its own. A fence already running keeps its end."""
        if isinstance(fence_ms, bool) or not isinstance(fence_ms, int) or fence_ms <= 0:
            raise ValueError("fence_ms must be a positive int (ms)")
        with self._lock:
            if self.fence_ms is not None and fence_ms > self.fence_ms:
                self.fence_ms = fence_ms

    def key(self, replay_key: str) -> str:
        """The Redis key of a replay key: ``<prefix>{<replay key>}``."""
        return self.keys.key(replay_key)

    def _set_args(self, key: str, expires_at_ms: int, now_ms: int) -> tuple[str, dict[str, Any]]:
        """The key and options of the ``SET … 1 NX PX <ms>`` that records ``key``."""
        return self.keys.key(key), {"nx": True, "px": self.keys.ttl_ms(expires_at_ms, now_ms)}

    def _policy_check_due(self) -> bool:
        """Whether this request reads ``maxmemory-policy``: the first, and the first after
        Redis lost its keys (restarted, maybe with another config), one at a time."""
        with self._lock:
            if self._policy != "unchecked":
                return False
            self._policy = "checking"
            return True

    def _policy_checked(
        self, store: str, answer: Any, error: Exception | None, *, abandoned: bool = False
    ) -> None:
        """Takes the answer to ``CONFIG GET maxmemory-policy``: a policy other than
        ``noeviction`` is a ``RuntimeWarning``. An error reply (``CONFIG`` refused by an ACL,
        as managed services do) cannot tell: no warning, and not asked again; a failure to
        reach Redis, or a check ``abandoned`` (cancelled, interrupted), is asked again by the
        next request. Never raises: the request goes on."""
        answered = not abandoned and (error is None or _is_redis_answer(error))
        with self._lock:
            self._policy = "checked" if answered else "unchecked"
        policy = _policy_of(answer) if error is None else None
        if policy is not None and policy != "noeviction":
            warnings.warn(_eviction_warning(store, policy), RuntimeWarning, stacklevel=4)

    def _role_answered(self, answer: Any) -> None:
        """Takes the answer to ``INFO replication`` asked before a ``SET`` (``None``: ``INFO``
        refused by an ACL or a proxy, or a client without ``info``, which cannot tell, and is
        not asked again): a replica raises ``RedisReplicaError``, and the request is refused;
        the next one asks again."""
        replica = _replica_role_error(answer)
        if replica is not None:
            raise replica
        self._role_checked = True

    def _check_fence(self) -> None:
        with self._lock:
            if time.monotonic() < self._fenced_until:
                raise RedisLostKeysError(self._why())

    def _why(self) -> str:
        return (
            "redis lost its replay keys (restarted empty, flushed, or replaced): every "
            f"request is refused for {(self.fence_ms or 0) / 1000:g} s, until all it may have "
            "forgotten is stale"
        )

    def _seen(self, epoch: Any) -> None:
        """Takes the epoch marker read after a ``SET``: one other than the last one seen
        starts the fence (``RedisLostKeysError``)."""
        if isinstance(epoch, str):
            epoch = epoch.encode()
        if not isinstance(epoch, bytes):
            return
        with self._lock:
            lost = self._epoch is not None and self._epoch != epoch
            self._epoch = epoch
            if lost:
                assert self.fence_ms is not None
                # A Redis that came back empty may have come back with another config, or
                # be another Redis.
                if self._policy == "checked":
                    self._policy = "unchecked"
                self._role_checked = False
                self._fenced_until = time.monotonic() + self.fence_ms / 1000
                logger.error("%s", self._why())
                raise RedisLostKeysError(self._why())


class RedisReplayStore(_RedisKeys):
    """``insert_if_absent`` as one ``SET <prefix>{<key>} 1 NX PX <ms>`` on a redis-py client
    (``redis.Redis``, or a ``RedisCluster``: the key's hash tag keeps it on one slot). The
    key and its expiry are the core's ``SharedKeys``, as every language's store writes them;
    the expiry is relative (the rest of the window plus ``CLOCK_MARGIN_MS``), so Redis counts
    it on its own clock. A Redis error propagates: ``verify_once`` then refuses the request
    with ``store_unavailable`` (503), the error as its ``__cause__`` (``RedisReplicaError``
    for a replica: ``INFO replication``, asked before the first ``SET`` and again after
    Redis lost its keys, says ``role:slave``, or a ``SET`` is answered ``READONLY``). A
    prefix holding ``{`` or ``}`` raises ``ValueError``. A client that retries commands or has no
    ``socket_timeout`` is taken, with a ``RuntimeWarning`` saying why it should not; so is a
    Redis whose ``maxmemory-policy`` is not ``noeviction``, read before the first ``SET``
    (and again after Redis lost its keys)."""

    @staticmethod
    def _check_client(client: Any) -> None:
        if _is_async(client):
            raise TypeError(
                "RedisReplayStore needs a synchronous client (redis.Redis, not "
                "redis.asyncio.Redis): Verifier.verify_once calls the store synchronously; "
                "under ASGI, give AsyncRedisReplayStore to the middleware"
            )
        _warn_of_unbounded("RedisReplayStore", client, timeout_needed=True)

    def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
        try:
            return self._insert(key, expires_at_ms, now_ms)
        except Exception as e:
            replica = _replica_error(e)
            if replica is None:
                raise
            raise replica from e

    def _insert(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
        name, options = self._set_args(key, expires_at_ms, now_ms)
        if not self._role_checked:
            # Before the SET: a writable replica would take it, and a copy of the request
            # sent to another process (on the primary) would be accepted again.
            replication = None
            if callable(getattr(self.client, "info", None)):
                try:
                    replication = self.client.info("replication")
                except Exception as e:
                    if not _is_redis_answer(e):
                        raise  # Redis cannot be reached: the SET would fail as well
            self._role_answered(replication)
        if self._policy_check_due():
            try:
                answer = self.client.config_get("maxmemory-policy")
            except Exception as e:
                self._policy_checked("RedisReplayStore", None, e)
            except BaseException:
                self._policy_checked("RedisReplayStore", None, None, abandoned=True)
                raise
            else:
                self._policy_checked("RedisReplayStore", answer, None)
        if self.fence_ms is None:
            return bool(self.client.set(name, 1, **options))
        self._check_fence()
        # The SET, then the marker, on one connection: a Redis that took the SET empty has
        # no marker, or another one, by the time it answers the GET.
        pipe = self.client.pipeline(transaction=False)
        pipe.set(name, 1, **options)
        pipe.get(self.epoch_key)
        recorded, epoch = pipe.execute()
        if epoch is None:
            self.client.set(self.epoch_key, secrets.token_hex(16), nx=True)
            epoch = self.client.get(self.epoch_key)
        self._seen(epoch)
        return bool(recorded)


class AsyncRedisReplayStore(_RedisKeys):
    """``RedisReplayStore`` on a ``redis.asyncio`` client, for the ASGI middleware's
    ``replay_store`` (which awaits it, within its ``store_timeout``): the same keys and
    expiries. A Redis error propagates: the middleware refuses the request with
    ``store_unavailable`` (503) and logs the error. Give the client a
    ``redis.asyncio.BlockingConnectionPool`` (see the module's example); asyncio only (under
    trio, give the middleware the synchronous ``RedisReplayStore``). A client that retries
    commands is taken, with a ``RuntimeWarning`` (the middleware's ``store_timeout`` bounds
    the wait, so no ``socket_timeout`` is needed), a ``maxmemory-policy`` other than
    ``noeviction`` is warned of and a replica refused as ``RedisReplayStore`` does."""

    @staticmethod
    def _check_client(client: Any) -> None:
        if not _is_async(client):
            raise TypeError(
                "AsyncRedisReplayStore needs a redis.asyncio client; give a synchronous "
                "redis.Redis to RedisReplayStore"
            )
        _warn_of_unbounded("AsyncRedisReplayStore", client, timeout_needed=False)

    async def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
        try:
            return await self._insert(key, expires_at_ms, now_ms)
        except Exception as e:
            replica = _replica_error(e)
            if replica is None:
                raise
            raise replica from e

    async def _insert(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
        name, options = self._set_args(key, expires_at_ms, now_ms)
        if not self._role_checked:
            # Before the SET: a writable replica would take it, and a copy of the request
            # sent to another process (on the primary) would be accepted again.
            replication = None
            if callable(getattr(self.client, "info", None)):
                try:
                    replication = await self.client.info("replication")
                except Exception as e:
                    if not _is_redis_answer(e):
                        raise  # Redis cannot be reached: the SET would fail as well
            self._role_answered(replication)
        if self._policy_check_due():
            # Before the SET: should Redis not answer it within the middleware's
            # store_timeout, the request is refused (503) with nothing recorded.
            try:
                answer = await self.client.config_get("maxmemory-policy")
            except Exception as e:
                self._policy_checked("AsyncRedisReplayStore", None, e)
            except BaseException:
                self._policy_checked("AsyncRedisReplayStore", None, None, abandoned=True)
                raise
            else:
                self._policy_checked("AsyncRedisReplayStore", answer, None)
        if self.fence_ms is None:
            return bool(await self.client.set(name, 1, **options))
        self._check_fence()
        pipe = self.client.pipeline(transaction=False)
        pipe.set(name, 1, **options)
        pipe.get(self.epoch_key)
        recorded, epoch = await pipe.execute()
        if epoch is None:
            await self.client.set(self.epoch_key, secrets.token_hex(16), nx=True)
            epoch = await self.client.get(self.epoch_key)
        self._seen(epoch)
        return bool(recorded)
