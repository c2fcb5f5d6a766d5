"""``Verifier(replay_store=...)``: a store shared by several verifiers (as by the processes of a
``gunicorn -w 4`` app), here ``xnonce.redis.RedisReplayStore`` over a real redis-server on
127.0.0.1 (bindings-python/test.sh installs it), and the contract any store meets; and the
ASGI middleware's own ``replay_store``, awaited (``AsyncRedisReplayStore``), under uvicorn."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.retry
import requests
import trio
import xnonce
import xnonce.redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from serving import refused_port, uvicorn_serving
from xnonce.asgi import XNonceMiddleware
from xnonce.redis import AsyncRedisReplayStore, RedisReplayStore, SharedKeys
from xnonce.types import AsyncReplayStore

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A redis-server of the test's own, listening on a Unix socket in a fresh folder (no TCP
    port, so none another process could take first), and a client of it."""
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed (bindings-python/test.sh installs it)"
    # A short folder: a socket's path holds at most 107 bytes.
    folder = tempfile.TemporaryDirectory(prefix="xnonce-redis-")
    socket_path = os.path.join(folder.name, "redis.sock")
    options = ["--port", "0", "--unixsocket", socket_path, "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([server, *options], cwd=folder.name, stdout=subprocess.DEVNULL)
    # Bounded and not retried, as xnonce.redis's docs say (the stores warn otherwise).
    client = redis.Redis(
        unix_socket_path=socket_path, socket_timeout=5, retry=Retry(NoBackoff(), retries=0)
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait(10)
                pytest.fail(f"redis-server did not start on {socket_path} within 10 s")
            time.sleep(0.05)
    try:
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(10)
        folder.cleanup()


def signed() -> tuple[str, str]:
    """A fresh signed GET of /reports/daily for api.test: (header, nonce)."""
    header = xnonce.sign_request("v2", "GET", "api.test", "/reports/daily", "billing", SECRET)
    nonce = xnonce.parse_header(header).nonce
    assert nonce is not None
    return header, nonce


def test_a_request_accepted_by_one_verifier_is_a_replay_for_another(
    redis_client: redis.Redis,
) -> None:
    # Two verifiers, as two worker processes each have one, sharing one Redis.
    workers = [
        xnonce.Verifier({"billing": SECRET}, replay_store=RedisReplayStore(redis_client))
        for _ in range(2)
    ]
    signed_at = time.time()
    header, nonce = signed()
    v = workers[0].verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    assert v.client == "billing"
    with pytest.raises(xnonce.AuthError) as replayed:
        workers[1].verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    assert replayed.value.code == "replayed"
    assert replayed.value.answer is not None and replayed.value.answer.status == 409
    # The reference server's key, kept for the rest of the window plus the 1 s margin.
    key = f"xnonce:replay:{{v2:billing:{nonce}}}"
    assert redis_client.get(key) == b"1"
    assert_kept_for_the_window(redis_client, key, signed_at)
    # Without the shared store each verifier would accept it (its own memory).
    alone = xnonce.Verifier({"billing": SECRET})
    assert alone.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)


def assert_kept_for_the_window(client: redis.Redis, key: str, signed_at: float) -> None:
    """``key`` expires when the default 30 s window of a request signed at ``signed_at`` (a
    ``time.time()`` taken just before signing) ends, plus the 1 s clock margin: 31 s from the
    signing, less the time gone since (measured, plus 5 ms for rounding to milliseconds)."""
    ttl = client.pttl(key)
    elapsed_ms = (time.time() - signed_at) * 1000
    assert 31_000 - elapsed_ms - 5 < ttl <= 31_000, (ttl, elapsed_ms)


def test_a_store_that_fails_refuses_with_503_and_keeps_the_cause() -> None:
    # One try: the refusal, not redis-py's back-off, is under test.
    with refused_port() as port:  # Redis down: nothing listens there
        gone = redis.Redis(
            host="127.0.0.1", port=port, socket_timeout=1, retry=Retry(NoBackoff(), retries=0)
        )
        verifier = xnonce.Verifier({"billing": SECRET}, replay_store=RedisReplayStore(gone))
        header, _ = signed()
        with pytest.raises(xnonce.UnavailableError) as down:
            verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    assert down.value.code == "store_unavailable"
    assert isinstance(down.value.__cause__, redis.ConnectionError)
    answer = down.value.answer
    assert answer is not None and answer.status == 503
    assert str(port) not in answer.body and "Connection" not in answer.body
    # verify (no replay check) does not touch the store.
    assert verifier.verify("GET", "/reports/daily", host="api.test", x_nonce=header)


def test_any_object_with_insert_if_absent_is_a_store() -> None:
    class Recording:
        def __init__(self) -> None:
            self.calls: list[tuple[str, int, int]] = []

        def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> Any:
            self.calls.append((key, expires_at_ms, now_ms))
            return None if len(self.calls) > 1 else "OK"  # truthy, then falsy

    store = Recording()
    verifier = xnonce.Verifier({"billing": SECRET}, replay_store=store)
    header, nonce = signed()
    ts = xnonce.parse_header(header).timestamp
    verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header, now=ts)
    with pytest.raises(xnonce.AuthError) as replayed:
        verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header, now=ts)
    assert replayed.value.code == "replayed"
    assert store.calls[0] == (f"v2:billing:{nonce}", ts + 30_000, ts)
    # A refusal before the replay check never reaches the store.
    with pytest.raises(xnonce.AuthError):
        verifier.verify_once("GET", "/reports/other", host="api.test", x_nonce=header, now=ts)
    assert len(store.calls) == 2


