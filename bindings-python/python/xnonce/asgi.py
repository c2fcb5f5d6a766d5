"""ASGI middleware: only signed requests reach the app (FastAPI, Starlette, any ASGI app).

```python
from fastapi import FastAPI, Request
import xnonce
from xnonce.asgi import XNonceMiddleware

app = FastAPI()
verifier = xnonce.Verifier({"billing": os.environ["BILLING_SECRET"]})
app.add_middleware(XNonceMiddleware, verifier=verifier)

@app.post("/reports/create")
async def create(request: Request):
    v = request.scope["xnonce.verified"]
    return {"client": v.client, "params": dict(v.params)}
```

A refused request never reaches the app: the middleware answers with
``XNonceError.answer`` (the reference server's bytes: em-secure-api's text for v1 clients,
a problem document for v2). An accepted one reaches it with ``scope["xnonce.verified"]`` (an
``xnonce.Verified``; also ``request.state.xnonce`` in Starlette and FastAPI) and its body,
which the middleware read to verify it, handed on unchanged. WebSocket handshakes are
verified as GETs (a browser puts an ``ottoken`` in the URL); ``lifespan`` passes through. Any
other scope type is a ``ValueError`` (as the ASGI spec asks of an app that does not understand
it): a protocol the middleware cannot verify never reaches the app unverified.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from xnonce._deadline import checked_timeout, within
from xnonce._replay import checked_store, record
from xnonce._server import (
    FORM_UTF8,
    MAX_BODY,
    RECORDS_KEY,
    VerifyingMiddleware,
    absolute_authority,
    absolute_prefix,
    bytes_escaped,
    encode_path,
    exceeds,
    form_for_app,
    held,
    join_target,
    leave_record,
    misread_as_form,
    query_for_app,
    records_in,
    refused_head,
)
from xnonce._xnonce import (
    METHOD_OVERRIDE_FIELDS,
    Answer,
    Verified,
    Verifier,
    content_type_for_app,
    host_for_app,
)
from xnonce.types import AsyncReplayStore, ReplayStore

logger = logging.getLogger("xnonce")

__all__ = [
    "BODY_TIMEOUT",
    "RECORDS_KEY",
    "SCOPE_KEY",
    "STORE_TIMEOUT",
    "XNonceMiddleware",
    "request_target",
]

#: Where an accepted request's ``xnonce.Verified`` is put in the ASGI scope.
SCOPE_KEY = "xnonce.verified"

#: How long (s) a ``replay_store`` may take by default before the request is refused 503:
#: 2 s, as the reference server's Redis store.
STORE_TIMEOUT = 2.0

#: How long a request's body may take to arrive once its head has, in seconds: 30, as the
#: reference server's ``body_timeout_ms``.
BODY_TIMEOUT = 30.0

#: What reading a body gave instead of the body: too large, or the client gone.
_TOO_LARGE = object()
_GONE = object()

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_target(scope: Scope) -> str:
    """The request target as the client sent it (``/path?query``, still percent-encoded):
    ``raw_path`` when the server gives it, else ``path`` (which holds ``root_path``) encoded
    again. A raw byte outside ASCII (which Daphne and Granian pass on; uvicorn and Hypercorn
    answer 400) is written ``%XX``, as the WSGI middleware does: the byte the app decodes."""
    raw = scope.get("raw_path")
    if raw:
        path = bytes_escaped(raw.decode("latin-1"))
    else:
        path = scope.get("path", "")
        try:
            path = encode_path(path)
        except UnicodeEncodeError:
            # A lone surrogate, which UTF-8 cannot encode: handed on as it is, never encoded
            # into bytes the client did not send; the verifier refuses it (400, invalid_path).
            pass
    query = bytes_escaped(scope.get("query_string", b"").decode("latin-1"))
    # A `#` (no part of a request target, RFC 9112 §3.2) ends it, as the reference server's
    # URI parser and the WSGI middleware cut it: uvicorn's h11 server splits `/a#x?k=1` at
    # its `?` (a `raw_path` of `/a#x`), others (httptools) drop the fragment. The app gets
    # the target so cut (`_drop_fragment`).
    return join_target(path, query).partition("#")[0]


def _drop_fragment(scope: Scope) -> None:
    """Removes from ``scope`` a fragment its server left in ``raw_path`` (and ``path``), which
    then holds what followed it too (``query_string``), or in ``query_string``: the app gets
    the target that was verified (``request_target``)."""
    raw = scope.get("raw_path")
    query = bytes(scope.get("query_string", b""))
    if raw and b"#" in raw:
        cut = raw.index(b"#")
        tail = unquote(bytes(raw[cut:]).decode("latin-1"))
        path = scope.get("path", "")
        scope["raw_path"] = bytes(raw[:cut])
        scope["path"] = path[: -len(tail)] if path.endswith(tail) else path.partition("#")[0]
        scope["query_string"] = b""
    elif b"#" in query:
        scope["query_string"] = query.partition(b"#")[0]


def _origin_form(scope: Scope, absolute: bool) -> None:
    """The path verified in ``path`` and ``raw_path``, which the app (Starlette's router)
    reads: an ``absolute`` target (``http://api.test/x``), which its server left there
    (uvicorn's h11 server does), cut to its origin form (``/x``); an empty path (``PUT ?n=1``,
    or ``http://api.test?n=1``), which the verifier reads as ``/`` (PROTOCOL §11), as ``/``."""
    raw = bytes(scope.get("raw_path") or b"")
    prefix = absolute_prefix(raw.decode("latin-1")) if absolute else None
    path = scope.get("path", "")
    if prefix is not None:
        scope["raw_path"] = raw[len(prefix) :]
        decoded = unquote(prefix)
        if isinstance(path, str) and path.startswith(decoded):
            scope["path"] = path = path[len(decoded) :]
    if path == "":
        scope["path"] = "/"
        if not scope.get("raw_path"):
            scope["raw_path"] = b"/"


def _header(scope: Scope, name: bytes) -> str | None:
    """The field's value; several lines of it joined with ``", "`` (RFC 9110 §5.3), as WSGI
    servers and Node hand them over: two ``X-Nonce`` lines are then one malformed value,
    refused, never the first one alone."""
    values = [v for k, v in scope.get("headers", ()) if k.lower() == name]
    if not values:
        return None
    return ", ".join(bytes(v).decode("latin-1") for v in values)


def _content_type(scope: Scope) -> tuple[str | None, bool]:
    """The ``Content-Type`` field's value, and whether it came in more than one line. Two
    lines are refused (400, as from the reference server): which one says whether the body
    is a form differs between stacks (Starlette and FastAPI read the first, Django's ASGI
    handler joins them), and verified against another line than the app reads, a form could
    pass as an opaque body, which a v1 credential does not sign: unsigned fields."""
    values = [v for k, v in scope.get("headers", ()) if k.lower() == b"content-type"]
    if not values:
        return None, False
    return bytes(values[0]).decode("latin-1"), len(values) > 1


#: The method-override field names, as ASGI servers hand them over (lower-case bytes).
_METHOD_OVERRIDES = frozenset(field.encode() for field in METHOD_OVERRIDE_FIELDS)


def _is_method_override(name: bytes) -> bool:
    """Whether the header ``name`` is a method-override field, ``_`` read as ``-``: servers
    (uvicorn) hand on ``x_http_method_override`` as it came, and the stacks that turn ASGI
    headers into CGI keys (a2wsgi, Starlette's ``WSGIMiddleware``, Django's ASGI handler
    before it skipped such names) make ``HTTP_X_HTTP_METHOD_OVERRIDE`` of it, which Werkzeug's
    ``HTTPMethodOverrideMiddleware`` reads."""
    return name.lower().replace(b"_", b"-") in _METHOD_OVERRIDES


def _admit(
    scope: Scope,
    verified: Verified,
    content_type_as_verified: str | None,
    target: str,
    length: int | None = None,
) -> None:
    """Hands the verified request to the app: ``scope[SCOPE_KEY]`` and, for Starlette and
    FastAPI, ``request.state.xnonce``; without the method-override fields, which no signature
    covers (a method-override middleware inside would run a signed POST as a DELETE), and
    with ``content_type_as_verified`` (``content_type_for_app`` of its one ``Content-Type``
    line: two are refused before) in place of that line when it is not ``None``: a form's as
    the UTF-8 it was verified in (nothing signs the charset it named, and an app that honours
    it would decode a signed value otherwise), JSON naming a charset as UTF-8. An
    absolute-form ``target``'s authority, the host verified in place of the ``Host`` field
    (RFC 9112 §3.2.2), replaces that field, which the app (Starlette's ``request.url``,
    ``Host`` routes) would read.
    ``length``: the length of a form body rewritten for the app (``form_for_app``), its
    ``Content-Length``. A raw ``;`` in the query string reaches the app as ``%3B``
    (``query_for_app``)."""
    _drop_fragment(scope)
    headers = scope.get("headers", ())
    authority = absolute_authority(target)
    _origin_form(scope, authority is not None)
    # The host verified: an absolute-form target's authority, else the Host field; for v2, in
    # the canonical form its signature covers (PROTOCOL §6.2), so that spellings the signature
    # treats as one (`API.test:443`, `h:8080:443`) reach the app as that one host.
    sent_host = _header(scope, b"host")
    host = authority if authority is not None else sent_host
    if host is not None and verified.scheme == "v2":
        host = host_for_app(host) or host
    new_host = host if host is not None and host != sent_host else None
    if (
        content_type_as_verified is not None
        or new_host is not None
        or any(_is_method_override(k) for k, _ in headers)
    ):
        replaced = {
            b"content-type": content_type_as_verified,
            b"content-length": None if length is None else str(length),
        }
        kept = [
            (k, new.encode() if (new := replaced.get(k.lower())) is not None else v)
            for k, v in headers
            if not _is_method_override(k)
            if new_host is None or k.lower() != b"host"
        ]
        if new_host is not None:
            kept.append((b"host", new_host.encode("latin-1")))
        scope["headers"] = kept
    query = query_for_app(bytes(scope.get("query_string", b"")).decode("latin-1"))
    if query is not None:
        # The query's fields as verified, whatever the app's parser makes of a raw `;` or of
        # a raw byte outside ASCII.
        scope["query_string"] = query.encode("latin-1")
    scope[SCOPE_KEY] = verified
    scope.setdefault("state", {})["xnonce"] = verified


async def _send(
    send: Send, refusal: Answer, kind: str = "http.response", *, close: bool = False
) -> None:
    """Sends ``refusal`` as an HTTP answer (``kind``: ``websocket.http.response`` for the
    refusal of a WebSocket handshake); ``close``: with ``Connection: close``, for an answer
    sent before the body was read in full (HTTP/1: the server then closes the connection
    instead of waiting for the rest of that body; HTTP/2 has no such field)."""
    body = refusal.body_bytes
    headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in refusal.headers]
    # A WebSocket handshake's refusal is framed by the server, which sets the length itself
    # (uvicorn 0.39, the last for Python 3.9, adds its own: two lines, which clients reject).
    if kind == "http.response":
        headers.append((b"content-length", str(len(body)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": f"{kind}.start", "status": refusal.status, "headers": headers})
    await send({"type": f"{kind}.body", "body": body})


class XNonceMiddleware(VerifyingMiddleware[ASGIApp]):
    """Verifies every HTTP request with ``verifier`` before ``app`` sees it.

    ``once=True`` (the default) uses ``Verifier.verify_once``: a second copy of a request is
    refused (409). ``max_body`` bounds the body read for verification (default 1 MiB, as
    the reference server); a larger one is refused with 413 (by its ``Content-Length``
    before it is read, else as soon as it grows past the limit). ``body_timeout`` bounds how
    long the body may take to arrive (default 30 s, as the reference server): past it the
    request is refused 408 (``invalid_body``), as ASGI servers such as uvicorn set no such
    bound of their own.

    ``replay_store`` records accepted requests where every process of the API sees them
    (``xnonce.redis.AsyncRedisReplayStore``), instead of the verifier's memory: the
    middleware verifies, then awaits the store's ``insert_if_absent`` (a synchronous one,
    such as ``RedisReplayStore``, runs in a worker thread). A copy is refused 409; a store
    that fails, or has not answered within ``store_timeout`` seconds, 503
    (``store_unavailable``), the error logged on the ``xnonce`` logger (one line).

    Behind another xnonce middleware (an app's, around a mounted sub-app's), a request that
    one recorded in this very store (``scope[RECORDS_KEY]``) for at least as long as this one
    would is verified again, not recorded.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        once: bool = True,
        max_body: int = MAX_BODY,
        replay_store: AsyncReplayStore | ReplayStore | None = None,
        store_timeout: float = STORE_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        super().__init__(app, verifier, once=once, max_body=max_body)
        if replay_store is not None:
            replay_store = checked_store(replay_store)
            if not once:
                raise ValueError("replay_store records accepted requests: it needs once=True")
        self.replay_store = replay_store
        # The fence told to `replay_store` (`widen_fence`), followed after each `reconfigure`
        # of the verifier that widens its windows: see `_verify`.
        self._fence_ms = 0
        if replay_store is not None:
            self._widen_fence(replay_store)
        self.store_timeout = checked_timeout(store_timeout, "store_timeout")
        self.body_timeout = checked_timeout(body_timeout, "body_timeout")

    async def _verify(
        self,
        scope: Scope,
        method: str,
        target: str,
        host: str | None,
        x_nonce: str | None,
        content_type: str | None,
        body: bytes,
    ) -> Verified | Answer:
        """The verified request, or the answer to its refusal: ``check``, then, with a
        ``replay_store``, the store's record of it, left on ``scope``; unless an earlier
        middleware on this request recorded it in this very store for at least as long
        (``records_in``, ``held``)."""
        store = self.replay_store
        if store is None:
            return self.check(scope, method, target, host, x_nonce, content_type, body)
        outcome = self.check(scope, method, target, host, x_nonce, content_type, body, once=False)
        if isinstance(outcome, Answer) or held(records_in(scope, store), outcome):
            return outcome
        try:
            self._widen_fence(store)
        except Exception as e:
            logger.error(
                "replay store's widen_fence failed (%s: %s); the request was refused 503",
                type(e).__name__,
                e,
            )
            recorded: bool | None = None
        else:
            recorded = await record(store, outcome, self.store_timeout)
        refusal = Answer.replay_store(recorded, target=target, x_nonce=x_nonce)
        if refusal is not None:
            return refusal
        leave_record(scope, store, outcome)
        return outcome

    def _widen_fence(self, store: AsyncReplayStore | ReplayStore) -> None:
        """Raises the fence of ``store`` (its ``widen_fence``, if it has one, as
        ``xnonce.redis``'s stores) to the verifier's ``fence_after_loss_ms`` when that grew:
        at construction, and after a ``reconfigure`` that widened a window, before the first
        request recorded under it."""
        fence = self.verifier.fence_after_loss_ms
        if fence <= self._fence_ms:
            return
        widen = getattr(store, "widen_fence", None)
        if callable(widen):
            widen(fence)
        self._fence_ms = fence

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "websocket":
            await self._websocket(scope, receive, send)
            return
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        if kind != "http":
            raise ValueError(
                f"unknown ASGI scope type {kind!r}: xnonce verifies http and websocket"
                " requests and passes lifespan through; nothing else reaches the app"
            )
        target = request_target(scope)
        x_nonce = _header(scope, b"x-nonce")
        host = _header(scope, b"host")
        refused = refused_head(scope.get("method", "GET"), target, host, x_nonce)
        if refused is not None:
            await _send(send, refused)
            return
        content_type, repeated = _content_type(scope)
        if repeated:
            await _send(send, Answer.repeated_content_type(target=target, x_nonce=x_nonce))
            return
        too_large = Answer.body_too_large(self.max_body, target=target, x_nonce=x_nonce)
        # A refusal before the body is read in full closes an HTTP/1 connection, as the
        # reference server does: else the server waits for the rest of that body.
        http1 = scope.get("http_version", "1.1") in ("1.0", "1.1")
        # A declared length over the limit is refused before the body is read (repeated
        # lines, "5, 5", are left to the count below). One that is not a decimal number
        # (RFC 9110 §8.6: 1*DIGIT; not int()'s syntax, which takes signs, "_" and non-ASCII
        # digits such as "²") is malformed framing: 400, as from the WSGI middleware and the
        # reference server (servers that check the framing never pass one on).
        length = _header(scope, b"content-length")
        if length is not None:
            declared = [part.strip() for part in length.split(",")]
            if not all(part.isascii() and part.isdigit() for part in declared):
                await _send(send, Answer.body_unreadable(target=target, x_nonce=x_nonce))
                return
            if len(declared) == 1 and exceeds(declared[0], self.max_body):
                await _send(send, too_large, close=http1)
                return
        # An unknown route (404) or param rules the query fails (422), for a body that is not
        # a form: answered from the head, as the reference server does, before the body is
        # read (a large or slow chunked body no more changes that answer); the connection
        # closed when a body may follow, unread.
        method = scope.get("method", "GET")
        routed = self.verifier.route_refusal(
            method, target, x_nonce=x_nonce, content_type=content_type
        )
        if routed is not None:
            declares_body = length is not None and length.strip("0 ") != ""
            pending = declares_body or _header(scope, b"transfer-encoding") is not None
            await _send(send, routed, close=http1 and pending)
            return
        if misread_as_form(content_type):
            # No form for the verifier (a body verified as opaque bytes), a form for
            # Starlette's reader (`str.strip` takes U+00A0 for whitespace): fields no param
            # signs.
            await _send(send, Answer.misread_content_type(target=target, x_nonce=x_nonce))
            return
        try:
            read = await within(lambda: self._read_body(receive), self.body_timeout)
        except TimeoutError:
            await _send(send, Answer.body_timeout(target=target, x_nonce=x_nonce), close=http1)
            return
        if read is _TOO_LARGE:
            await _send(send, too_large, close=http1)
            return
        if not isinstance(read, bytes):
            return  # _GONE: the client is gone, nothing to answer
        body = read
        outcome = await self._verify(
            scope,
            scope.get("method", "GET"),
            target,
            host,
            x_nonce,
            content_type,
            body,
        )
        if isinstance(outcome, Answer):
            await _send(send, outcome)
            return
        new_length = None
        as_verified = content_type_for_app(content_type)
        if as_verified == FORM_UTF8:
            # A form's fields as verified, whatever the app's parser makes of a raw `;` or
            # of a raw byte outside ASCII.
            for_app = form_for_app(body)
            if len(for_app) != len(body):
                body, new_length = for_app, len(for_app)
        # The method as verified (signed upper-cased, PROTOCOL §3.3): Starlette reads
        # `scope["method"]` as it came, so a `post` would match no POST route.
        scope["method"] = scope.get("method", "GET").upper()
        _admit(scope, outcome, as_verified, target, new_length)
        replayed = False

        async def replay_body() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay_body, send)

    async def _read_body(self, receive: Receive) -> bytes | object:
        """The request's body, ``_TOO_LARGE`` once it grows past ``max_body``, or ``_GONE``
        when the client went away.

        Copied into one buffer as they arrive, not kept as a list of `bytes`: a server may
        hand each chunk of a chunked body on as one message (Hypercorn does), and a 1-byte
        `bytes` object costs about 40 bytes, so 1 MiB of 1-byte chunks held some 50 MiB per
        request before anything about it was checked. A body of one message is kept as is."""
        size = 0
        first = b""
        joined: bytearray | None = None
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _GONE
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return _TOO_LARGE
            if joined is not None:
                joined += chunk
            elif not first:
                first = chunk
            elif chunk:
                joined = bytearray(first)
                joined += chunk
                first = b""
            if not message.get("more_body", False):
                return first if joined is None else bytes(joined)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake is a GET without a body: verified like one (a browser, which
        cannot set ``X-Nonce`` on it, puts an ``ottoken`` in the URL). Refused, it never
        reaches the app: the refusal's HTTP answer when the server supports the
        ``websocket.http.response`` extension, else a close before accepting, which the
        server answers 403."""
        target = request_target(scope)
        x_nonce = _header(scope, b"x-nonce")
        host = _header(scope, b"host")
        refused = refused_head("GET", target, host, x_nonce)
        if refused is None:
            outcome = await self._verify(scope, "GET", target, host, x_nonce, None, b"")
        else:
            outcome = refused
        if isinstance(outcome, Answer):
            await receive()  # websocket.connect: the handshake, answered now
            if "websocket.http.response" in (scope.get("extensions") or {}):
                await _send(send, outcome, "websocket.http.response")
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        _admit(scope, outcome, content_type_for_app(_content_type(scope)[0]), target)
        await self.app(scope, receive, send)
