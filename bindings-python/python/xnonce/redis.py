"""A replay store in Redis, for several processes verifying for one API (``gunicorn -w 4``,
``uvicorn --workers 4``, several hosts): each accepted request is recorded once for all of
them, as the reference server's Redis store does (same keys, so Python processes and
``xnonce-server`` instances can share one Redis).

```python
import redis
import xnonce
from xnonce.redis import RedisReplayStore

store = RedisReplayStore(redis.Redis(host="127.0.0.1", port=6379))
verifier = xnonce.Verifier({"billing": secret}, replay_store=store)
```

Needs ``redis`` (redis-py: ``pip install redis``), which this module does not import: pass a
client. Set Redis's ``maxmemory-policy`` to ``noeviction`` (an evicted key is a request that
can be replayed) and keep the processes' clocks synchronised (NTP).
"""

from __future__ import annotations

import inspect
from typing import Any

from xnonce._xnonce import SharedKeys

__all__ = ["CLOCK_MARGIN_MS", "DEFAULT_PREFIX", "RedisReplayStore", "SharedKeys"]

#: The reference server's key prefix (``[replay] key_prefix``).
DEFAULT_PREFIX: str = SharedKeys.DEFAULT_PREFIX

#: How much longer than ``expires_at_ms`` a key is kept: 1 s, as the reference server does, so
#: that a process whose clock is up to that much behind still finds it.
CLOCK_MARGIN_MS: int = SharedKeys.CLOCK_MARGIN_MS


class RedisReplayStore:
    """``insert_if_absent`` as one ``SET <prefix>{<key>} 1 NX PX <ms>`` on a redis-py client
    (``redis.Redis``, or a ``RedisCluster``: the key's hash tag keeps it on one slot). The
    key and its expiry are the core's ``SharedKeys``, as every language's store writes them;
    the expiry is relative (the rest of the window plus ``CLOCK_MARGIN_MS``), so Redis counts
    it on its own clock. A Redis error propagates: ``verify_once`` then refuses the request
    with ``store_unavailable`` (503), the error as its ``__cause__``. A prefix holding ``{``
    or ``}`` raises ``ValueError``."""

    def __init__(self, client: Any, prefix: str = DEFAULT_PREFIX) -> None:
        keys = SharedKeys(prefix)
        # redis.asyncio's commands are plain methods returning awaitables of its async
        # execute_command.
        if any(
            inspect.iscoroutinefunction(getattr(client, name, None))
            for name in ("set", "execute_command")
        ):
            raise TypeError(
                "RedisReplayStore needs a synchronous client (redis.Redis, not "
                "redis.asyncio.Redis): Verifier.verify_once calls the store synchronously"
            )
        self.client = client
        self.keys = keys
        self.prefix = prefix

    def key(self, replay_key: str) -> str:
        """The Redis key of a replay key: ``<prefix>{<replay key>}``."""
        return self.keys.key(replay_key)

    def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
        ttl_ms = self.keys.ttl_ms(expires_at_ms, now_ms)
        return bool(self.client.set(self.keys.key(key), 1, nx=True, px=ttl_ms))
