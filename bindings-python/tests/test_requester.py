"""`Requester` and `AsyncRequester` against a local server that records what it receives: the
JSON body goes out byte for byte as `json.dumps` wrote it, and bad settings are refused."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import xnonce

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Echo:
    """A local HTTP server that records every request and answers 200 ``{}``."""

    server: ThreadingHTTPServer
    seen: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def verify(self, got: Received) -> xnonce.Verified:
        return xnonce.Verifier({"svc": SECRET}).verify(
            got.method,
            got.target,
            host=got.headers.get("Host"),
            x_nonce=got.headers.get("X-Nonce"),
            content_type=got.headers.get("Content-Type"),
            body=got.body,
        )


@pytest.fixture
def echo() -> Iterator[Echo]:
    box: list[Echo] = []

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            box[0].seen.append(Received(self.command, self.path, dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = do_PUT = handle_one

        def log_message(self, *args: Any) -> None:
            pass

    box.append(Echo(ThreadingHTTPServer(("127.0.0.1", 0), Handler)))
    threading.Thread(target=box[0].server.serve_forever, daemon=True).start()
    try:
        yield box[0]
    finally:
        box[0].server.shutdown()
        box[0].server.server_close()


# Integers JSON holds exactly but a 64-bit integer or a double does not.
BIG_NUMBERS: list[Any] = [
    {"id": 2**64 + 1},
    {"id": -(2**63) - 1},
    {"id": 12345678901234567890123},
    [2**200, -(2**64), 0.1, 1e300],
    {"b": 1, "a": {"é": "ü", "n": 2**70}},
]


@pytest.mark.parametrize("value", BIG_NUMBERS, ids=repr)
def test_json_body_is_sent_exactly_as_json_dumps_wrote_it(echo: Echo, value: Any) -> None:
    api = xnonce.Requester(echo.url, "svc", SECRET, timeout=10)
    res = api.make_request("POST", {"k": "v"}, "/c/a", options={"json": value})
    assert res.code == 200
    (got,) = echo.seen
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert got.body == expected
    assert json.loads(got.body) == value
    assert got.headers["Content-Type"].startswith("application/json")
    # The signature covers those very bytes.
    assert echo.verify(got).params == [("k", "v")]


def test_options_set_to_none_count_as_absent(echo: Echo) -> None:
    # `{"json": None}` is no JSON body (not the text `null`): the params go as a form, as
    # without the option; the other options set to None are absent too.
    api = xnonce.Requester(echo.url, "svc", SECRET, timeout=10)
    options: xnonce.RequestOptions = {
        "json": None,
        "timestamp": None,
        "nonce": None,
        "extra_params": None,
        "headers": None,
    }
    assert api.make_request("POST", {"k": "v"}, "/c/a", options=options).code == 200
    (got,) = echo.seen
    assert got.body == b"k=v"
    assert got.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert echo.verify(got).params == [("k", "v")]


def test_async_json_body_is_sent_exactly_as_json_dumps_wrote_it(echo: Echo) -> None:
    value = {"id": 2**64 + 1, "neg": -(2**63) - 1}

    async def main() -> xnonce.Response:
        api = xnonce.AsyncRequester(echo.url, "svc", SECRET, timeout=10)
        return await api.make_request("PUT", None, "/c/a", options={"json": value})

    assert asyncio.run(main()).code == 200
    (got,) = echo.seen
    assert got.body == b'{"id":18446744073709551617,"neg":-9223372036854775809}'
    assert echo.verify(got).client == "svc"


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [128, 200, 5_000])
def test_json_nested_too_deep_is_invalid_body_and_nothing_is_sent(echo: Echo, depth: int) -> None:
    api = xnonce.Requester(echo.url, "svc", SECRET, timeout=10)
    with pytest.raises(xnonce.InputError) as e:
        api.make_request("POST", {}, "/c/a", options={"json": nested(depth)})
    assert e.value.code == "invalid_body"

    async def main() -> object:
        api = xnonce.AsyncRequester(echo.url, "svc", SECRET, timeout=10)
        return await api.make_request("POST", {}, "/c/a", options={"json": nested(depth)})

    with pytest.raises(xnonce.InputError) as e:
        asyncio.run(main())
    assert e.value.code == "invalid_body"
    assert echo.seen == []


def test_json_nested_127_levels_is_sent(echo: Echo) -> None:
    # serde_json's limit, which every binding's requester checks the body against.
    api = xnonce.Requester(echo.url, "svc", SECRET, timeout=10)
    assert api.make_request("POST", {}, "/c/a", options={"json": nested(127)}).code == 200
    assert echo.seen[0].body == b"[" * 127 + b"]" * 127


def test_json_string_with_a_lone_surrogate_is_invalid_body(echo: Echo) -> None:
    api = xnonce.Requester(echo.url, "svc", SECRET, timeout=10)
    with pytest.raises(xnonce.InputError) as e:
        api.make_request("POST", {}, "/c/a", options={"json": {"s": "a\udcffb"}})
    assert e.value.code == "invalid_body" and "\udcff" not in str(e.value)
    assert echo.seen == []


def test_json_that_json_dumps_refuses_keeps_its_error() -> None:
    api = xnonce.Requester("http://127.0.0.1:9", "svc", SECRET)
    with pytest.raises(TypeError):
        api.make_request("POST", {}, "/c/a", options={"json": {"s": {1, 2}}})
    with pytest.raises(ValueError):
        api.make_request("POST", {}, "/c/a", options={"json": [float("nan")]})
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError):
        api.make_request("POST", {}, "/c/a", options={"json": loop})


# ---- settings: TypeError for a wrong type, ValueError for a bad value ----

REQUESTERS = [xnonce.Requester, xnonce.AsyncRequester]


@pytest.mark.parametrize("cls", REQUESTERS)
@pytest.mark.parametrize("name", ["timeout", "clock_offset_ms", "max_response_bytes"])
def test_a_bool_setting_is_a_type_error(cls: Any, name: str) -> None:
    for flag in (True, False):
        with pytest.raises(TypeError, match=name) as e:
            cls("http://127.0.0.1:9", "svc", SECRET, **{name: flag})
        assert not isinstance(e.value, xnonce.XNonceError)


@pytest.mark.parametrize("cls", REQUESTERS)
@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("clock_offset_ms", 2**63),
        ("clock_offset_ms", -(2**63) - 1),
        ("clock_offset_ms", 10**40),
        ("max_response_bytes", 2**64),
        ("max_response_bytes", -1),
        ("max_response_bytes", -(10**40)),
        ("timeout", 10**400),
        ("timeout", 0),
        ("timeout", -1.0),
        ("timeout", float("nan")),
        ("timeout", float("inf")),
    ],
    ids=lambda v: str(v)[:24],
)
def test_a_setting_out_of_range_is_a_value_error(cls: Any, name: str, bad: object) -> None:
    with pytest.raises(ValueError, match=name) as e:
        cls("http://127.0.0.1:9", "svc", SECRET, **{name: bad})
    assert not isinstance(e.value, OverflowError)


@pytest.mark.parametrize("cls", REQUESTERS)
@pytest.mark.parametrize("offset", [2**53, -(2**53), 2**63 - 1, -(2**63)])
def test_a_clock_offset_beyond_the_timestamp_range_is_an_input_error(cls: Any, offset: int) -> None:
    # In the i64 range, but no timestamp could carry it: core's invalid_timestamp, at once.
    with pytest.raises(xnonce.InputError, match="clock offset") as e:
        cls("http://127.0.0.1:9", "svc", SECRET, clock_offset_ms=offset)
    assert e.value.code == "invalid_timestamp"
    assert str(offset) in str(e.value)


@pytest.mark.parametrize("cls", REQUESTERS)
def test_settings_at_their_bounds_and_of_the_wrong_type(cls: Any) -> None:
    for kw in (
        {"clock_offset_ms": 2**53 - 1},
        {"clock_offset_ms": -(2**53 - 1)},
        {"max_response_bytes": 2**64 - 1},
        {"max_response_bytes": 2**63},  # an OverflowError ("C long") once
        {"max_response_bytes": 0},
        {"timeout": 1},
        {"timeout": 0.5},
        # Any positive number: one below a nanosecond is a nanosecond.
        {"timeout": 1e-12},
        {"timeout": 5e-324},
    ):
        if cls is xnonce.AsyncRequester:
            cls("http://127.0.0.1:9", "svc", SECRET, **kw)
        else:
            assert cls("http://127.0.0.1:9", "svc", SECRET, **kw).clock_offset_ms == kw.get(
                "clock_offset_ms", 0
            )

    class Index:  # an int-like (numpy's integers): taken, as by int settings before
        def __index__(self) -> int:
            return 5

    cls("http://127.0.0.1:9", "svc", SECRET, clock_offset_ms=Index(), max_response_bytes=Index())
    for name, bad in (("clock_offset_ms", 1.5), ("max_response_bytes", "1"), ("timeout", "1")):
        with pytest.raises(TypeError, match=name):
            cls("http://127.0.0.1:9", "svc", SECRET, **{name: bad})


@pytest.mark.parametrize("cls", REQUESTERS)
def test_ca_pem_text_utf8_cannot_encode_is_a_value_error(cls: Any) -> None:
    with pytest.raises(ValueError, match="the CA PEM is not valid Unicode text") as e:
        cls("https://127.0.0.1:9", "svc", SECRET, ca_pem="-----BEGIN \udcff")
    assert not isinstance(e.value, (TypeError, UnicodeError))
    assert "\udcff" not in str(e.value)
    with pytest.raises(TypeError, match="ca_pem must be str or bytes"):
        cls("https://127.0.0.1:9", "svc", SECRET, ca_pem=5)


# ---- the answer's JSON ----


@pytest.fixture
def answering() -> Iterator[tuple[str, list[bytes]]]:
    """A local server answering each request with the next body of its list (JSON)."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.pop(0)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_response_data_keeps_big_integers_exact_and_keys_in_order(
    answering: tuple[str, list[bytes]],
) -> None:
    url, bodies = answering
    body = b'{"id":18446744073709551617,"z":-9223372036854775809,"a":[0.1,12345678901234567890123]}'
    bodies += [body, body]
    res = xnonce.Requester(url, "svc", SECRET, timeout=10).make_request("GET", None, "/c/a")
    assert res.data == {"id": 2**64 + 1, "z": -(2**63) - 1, "a": [0.1, 12345678901234567890123]}
    assert list(res.data) == ["id", "z", "a"]

    async def main() -> xnonce.Response:
        api = xnonce.AsyncRequester(url, "svc", SECRET, timeout=10)
        return await api.make_request("GET", None, "/c/a")

    assert asyncio.run(main()).data == res.data
    # An integer of more digits than Python reads (`sys.get_int_max_str_digits()`, 4300):
    # `json.loads` refuses it, so no data.
    bodies.append(b"[" + b"9" * 5000 + b"]")
    assert xnonce.Requester(url, "svc", SECRET).make_request("GET", None, "/c/a").data is None