def test_an_async_store_is_a_failure_not_a_first_copy() -> None:
    class Async:
        async def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            return False

    verifier = xnonce.Verifier({"billing": SECRET}, replay_store=Async())
    header, _ = signed()
    with pytest.raises(xnonce.UnavailableError) as refused:
        verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    assert refused.value.code == "store_unavailable"
    assert isinstance(refused.value.__cause__, TypeError)
    assert "synchronously" in str(refused.value.__cause__)
    with pytest.raises(TypeError, match="synchronous client"):
        RedisReplayStore(redis.asyncio.Redis())


def test_an_interrupt_in_the_store_is_raised_as_it_is() -> None:
    class Interrupted:
        def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            raise KeyboardInterrupt

    verifier = xnonce.Verifier({"billing": SECRET}, replay_store=Interrupted())
    header, _ = signed()
    with pytest.raises(KeyboardInterrupt):
        verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)


def test_a_store_without_insert_if_absent_is_refused() -> None:
    with pytest.raises(TypeError, match="insert_if_absent"):
        xnonce.Verifier({"billing": SECRET}, replay_store=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix"):
        RedisReplayStore(object(), prefix="a{b}")


def test_shared_keys_are_the_reference_servers_key_names_and_expiries() -> None:
    # The values xnonce-server's RedisStore writes (server-ref/src/redis_store.rs).
    keys = SharedKeys("app:")
    assert keys.prefix == "app:"
    assert keys.key("v2:c:abc") == "app:{v2:c:abc}"
    assert keys.key("v2:c:a}b{") == "app:{v2:c:a_b_}"
    assert keys.ttl_ms(31_000, 1_000) == 31_000
    assert keys.ttl_ms(1_000, 5_000) == 1_000
    assert SharedKeys().key("v1:c:n") == "xnonce:replay:{v1:c:n}"
    assert (SharedKeys.DEFAULT_PREFIX, SharedKeys.CLOCK_MARGIN_MS) == ("xnonce:replay:", 1_000)
    # The epoch marker and the fence after a loss of keys, for the default 30 s window.
    assert (keys.epoch_key, SharedKeys().epoch_key) == ("app:epoch", "xnonce:replay:epoch")
    assert SharedKeys.DEFAULT_FENCE_MS == 2 * 30_000 + 1_000
    assert RedisReplayStore(object(), prefix="app:").key("v2:c:abc") == "app:{v2:c:abc}"
    with pytest.raises(ValueError, match="hash tag"):
        SharedKeys("}")


@pytest.mark.parametrize("bad", [-1, 2**53, 2**64, -(2**70), 1.5, 1.0, True])
def test_shared_keys_ttl_takes_timestamps_as_the_verifier_gives_them(bad: Any) -> None:
    # Node's bound (2^53 - 1, core's header::timestamp_from_i128), and its error.
    keys = SharedKeys()
    for args in ((bad, 0), (31_000, bad)):
        with pytest.raises(xnonce.InputError) as e:
            keys.ttl_ms(*args)
        assert e.value.code == "invalid_timestamp"
    assert keys.ttl_ms(2**53 - 1, 0) == 2**53 - 1 + SharedKeys.CLOCK_MARGIN_MS
    with pytest.raises(TypeError):
        keys.ttl_ms("1", 0)  # type: ignore[arg-type]


def test_shared_keys_text_that_utf8_cannot_encode_is_a_value_error() -> None:
    # Like a prefix holding a brace: a setting, not a request input (no shared code names it).
    for call in (lambda: SharedKeys("app\ud800:"), lambda: SharedKeys().key("v2:c:\udcff")):
        with pytest.raises(ValueError, match="not valid Unicode text") as e:
            call()
        assert not isinstance(e.value, UnicodeError)
        assert "\ud800" not in str(e.value) and "\udcff" not in str(e.value)
    with pytest.raises(TypeError):
        SharedKeys(b"app:")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SharedKeys().key(None)  # type: ignore[arg-type]


async def client_asgi(scope: Any, receive: Any, send: Any) -> None:
    """Answers 200 with the verified client."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["xnonce.verified"].client.encode()})


def get(base: str, header: str, timeout: float = 10) -> requests.Response:
    return requests.get(
        f"{base}/reports/daily", headers={"X-Nonce": header, "Host": "api.test"}, timeout=timeout
    )


def test_asgi_workers_sharing_an_async_redis_store_accept_a_request_once(
    redis_client: redis.Redis,
) -> None:
    # Two uvicorn workers, each with its own verifier and its own redis.asyncio client (bound
    # to its event loop), as two processes have.
    socket_path = redis_client.connection_pool.connection_kwargs["path"]

    def worker() -> Any:
        once = redis.asyncio.retry.Retry(NoBackoff(), retries=0)
        store = AsyncRedisReplayStore(redis.asyncio.Redis(unix_socket_path=socket_path, retry=once))
        verifier = xnonce.Verifier({"billing": SECRET})
        return uvicorn_serving(XNonceMiddleware(client_asgi, verifier, replay_store=store))

    with worker() as first, worker() as second:
        signed_at = time.time()
        header, nonce = signed()
        accepted = get(first, header)
        assert (accepted.status_code, accepted.text) == (200, "billing")
        copy = get(second, header)
        assert (copy.status_code, copy.json()["code"]) == (409, "replayed")
        assert get(first, header).status_code == 409
        key = f"xnonce:replay:{{v2:billing:{nonce}}}"
        assert_kept_for_the_window(redis_client, key, signed_at)
        v1 = xnonce.sign_request("v1", "GET", "api.test", "/reports/daily", "billing", SECRET)
        assert get(second, v1).status_code == 200
        assert (get(first, v1).status_code, get(first, v1).text) == (409, "ottoken already used")


def test_an_asgi_store_that_fails_or_is_late_is_a_503_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Failing:
        async def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            raise ConnectionError("redis://:hunter2@10.0.0.5 refused")

    class Silent:
        async def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            await asyncio.sleep(60)
            return True

    verifier = xnonce.Verifier({"billing": SECRET})
    stores: list[tuple[AsyncReplayStore, str]] = [
        (Failing(), "replay store failed (ConnectionError: "),
        (Silent(), "replay store did not answer within 0.05 s"),
    ]
    for store, logged in stores:
        app = XNonceMiddleware(client_asgi, verifier, replay_store=store, store_timeout=0.05)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="xnonce"), uvicorn_serving(app) as base:
            refused = get(base, signed()[0])
        assert (refused.status_code, refused.json()["code"]) == (503, "store_unavailable")
        assert "hunter2" not in refused.text and "10.0.0.5" not in refused.text
        [record] = caplog.records  # one line per refusal, no traceback at ERROR
        assert record.getMessage().startswith(logged), record.getMessage()
        assert record.exc_info is None


def test_a_synchronous_store_under_asgi_runs_off_the_event_loop() -> None:
    # A store that blocks (a paused Redis under redis-py): the request is refused 503 after
    # store_timeout, and the worker answers other requests meanwhile. The unsigned request is
    # sent once the store is blocking, and the store stays blocked until `release`: were the
    # store called on the event loop, that request could not be answered within its 5 s.
    entered = threading.Event()
    release = threading.Event()

    class Blocking:
        def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            entered.set()
            release.wait(60)
            return True

    verifier = xnonce.Verifier({"billing": SECRET})
    app = XNonceMiddleware(client_asgi, verifier, replay_store=Blocking(), store_timeout=1.0)
    try:
        with uvicorn_serving(app) as base, ThreadPoolExecutor(2) as pool:
            blocked = pool.submit(get, base, signed()[0], timeout=30)
            assert entered.wait(30), "the store was not called"
            unsigned = requests.get(f"{base}/reports/daily", timeout=5)
            assert unsigned.status_code == 401
            refused = blocked.result(30)
            assert (refused.status_code, refused.json()["code"]) == (503, "store_unavailable")
            release.set()  # before uvicorn stops, which waits for the store's thread
    finally:
        release.set()


def test_under_trio_the_store_is_bounded_too() -> None:
    # Hypercorn's trio worker: no asyncio loop; the bound and the worker thread come from anyio.
    class Slow:
        async def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            await trio.sleep(60)
            return True

    class Synchronous:
        def __init__(self) -> None:
            self.keys: set[str] = set()

        def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            first = key not in self.keys
            self.keys.add(key)
            return first

    verifier = xnonce.Verifier({"billing": SECRET})

    async def status(app: XNonceMiddleware, header: str) -> int:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/reports/daily",
            "raw_path": b"/reports/daily",
            "query_string": b"",
            "headers": [(b"host", b"api.test"), (b"x-nonce", header.encode())],
        }
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return int(sent[0]["status"])

    async def main() -> list[int]:
        slow = XNonceMiddleware(client_asgi, verifier, replay_store=Slow(), store_timeout=0.05)
        plain = XNonceMiddleware(client_asgi, verifier, replay_store=Synchronous())
        header = signed()[0]
        with trio.fail_after(10):
            return [
                await status(slow, signed()[0]),
                await status(plain, header),
                await status(plain, header),
            ]

    assert trio.run(main) == [503, 200, 409]


def test_a_client_that_retries_or_waits_forever_is_taken_with_a_warning() -> None:
    # What the docs show, and clients with nothing to tell: no warning (made an error here).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RedisReplayStore(redis.Redis(socket_timeout=2, retry=Retry(NoBackoff(), retries=0)))
        RedisReplayStore(redis.Redis(connection_pool=redis.ConnectionPool(socket_timeout=2)))
        # A pool made without socket_timeout: its connections take their class's default,
        # which redis-py 8 bounds (5 s); only one that is None waits forever.
        default = getattr(redis.ConnectionPool().make_connection(), "socket_timeout", None)
        assert default is not None, f"redis-py {redis.__version__} waits forever by default"
        none = Retry(NoBackoff(), retries=0)
        RedisReplayStore(redis.Redis(connection_pool=redis.ConnectionPool(retry=none)))
        RedisReplayStore(redis.Redis.from_url("redis://127.0.0.1:6379/0", retry=none))
        once = redis.asyncio.retry.Retry(NoBackoff(), retries=0)
        AsyncRedisReplayStore(redis.asyncio.Redis(retry=once))
        # The middleware's store_timeout bounds an async store's wait: no timeout needed.
        pool = redis.asyncio.BlockingConnectionPool(max_connections=5)
        AsyncRedisReplayStore(redis.asyncio.Redis(connection_pool=pool))
        RedisReplayStore(object())
    # redis-py's own default retries: a lost SET answer resent finds its own key.
    with pytest.warns(RuntimeWarning, match=r"retries commands \(\d+ times\).*\(409\)") as caught:
        RedisReplayStore(redis.Redis(socket_timeout=2))
    assert [w.filename for w in caught] == [__file__], "the warning points at the caller"
    with pytest.warns(RuntimeWarning, match=r"AsyncRedisReplayStore: .* retries commands"):
        AsyncRedisReplayStore(redis.asyncio.Redis())
    # A negative count is redis-py's "retry without end": the worst case, warned of too.
    forever = Retry(NoBackoff(), retries=-1)
    with pytest.warns(RuntimeWarning, match=r"retries commands \(without end\)"):
        RedisReplayStore(redis.Redis(socket_timeout=2, retry=forever))
    with pytest.warns(RuntimeWarning, match=r"AsyncRedisReplayStore: .* \(without end\)"):
        AsyncRedisReplayStore(redis.asyncio.Redis(retry=redis.asyncio.retry.Retry(NoBackoff(), -1)))
    # A pool given retry_on_timeout or retry_on_error and no retry: the client names no
    # Retry (get_retry() is None), and each connection retries once all the same.
    options: dict[str, Any]
    for options in ({"retry_on_timeout": True}, {"retry_on_error": [redis.ConnectionError]}):
        sync_pool = redis.ConnectionPool(socket_timeout=2, **options)
        connection: Any = sync_pool.make_connection()
        assert connection.retry.get_retries() == 1
        with pytest.warns(RuntimeWarning, match=r"retries commands \(1 times\)"):
            RedisReplayStore(redis.Redis(connection_pool=sync_pool))
        async_pool = redis.asyncio.BlockingConnectionPool(**options)
        connection = async_pool.make_connection()  # type: ignore[no-untyped-call]
        assert connection.retry.get_retries() == 1
        with pytest.warns(RuntimeWarning, match=r"AsyncRedisReplayStore: .* \(1 times\)"):
            AsyncRedisReplayStore(redis.asyncio.Redis(connection_pool=async_pool))
    # No socket_timeout: given as None, or a pool made without one.
    for unbounded in (
        redis.Redis(socket_timeout=None, retry=Retry(NoBackoff(), retries=0)),
        redis.Redis(connection_pool=redis.ConnectionPool(socket_timeout=None)),
    ):
        with pytest.warns(RuntimeWarning, match="RedisReplayStore: .* no socket_timeout") as caught:
            store = RedisReplayStore(unbounded)
        assert len(caught) == 1
        assert store.client is unbounded, "taken all the same"


def test_an_asgi_replay_store_is_checked_when_the_middleware_is_made() -> None:
    verifier = xnonce.Verifier({"billing": SECRET})
    store = AsyncRedisReplayStore(
        redis.asyncio.Redis(connection_pool=redis.asyncio.ConnectionPool())
    )
    with pytest.raises(ValueError, match="once=True"):
        XNonceMiddleware(client_asgi, verifier, replay_store=store, once=False)
    with pytest.raises(TypeError, match="insert_if_absent"):
        XNonceMiddleware(client_asgi, verifier, replay_store=object())  # type: ignore[arg-type]
    for seconds in (0, -1, float("inf"), float("nan"), 10**400):
        with pytest.raises(ValueError, match="store_timeout"):
            XNonceMiddleware(client_asgi, verifier, replay_store=store, store_timeout=seconds)
    for wrong in (True, "2", None):
        with pytest.raises(TypeError, match="store_timeout"):
            XNonceMiddleware(client_asgi, verifier, replay_store=store, store_timeout=wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="insert_if_absent"):
        XNonceMiddleware(client_asgi, verifier, replay_store=AsyncRedisReplayStore)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"redis\.asyncio"):
        AsyncRedisReplayStore(redis.Redis())
    with pytest.raises(TypeError, match="AsyncRedisReplayStore"):
        RedisReplayStore(redis.asyncio.Redis())


class RestartableRedis:
    """A redis-server without persistence on a Unix socket of its own, which ``restart``
    stops and starts again on the same socket: empty, as a Redis without persistence comes
    back."""

    def __init__(self) -> None:
        self.server = shutil.which("redis-server")
        assert self.server, "redis-server is not installed (bindings-python/test.sh installs it)"
        self.folder = tempfile.TemporaryDirectory(prefix="xnonce-redis-")
        self.socket = os.path.join(self.folder.name, "redis.sock")
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        options = ["--port", "0", "--unixsocket", self.socket, "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [str(self.server), *options], cwd=self.folder.name, stdout=subprocess.DEVNULL
        )
        probe = redis.Redis(unix_socket_path=self.socket, socket_timeout=5)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    probe.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail("redis-server did not start within 10 s")
                    time.sleep(0.05)
        finally:
            probe.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=self.socket, socket_timeout=5, retry=Retry(NoBackoff(), retries=0)
        )


@pytest.fixture
def restartable() -> Iterator[RestartableRedis]:
    server = RestartableRedis()
    try:
        yield server
    finally:
        server.stop()
        server.folder.cleanup()


def reconnect(client: redis.Redis) -> None:
    """What the next request after a restart does: the pool's stale connection fails once,
    a new one then answers."""
    for _ in range(3):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            pass
    pytest.fail("no connection to the restarted redis-server")


def test_a_request_accepted_before_redis_restarted_empty_is_not_accepted_again(
    restartable: RestartableRedis,
) -> None:
    # Redis restarted without persistence forgets the keys of requests still in their window:
    # a copy of each would be accepted once more. As the reference server does, the store
    # notices the epoch marker changed and refuses every request for the fence.
    client = restartable.client()
    verifier = xnonce.Verifier({"billing": SECRET}, replay_store=RedisReplayStore(client))
    header, _ = signed()
    verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    marker = client.get("xnonce:replay:epoch")
    kept = client.ttl("xnonce:replay:epoch")
    restartable.restart()
    reconnect(client)
    for _ in range(2):  # the copy that finds the change, and one during the fence
        with pytest.raises(xnonce.UnavailableError) as refused:
            verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
        assert refused.value.code == "store_unavailable"
        assert "lost its replay keys" in str(refused.value.__cause__)
    assert marker is not None and kept == -1, "the reference server's marker, no expiry"
    other = client.get("xnonce:replay:epoch")
    assert other is not None and other != marker
    client.close()


def test_the_fence_after_a_loss_of_keys_ends(restartable: RestartableRedis) -> None:
    client = restartable.client()
    store = RedisReplayStore(client, fence_after_loss_ms=1_500)
    assert store.insert_if_absent("v2:c:n", 31_000, 1_000) is True
    client.flushall()  # lost, as a restart loses them: noticed at the next request
    with pytest.raises(xnonce.redis.RedisLostKeysError):
        store.insert_if_absent("v2:c:m", 31_000, 1_000)
    with pytest.raises(xnonce.redis.RedisLostKeysError):
        store.insert_if_absent("v2:c:n", 31_000, 1_000)
    time.sleep(1.6)
    assert store.insert_if_absent("v2:c:n", 31_000, 1_000) is True
    assert store.insert_if_absent("v2:c:n", 31_000, 1_000) is False
    # Without the fence, a Redis that lost its keys is not noticed.
    unfenced = RedisReplayStore(client, fence_after_loss_ms=None)
    assert unfenced.insert_if_absent("v2:c:o", 31_000, 1_000) is True
    client.flushall()
    assert unfenced.insert_if_absent("v2:c:o", 31_000, 1_000) is True
    with pytest.raises(ValueError, match="fence_after_loss_ms"):
        RedisReplayStore(client, fence_after_loss_ms=0)
    client.close()


def test_a_verifier_raises_its_stores_fence_to_cover_its_windows(
    restartable: RestartableRedis,
) -> None:
    # A store built with a 1 s fence, given to a verifier whose window is 10 s: the fence must
    # cover two windows plus the margin (21 s), or a copy of a request accepted just before
    # Redis lost its keys would be accepted again once the 1 s fence ended, still fresh.
    client = restartable.client()
    store = RedisReplayStore(client, fence_after_loss_ms=1_000)
    verifier = xnonce.Verifier({"billing": SECRET}, window_ms=10_000, replay_store=store)
    assert verifier.fence_after_loss_ms == 21_000
    assert store.fence_ms == 21_000
    header, _ = signed()
    verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    client.flushall()  # lost: noticed at the next request, which starts the fence
    with pytest.raises(xnonce.UnavailableError):
        verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    time.sleep(1.2)  # past the store's own 1 s fence, within the verifier's window
    with pytest.raises(xnonce.UnavailableError) as refused:
        verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    assert "refused for 21 s" in str(refused.value.__cause__)
    client.close()


def test_reconfigure_widens_the_fence_and_never_narrows_it() -> None:
    class Fenced:
        def __init__(self) -> None:
            self.told: list[int] = []

        def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            return True

        def widen_fence(self, fence_ms: int) -> None:
            self.told.append(fence_ms)

    # Any store with widen_fence is told; xnonce.redis's keeps the longest it was told.
    fenced = Fenced()
    verifier = xnonce.Verifier(
        {"billing": SECRET}, controller_windows={"exports": 300_000}, replay_store=fenced
    )
    assert fenced.told == [601_000] == [verifier.fence_after_loss_ms]
    verifier.reconfigure(window_ms=120_000)
    verifier.reconfigure(window_ms=5_000)
    assert fenced.told == [601_000, 241_000, 11_000]
    # Never connected: widen_fence sends nothing.
    store = RedisReplayStore(redis.Redis(socket_timeout=5, retry=Retry(NoBackoff(), retries=0)))
    assert store.fence_ms == xnonce.redis.DEFAULT_FENCE_MS == 61_000
    redis_verifier = xnonce.Verifier({"billing": SECRET}, replay_store=store)
    assert store.fence_ms == 61_000
    redis_verifier.reconfigure(window_ms=120_000)
    assert (store.fence_ms, redis_verifier.fence_after_loss_ms) == (241_000, 241_000)
    redis_verifier.reconfigure(window_ms=5_000)  # keys of the 120 s window may still be there
    assert (store.fence_ms, redis_verifier.fence_after_loss_ms) == (241_000, 11_000)
    unfenced = RedisReplayStore(
        redis.Redis(socket_timeout=5, retry=Retry(NoBackoff(), retries=0)), fence_after_loss_ms=None
    )
    xnonce.Verifier({"billing": SECRET}, window_ms=120_000, replay_store=unfenced)
    assert unfenced.fence_ms is None
    for wrong in (0, -1, True, 1.5, "61000"):
        with pytest.raises(ValueError, match="fence_ms"):
            store.widen_fence(wrong)  # type: ignore[arg-type]

    # A store whose widen_fence fails: the constructor raises; reconfigure raises and changes
    # nothing (the old windows still apply).
    class Failing(Fenced):
        def widen_fence(self, fence_ms: int) -> None:
            if fence_ms > 61_000:
                raise RuntimeError("cannot widen")

    with pytest.raises(RuntimeError, match="cannot widen"):
        xnonce.Verifier({"billing": SECRET}, window_ms=120_000, replay_store=Failing())
    failing = xnonce.Verifier({"billing": SECRET}, replay_store=Failing())
    with pytest.raises(RuntimeError, match="cannot widen"):
        failing.reconfigure(window_ms=120_000)
    assert failing.fence_after_loss_ms == 61_000


def test_the_asgi_middleware_widens_its_stores_fence_after_a_reconfigure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Fenced:
        def __init__(self, fails: bool = False) -> None:
            self.told: list[int] = []
            self.fails = fails

        async def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            return True

        def widen_fence(self, fence_ms: int) -> None:
            if self.fails and self.told:
                raise RuntimeError("redis://:hunter2@10.0.0.5 cannot widen")
            self.told.append(fence_ms)

    verifier = xnonce.Verifier({"billing": SECRET})
    store = Fenced()
    app = XNonceMiddleware(client_asgi, verifier, replay_store=store)
    assert store.told == [61_000]
    with uvicorn_serving(app) as base:
        assert get(base, signed()[0]).status_code == 200
        assert store.told == [61_000], "told again only when the fence grew"
        verifier.reconfigure(window_ms=120_000)
        assert get(base, signed()[0]).status_code == 200
        assert store.told == [61_000, 241_000]
    # A store that cannot widen its fence is not trusted with the request: 503, logged.
    failing = Fenced(fails=True)
    verifier = xnonce.Verifier({"billing": SECRET})
    app = XNonceMiddleware(client_asgi, verifier, replay_store=failing)
    verifier.reconfigure(window_ms=120_000)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="xnonce"), uvicorn_serving(app) as base:
        refused = get(base, signed()[0])
    assert (refused.status_code, refused.json()["code"]) == (503, "store_unavailable")
    [record] = caplog.records
    assert record.getMessage().startswith("replay store's widen_fence failed (RuntimeError: ")


def test_an_async_store_refuses_too_after_redis_restarted_empty(
    restartable: RestartableRedis,
) -> None:
    async def main() -> list[object]:
        once = redis.asyncio.retry.Retry(NoBackoff(), retries=0)
        client = redis.asyncio.Redis(unix_socket_path=restartable.socket, retry=once)
        store = AsyncRedisReplayStore(client)
        answers: list[object] = [await store.insert_if_absent("v2:c:n", 31_000, 1_000)]
        restartable.restart()
        for _ in range(3):
            try:
                answers.append(await store.insert_if_absent("v2:c:n", 31_000, 1_000))
            except redis.ConnectionError:
                continue  # the stale connection
            except Exception as e:
                answers.append(type(e).__name__)
        await client.aclose()
        return answers

    answers = asyncio.run(main())
    assert answers[0] is True
    assert True not in answers[1:], answers
    assert "RedisLostKeysError" in answers, answers


def test_a_redis_that_may_evict_replay_keys_is_warned_of_once(redis_client: redis.Redis) -> None:
    # As xnonce-server warns: under any policy but noeviction a full Redis evicts live replay
    # keys, and each evicted key lets a copy of its request through.
    socket_path = redis_client.connection_pool.connection_kwargs["path"]
    verifier = xnonce.Verifier({"billing": SECRET}, replay_store=RedisReplayStore(redis_client))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # noeviction (Redis's default): nothing to say
        verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=signed()[0])
    redis_client.config_set("maxmemory-policy", "allkeys-lru")
    fresh = xnonce.Verifier({"billing": SECRET}, replay_store=RedisReplayStore(redis_client))
    with pytest.warns(RuntimeWarning, match=r"maxmemory-policy is 'allkeys-lru'.*noeviction"):
        fresh.verify_once("GET", "/reports/daily", host="api.test", x_nonce=signed()[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # read once per store, not once per request
        fresh.verify_once("GET", "/reports/daily", host="api.test", x_nonce=signed()[0])

    async def main() -> None:
        once = redis.asyncio.retry.Retry(NoBackoff(), retries=0)
        client = redis.asyncio.Redis(unix_socket_path=socket_path, retry=once)
        store = AsyncRedisReplayStore(client)
        try:
            with pytest.warns(RuntimeWarning, match=r"AsyncRedisReplayStore: .*'allkeys-lru'"):
                assert await store.insert_if_absent("v2:billing:a", 2**40, 2**40 - 1000)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                assert not await store.insert_if_absent("v2:billing:a", 2**40, 2**40 - 1000)
        finally:
            await client.aclose()

    asyncio.run(main())


def test_a_redis_that_refuses_config_is_used_without_a_warning(redis_client: redis.Redis) -> None:
    # Managed Redis services often refuse CONFIG: the policy cannot be told, which is neither
    # a warning nor a failure of the request.
    redis_client.config_set("maxmemory-policy", "allkeys-lru")
    redis_client.acl_setuser(
        "app", enabled=True, passwords=["+app-pw"], keys=["*"], commands=["+@all", "-config"]
    )
    socket_path = redis_client.connection_pool.connection_kwargs["path"]
    limited = redis.Redis(
        unix_socket_path=socket_path,
        username="app",
        password="app-pw",
        socket_timeout=5,
        retry=Retry(NoBackoff(), retries=0),
    )
    with pytest.raises(redis.exceptions.NoPermissionError):
        limited.config_get("maxmemory-policy")
    verifier = xnonce.Verifier({"billing": SECRET}, replay_store=RedisReplayStore(limited))
    header, _ = signed()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
        with pytest.raises(xnonce.AuthError, match="replayed"):
            verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    limited.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def replica(request: pytest.FixtureRequest) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """A redis-server on 127.0.0.1 (a fresh port, never 6379) and a replica of it
    (``--replicaof``; read-only, Redis's default ``replica-read-only yes``, unless the test is
    parametrized indirectly with ``"writable"``), once it has synced: clients of (primary,
    replica)."""
    writable = getattr(request, "param", "read-only") == "writable"
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed (bindings-python/test.sh installs it)"
    folder = tempfile.TemporaryDirectory(prefix="xnonce-redis-")
    processes: list[subprocess.Popen[bytes]] = []
    clients: list[redis.Redis] = []

    def start(port: int, *extra: str) -> redis.Redis:
        options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        cwd = tempfile.mkdtemp(dir=folder.name)
        process = subprocess.Popen([server, *options, *extra], cwd=cwd, stdout=subprocess.DEVNULL)
        processes.append(process)
        client = redis.Redis(port=port, socket_timeout=5, retry=Retry(NoBackoff(), retries=0))
        clients.append(client)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on 127.0.0.1:{port}")
                time.sleep(0.05)

    try:
        primary_port = _free_port()
        primary = start(primary_port)
        read_only = ["--replica-read-only", "no"] if writable else []
        copy = start(_free_port(), "--replicaof", "127.0.0.1", str(primary_port), *read_only)
        deadline = time.monotonic() + 10
        while copy.info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica did not sync within 10 s"
            time.sleep(0.05)
        yield primary, copy
    finally:
        for client in clients:
            client.close()
        for process in processes:
            process.terminate()
            process.wait(10)
        folder.cleanup()


@pytest.mark.parametrize("replica", ["read-only", "writable"], indirect=True)
def test_a_replica_is_a_503_that_says_it_is_a_replica(
    replica: tuple[redis.Redis, redis.Redis], caplog: pytest.LogCaptureFixture
) -> None:
    # As xnonce-server does, the store asks INFO replication before its first SET and refuses
    # a replica (role:slave): a writable one (replica-read-only no) would take the SET, and
    # a copy of a request the primary's processes accepted would be accepted again here. The
    # request is refused 503, never accepted, and the error says why.
    primary, copy = replica
    assert copy.info("replication")["role"] == "slave"
    on_primary = xnonce.Verifier({"billing": SECRET}, replay_store=RedisReplayStore(primary))
    header, _ = signed()
    assert on_primary.verify_once("GET", "/reports/daily", host="api.test", x_nonce=header)
    on_replica = xnonce.Verifier({"billing": SECRET}, replay_store=RedisReplayStore(copy))
    for x_nonce in (signed()[0], header):  # a new request, and one the primary took
        with pytest.raises(xnonce.UnavailableError) as refused:
            on_replica.verify_once("GET", "/reports/daily", host="api.test", x_nonce=x_nonce)
        assert refused.value.code == "store_unavailable"
        assert refused.value.answer is not None and refused.value.answer.status == 503
        cause = refused.value.__cause__
        assert isinstance(cause, xnonce.redis.RedisReplicaError), repr(cause)
        assert "replica (role:slave)" in str(cause) and "primary" in str(cause)
    # Only what it replicated from the primary: no key of its own.
    assert set(copy.keys("xnonce:*")) <= set(primary.keys("xnonce:*")), "the replica took a key"
    # Under ASGI: a 503, and the log line names the replica.
    port = copy.connection_pool.connection_kwargs["port"]
    once = redis.asyncio.retry.Retry(NoBackoff(), retries=0)
    store = AsyncRedisReplayStore(redis.asyncio.Redis(port=port, retry=once))
    app = XNonceMiddleware(client_asgi, xnonce.Verifier({"billing": SECRET}), replay_store=store)
    with caplog.at_level(logging.ERROR, logger="xnonce"), uvicorn_serving(app) as base:
        refused_asgi = get(base, signed()[0])
    assert (refused_asgi.status_code, refused_asgi.json()["code"]) == (503, "store_unavailable")
    assert any("RedisReplicaError" in r.getMessage() for r in caplog.records), caplog.text
    assert any("replica (role:slave)" in r.getMessage() for r in caplog.records), caplog.text


def test_a_primary_that_became_a_read_only_replica_is_a_503_that_says_so(
    replica: tuple[redis.Redis, redis.Redis],
) -> None:
    # A failover after the store's first check: its address now reaches a read-only replica,
    # which answers each SET READONLY. Refused 503, the READONLY error as the cause.
    primary, copy = replica
    verifier = xnonce.Verifier({"billing": SECRET}, replay_store=RedisReplayStore(primary))
    assert verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=signed()[0])
    copy.replicaof("NO", "ONE")
    primary.replicaof("127.0.0.1", copy.connection_pool.connection_kwargs["port"])
    assert primary.info("replication")["role"] == "slave"
    with pytest.raises(xnonce.UnavailableError) as refused:
        verifier.verify_once("GET", "/reports/daily", host="api.test", x_nonce=signed()[0])
    assert refused.value.code == "store_unavailable"
    cause = refused.value.__cause__
    assert isinstance(cause, xnonce.redis.RedisReplicaError), repr(cause)
    assert "read-only replica (READONLY)" in str(cause) and "primary" in str(cause)
    assert isinstance(cause.__cause__, redis.exceptions.ReadOnlyError)