def sync_and_async_answers(url: str) -> list[xnonce.Response]:
    """The answers to a GET made by a `Requester`, then to one by an `AsyncRequester`."""

    async def main() -> xnonce.Response:
        api = xnonce.AsyncRequester(url, "svc", SECRET, timeout=10)
        return await api.make_request("GET", None, "/c/a")

    sync = xnonce.Requester(url, "svc", SECRET, timeout=10).make_request("GET", None, "/c/a")
    return [sync, asyncio.run(main())]


@pytest.mark.parametrize(
    "body",
    [
        # JSON that serde_json (the Rust requester's parser) refuses but `json.loads` reads, as
        # JavaScript's JSON.parse does (the Node binding's `data`): nested deeper than 128
        # levels, a number beyond a double's range, a lone surrogate escape.
        b"[" * 300 + b"]" * 300,
        b'{"a": [2.2250738585072011e-308, 1e400]}',
        b'{"s": "\\ud800"}',
    ],
)
def test_response_data_is_any_json_that_json_loads_reads(
    answering: tuple[str, list[bytes]], body: bytes
) -> None:
    url, bodies = answering
    bodies += [body, body]
    for res in sync_and_async_answers(url):
        assert res.body == body.decode()
        assert res.data == json.loads(body)


@pytest.mark.parametrize(
    "body",
    # Not JSON, though `json.loads` (NaN, Infinity) or a lossy decoding (U+FFFD) would read it.
    [b"[NaN]", b"[-Infinity]", b'["\xff"]', b"", b" ", b"\xef\xbb\xbf{}", b"{} x"],
)
def test_response_data_is_none_for_a_body_that_is_not_json(
    answering: tuple[str, list[bytes]], body: bytes
) -> None:
    url, bodies = answering
    bodies.append(body)
    res = xnonce.Requester(url, "svc", SECRET, timeout=10).make_request("GET", None, "/c/a")
    assert res.data is None


@pytest.mark.parametrize(
    "body",
    # A PNG's signature (not UTF-8), Latin-1 text, an empty body, UTF-8 text.
    [b"\x89PNG\r\n\x1a\n\x00\xff", "café".encode("latin-1"), b"", '{"a": "é"}'.encode()],
)
def test_response_content_is_the_body_byte_for_byte(
    answering: tuple[str, list[bytes]], body: bytes
) -> None:
    url, bodies = answering
    bodies += [body, body]
    for res in sync_and_async_answers(url):
        assert type(res.content) is bytes
        assert res.content == body
        assert res.body == body.decode("utf-8", errors="replace")


def test_async_make_request_is_a_coroutine_started_when_awaited(echo: Echo) -> None:
    """As an `async` method's call: `asyncio.create_task` takes it (it refuses a bare future),
    and nothing is read or sent until it runs, so a bad argument raises from the await."""
    api = xnonce.AsyncRequester(echo.url, "svc", SECRET, timeout=10)

    async def main() -> list[int]:
        never = api.make_request("GET", {"k": "never"}, "/c/never")
        assert inspect.iscoroutine(never)
        never.close()  # never awaited: nothing is sent
        bad = api.make_request("GET", None, 1)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await bad
        task = asyncio.create_task(api.make_request("GET", {"k": "task"}, "/c/task"))
        codes = [(await task).code]
        group_request = api.make_request("GET", {"k": "group"}, "/c/group")
        if sys.version_info >= (3, 11):
            async with asyncio.TaskGroup() as group:
                grouped = group.create_task(group_request)
            codes.append(grouped.result().code)
        else:  # no TaskGroup before 3.11
            codes.append((await asyncio.ensure_future(group_request)).code)
        return codes

    assert asyncio.run(main()) == [200, 200]
    # Driven by hand, with no asyncio loop running: the README's RuntimeError.
    outside = api.make_request("GET", None, "/c/outside")
    with pytest.raises(RuntimeError):
        outside.send(None)
    assert sorted(r.target.split("?")[0] for r in echo.seen) == ["/c/group", "/c/task"]


def test_ctrl_c_interrupts_a_blocking_request_waiting_for_its_answer() -> None:
    # A server that never answers: without the interrupt, the wait lasts the 60 s timeout.
    # In a child process, so that the KeyboardInterrupt cannot reach pytest itself.
    code = """
import os, signal, socket, sys, threading, time
import xnonce
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(8)  # accepts connections (in the backlog), never reads nor answers
port = silent.getsockname()[1]
r = xnonce.Requester(f"http://127.0.0.1:{port}", "svc", sys.argv[1], timeout=60)
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
started = time.monotonic()
try:
    r.make_request("GET", {}, "/slow")
    print("answered")
except KeyboardInterrupt:
    print("interrupted", time.monotonic() - started)
"""
    out = subprocess.run(
        [sys.executable, "-c", code, SECRET], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    what, *elapsed = out.stdout.split()
    assert what == "interrupted", out.stdout
    # Interrupted, not ended by the 60 s timeout.
    assert float(elapsed[0]) < 30, out.stdout


def test_more_headers_than_the_http_stack_holds_are_malformed_header(echo: Echo) -> None:
    """So many header names that the HTTP stack's map panicked when the request was built:
    the blocking requester said "the runtime is shutting down", the async one raised a bare
    RuntimeError. Now a `FormatError` (`malformed_header`) from both, and nothing is sent."""
    headers = [(f"X-H{i}", "1") for i in range(40000)]
    with pytest.raises(xnonce.FormatError) as sync:
        xnonce.Requester(echo.url, "svc", SECRET, timeout=5).make_request(
            "GET", None, "/c/many", options={"headers": headers}
        )
    assert sync.value.code == "malformed_header"
    api = xnonce.AsyncRequester(echo.url, "svc", SECRET, timeout=5)

    async def many() -> xnonce.Response:
        return await api.make_request("GET", None, "/c/many", options={"headers": headers})

    with pytest.raises(xnonce.FormatError) as aio:
        asyncio.run(many())
    assert aio.value.code == "malformed_header"
    assert echo.seen == []


def test_an_async_request_made_in_a_later_exit_hook_is_answered(echo: Echo) -> None:
    """xnonce's own exit hook closes the gate through which answers reach the event loop; an
    exit hook that runs after it (registered before `import xnonce`: they run last first)
    and awaits an `AsyncRequester` request waited for ever, past the requester's timeout."""
    code = """
import asyncio, atexit, sys
url, secret = sys.argv[1], sys.argv[2]
def bye():
    async def main():
        # A bound for the test only: the requester's own timeout did not end the wait.
        return await asyncio.wait_for(api.make_request("GET", None, "/c/bye"), 10)
    try:
        print("exit hook answer", asyncio.run(main()).code, flush=True)
    except BaseException as e:
        print("exit hook failed", type(e).__name__, e, flush=True)
atexit.register(bye)
import xnonce
api = xnonce.AsyncRequester(url, "svc", secret, timeout=5)
"""
    out = subprocess.run(
        [sys.executable, "-c", code, echo.url, SECRET], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "exit hook answer 200" in out.stdout, out.stdout
    assert [r.target for r in echo.seen] == ["/c/bye"]


# ---- options read from a snapshot: code run while reading one may change the dict ----


def test_options_changed_while_they_are_read_are_read_as_given(echo: Echo) -> None:
    """Reading an option can run the caller's code (an `__index__`, a mapping's `items()`,
    `json.dumps` calling a dict subclass's `items()`); code that changes `options` meanwhile
    must not crash the extension (a Rust panic: `PanicException`, which `except Exception`
    does not catch): the options are read as they were when the call was made."""
    options: Any = {}  # a dict, typed loosely: its values are what the test makes them

    class Timestamp:
        def __index__(self) -> int:
            options["nonce"] = "00112233445566778899aabbccddeeff"
            return 1_700_000_000_000

    class Headers(dict[str, str]):
        def items(self) -> Any:
            options.clear()
            return super().items()

    class Body(dict[str, int]):
        def items(self) -> Any:
            options.pop("headers", None)
            return super().items()

    api = xnonce.Requester(echo.url, "svc", SECRET, timeout=10, correct_clock=False)
    options.update(timestamp=Timestamp())
    api.make_request("GET", {}, "/c/a", options=options)
    options.clear()
    options.update(headers=Headers({"X-Trace": "on"}), json=Body(a=1))
    api.make_request("POST", {}, "/c/a", options=options)
    first, second = echo.seen
    assert xnonce.parse_header(first.headers["X-Nonce"]).timestamp == 1_700_000_000_000
    assert second.headers["X-Trace"] == "on" and second.body == b'{"a":1}'

    async def run() -> xnonce.Response:
        options.clear()
        options.update(timestamp=Timestamp())
        aapi = xnonce.AsyncRequester(echo.url, "svc", SECRET, timeout=10, correct_clock=False)
        return await aapi.make_request("GET", {}, "/c/a", options=options)

    asyncio.run(run())
    assert xnonce.parse_header(echo.seen[2].headers["X-Nonce"]).timestamp == 1_700_000_000_000


# ---- a forked child process (gunicorn --preload, multiprocessing, Celery's prefork) ----


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_requesters_made_before_a_fork_work_in_the_child(echo: Echo) -> None:
    """A child process inherits the requesters (and the runtime) but not the runtime's threads
    nor a connection it could share with its parent: requests made in the child, on a
    requester made before the fork or after it, sync or async, are answered (they hung for
    ever, past any timeout), and the learned clock offset carries over."""
    code = """
import asyncio, os, signal, sys
import xnonce
url, secret = sys.argv[1], sys.argv[2]
sync = xnonce.Requester(url, "svc", secret, timeout=5, clock_offset_ms=1234)
aio = xnonce.AsyncRequester(url, "svc", secret, timeout=5)
assert sync.make_request("GET", None, "/c/parent").code == 200   # a pooled connection
async def once(api):
    return await api.make_request("GET", None, "/c/child-async")
assert asyncio.run(once(aio)).code == 200
pid = os.fork()
if pid == 0:
    signal.alarm(30)  # the hang ends the child (killed by SIGALRM), not the test run
    try:
        assert sync.clock_offset_ms == 1234
        assert sync.make_request("GET", None, "/c/child").code == 200
        assert asyncio.run(once(aio)).code == 200
        fresh = xnonce.Requester(url, "svc", secret, timeout=5)
        assert fresh.make_request("GET", None, "/c/child-fresh").code == 200
    except BaseException as e:
        print("child:", type(e).__name__, e, flush=True)
        os._exit(1)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("status", status)
assert sync.make_request("GET", None, "/c/parent-after").code == 200
"""
    out = subprocess.run(
        [sys.executable, "-c", code, echo.url, SECRET], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "status 0" in out.stdout, out.stdout
    targets = [r.target for r in echo.seen]
    assert {"/c/child", "/c/child-fresh"} <= set(targets), targets
    assert targets.count("/c/child-async") == 2, targets


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_child_forked_while_an_async_answer_waits_for_the_gil_exits_at_once(echo: Echo) -> None:
    """An async answer is handed to its event loop by a tokio thread that counts itself in
    the exit gate, then waits for the GIL. A fork meanwhile (the parent's event loop thread
    holds the GIL) copied that count into the child, where no such thread exists: the child's
    exit hook waited its full 10 s for it, so every such child exited 10 s late."""
    code = """
import asyncio, os, sys, time
import xnonce
url, secret = sys.argv[1], sys.argv[2]
async def main():
    api = xnonce.AsyncRequester(url, "svc", secret, timeout=5)
    answer = api._start_request("GET", None, "/c/answered-during-fork")  # sent at once
    # Hold the GIL (no thread switch, no I/O) until well after the answer has arrived: the
    # tokio thread handing it over waits for the GIL, counted in the gate, when we fork.
    sys.setswitchinterval(100)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        pass
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(1)  # nothing of the child's goes to the parent's output
        sys.exit(0)  # a normal exit: the atexit hooks run
    sys.setswitchinterval(0.005)
    os.waitpid(pid, 0)
    print("child exited after", round(time.monotonic() - started, 1), "s")
    print("parent answer", (await answer).code)
asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", code, echo.url, SECRET], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "parent answer 200" in out.stdout, out.stdout
    seconds = float(out.stdout.split("child exited after")[1].split()[0])
    assert seconds < 5, out.stdout


NS_LAST_PID = "/proc/sys/kernel/ns_last_pid"


def can_set_last_pid() -> bool:
    """Whether this process may choose the next pid: root is not enough (`os.access` says yes
    to root), the write needs CAP_SYS_ADMIN in the pid namespace, so a write is tried (of the
    value read: the next pid stays what it would have been, short of a race with a fork)."""
    try:
        with open(NS_LAST_PID) as f:
            last = f.read().strip()
        with open(NS_LAST_PID, "w") as f:
            f.write(last)
        return True
    except OSError:
        return False


@pytest.mark.skipif(
    not can_set_last_pid(),
    reason=f"SKIPPED: needs a writable {NS_LAST_PID} (Linux, CAP_SYS_ADMIN)",
)
def test_a_descendant_given_a_dead_ancestors_pid_gets_a_runtime_of_its_own(echo: Echo) -> None:
    """A process id is reused once its process has been reaped, so a descendant can have the
    pid of the ancestor whose memory (its runtime, its requesters) it inherited: P makes a
    request and exits, its child C (which never made one) forks G, and G gets P's pid (as
    happens after a daemon's double fork and a prefork pool's worker recycling, once pids
    wrap). G's requests must run on a runtime of G's own: recognised by pid alone, they ran on
    P's copied runtime, which has no threads, and hung for ever, past any timeout."""
    code = """
import os, signal, sys
import xnonce
url, secret, ns_last_pid = sys.argv[1], sys.argv[2], sys.argv[3]
freed_r, freed_w = os.pipe()
out_r, out_w = os.pipe()
p = os.fork()
if p == 0:  # P
    p = os.getpid()
    api = xnonce.Requester(url, "svc", secret, timeout=5)
    assert api.make_request("GET", None, "/c/parent").code == 200
    if os.fork() == 0:  # C: never makes a request itself
        os.read(freed_r, 1)  # P has exited and been reaped: its pid is free
        for _ in range(50):
            fd = os.open(ns_last_pid, os.O_WRONLY)
            os.write(fd, str(p - 1).encode())
            os.close(fd)
            g = os.fork()
            if g == 0:  # G
                if os.getpid() != p:
                    os._exit(3)  # another process took the pid first: try again
                signal.alarm(20)  # a hang ends G (SIGALRM), not the test run
                try:
                    code = api.make_request("GET", None, "/c/reused-pid").code
                    os.write(out_w, f"answered {code}".encode())
                except BaseException as e:
                    os.write(out_w, f"failed {type(e).__name__}".encode())
                os._exit(0)
            _, status = os.waitpid(g, 0)
            if os.waitstatus_to_exitcode(status) != 3:
                os.write(out_w, f" exit {os.waitstatus_to_exitcode(status)}".encode())
                os._exit(0)
        os.write(out_w, b"pid not reused")
        os._exit(0)
    os._exit(0)
os.waitpid(p, 0)  # reaps P
os.write(freed_w, b"x")
os.close(out_w)
print(os.read(out_r, 200).decode() + os.read(out_r, 200).decode())
"""
    out = subprocess.run(
        [sys.executable, "-c", code, echo.url, SECRET, NS_LAST_PID],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert out.stdout.strip() == "answered 200 exit 0", (out.stdout, out.stderr)
    assert "/c/reused-pid" in [r.target for r in echo.seen]
