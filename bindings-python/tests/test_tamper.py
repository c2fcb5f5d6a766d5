"""A bounded "tamper" fuzz of the WSGI and ASGI middlewares over real loopback HTTP, after
``server-ref/tests/gateway_tamper.rs``: requests signed as a client signs them (v1 and v2;
``GET``/``DELETE`` with a query, ``POST``/``PUT``/``PATCH`` with a form, v2 ``POST``/``PUT``
with a JSON body; the credential in ``X-Nonce`` or an ``ottoken`` param, as a link carries
it), their raw bytes mutated (request line, escapes, params, header fields, framing, body),
sent on a socket to Werkzeug's server (``xnonce.wsgi``) or uvicorn (``xnonce.asgi``) in front
of an app that records what its framework reads. The property:

* a request the app runs for is the request that was signed, as each framework reads it:
  method, path as decoded, the multiset of decoded params (query, and a form where that
  framework reads one), v2's body bytes and host (the limits each scheme documents are
  written out in ``check``);
* every other request is answered ``4xx`` (or the connection closed, for bytes that are no
  HTTP request), and the app never runs; never a ``5xx``, an error logged, or a hang.

WSGI readings: Werkzeug's (Flask's) ``Request``: ``.method``, ``.path``, ``.args``, ``.form``
(read on any method) and ``.get_data()``; and Django's: the method upper-cased, ``PATH_INFO``,
``parse_qsl(QUERY_STRING)``, a form on ``POST`` only. ASGI reading: Starlette's, written out
(it is no dependency): ``scope["path"]``, ``parse_qsl`` of the query string and, on ``POST``,
``PUT`` and ``PATCH``, of a form body, both read as latin-1.

Deterministic: the seed is printed; ``XNONCE_TAMPER_SEED=<n>`` reruns one,
``XNONCE_TAMPER_CASES=<n>`` changes how many cases run per server (default ``CASES``), and
``XNONCE_TAMPER_VERBOSE=1`` prints every case.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote_to_bytes

import pytest
import xnonce
from serving import uvicorn_serving
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request as WerkzeugRequest
from xnonce._xnonce import METHOD_OVERRIDE_FIELDS
from xnonce.asgi import XNonceMiddleware as AsgiMiddleware
from xnonce.wsgi import XNonceMiddleware as WsgiMiddleware

#: Cases per server kind (about a tenth of them unmutated).
CASES = 1000
#: The seed when ``XNONCE_TAMPER_SEED`` is not set.
DEFAULT_SEED = 0x7A3B_E1D0_5EED_2024
#: Cases run this many at a time, each lane signing as a client of its own (``lane<i>``), by
#: which the app's records are told apart.
LANES = 8
#: How long the first answer may take before the client ends its side of the connection (the
#: request, as mutated, may announce more body than it sends), in seconds.
QUIET = 0.4
#: How long the server may take to close the connection once the client has ended its side.
HANG = 8.0

FORM = "application/x-www-form-urlencoded"
MASK = (1 << 64) - 1


class Rng:
    """xorshift64*: small, seeded, the same sequence as the gateway test's."""

    def __init__(self, state: int) -> None:
        self.state = state & MASK

    def next(self) -> int:
        x = self.state
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        self.state = x
        return (x * 0x2545_F491_4F6C_DD1D) & MASK

    def below(self, n: int) -> int:
        return self.next() % max(n, 1)

    def chance(self, percent: int) -> bool:
        return self.next() % 100 < percent

    def pick(self, items: list[Any] | tuple[Any, ...]) -> Any:
        return items[self.below(len(items))]


def case_rng(seed: int, n: int) -> Rng:
    """The generator of case ``n``: the same case, whatever ran before it (splitmix64 of the
    pair, never 0, xorshift's fixed point)."""
    z = (seed ^ (n * 0x9E37_79B9_7F4A_7C15)) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & MASK
    return Rng((z ^ (z >> 31)) | 1)


# ---- what the app sees ----


@dataclass
class Reading:
    """One framework's reading of a request."""

    framework: str
    method: str
    #: The path as the framework decodes it.
    path: str
    query: list[tuple[str, str]]
    #: The fields of a url-encoded form, ``None`` when the framework reads none here.
    form: list[tuple[str, str]] | None
    #: Fields the framework reads from a body of another type (Werkzeug: multipart).
    other_fields: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Seen:
    """What the app behind the middleware saw of one request."""

    client: str
    readings: list[Reading]
    #: Every ``Host`` value the app can read.
    hosts: list[str]
    #: Every ``Content-Type`` value.
    content_types: list[str]
    #: The method as the verifier reads it (upper-cased), for the form rule.
    method: str
    #: The method as a bare app reads it: ``REQUEST_METHOD`` (WebOb's ``request.method``) or
    #: ``scope["method"]`` (Starlette's ``request.method``), neither upper-cased.
    raw_method: str
    body: bytes
    #: The path the server got, still encoded (for v1's boundary, PROTOCOL §14.2).
    raw_path: str
    #: Method-override fields that reached the app.
    overrides: list[str]


class Records:
    """What reached the app, by the verified client: each lane signs as a client of its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_client: dict[str, list[Seen]] = {}

    def add(self, seen: Seen) -> None:
        with self.lock:
            self.by_client.setdefault(seen.client, []).append(seen)

    def take(self, client: str) -> list[Seen]:
        with self.lock:
            return self.by_client.pop(client, [])


def form_media_type(content_type: str) -> bool:
    """Whether a framework reads ``content_type`` as a url-encoded form: Django's
    ``parse_header_parameters`` and python-multipart's (Starlette's) ``parse_options_header``
    cut it at ``;`` and ``str.strip`` it (any Unicode whitespace: U+00A0 too)."""
    return content_type.split(";")[0].strip().lower() == FORM


def core_reads_form(content_type: str, method: str, body: bytes) -> bool:
    """Whether the verifier counted the body's fields as params: a form type by PROTOCOL §6.5
    (only SP and HTAB trimmed), not empty, on ``POST``, ``PUT`` or ``PATCH`` (§11.1 step 1)."""
    media = content_type.split(";")[0].strip(" \t").lower()
    return media == FORM and method.upper() in ("POST", "PUT", "PATCH") and body != b""


def latin1_or_utf8(body: bytes) -> str:
    """A body as Django's ``QueryDict`` reads it: UTF-8 (the charset the middleware names),
    latin-1 when it is not UTF-8."""
    try:
        return body.decode()
    except UnicodeDecodeError:
        return body.decode("latin-1")


_OVERRIDE_KEYS = {"HTTP_" + f.upper().replace("-", "_") for f in METHOD_OVERRIDE_FIELDS}
_OVERRIDE_NAMES = {f.encode() for f in METHOD_OVERRIDE_FIELDS}


def recording_wsgi(records: Records) -> Callable[..., Iterable[bytes]]:
    """A WSGI app that records what Werkzeug and Django read of each request it runs for."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        verified: xnonce.Verified = environ["xnonce.verified"]
        body = environ["wsgi.input"].read()

        def fresh() -> dict[str, Any]:
            env = dict(environ)
            env["wsgi.input"] = io.BytesIO(body)
            return env

        flask = WerkzeugRequest(fresh())
        fields = list(flask.form.items(multi=True))
        urlencoded = flask.mimetype == FORM
        werkzeug = Reading(
            "werkzeug",
            flask.method,
            flask.path,
            list(flask.args.items(multi=True)),
            fields if urlencoded else None,
            [] if urlencoded else fields,
        )
        data = WerkzeugRequest(fresh()).get_data()
        method = str(environ["REQUEST_METHOD"]).upper()
        content_type = str(environ.get("CONTENT_TYPE", ""))
        django_form = None
        if method == "POST" and form_media_type(content_type):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            django_form = parse_qsl(latin1_or_utf8(body[:length]), keep_blank_values=True)
        django = Reading(
            "django",
            method,
            # An empty PATH_INFO is "/" to Django.
            str(environ["PATH_INFO"] or "/").encode("latin-1").decode("utf-8", "replace"),
            parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True),
            django_form,
        )
        raw = str(environ.get("RAW_URI") or "").partition("?")[0]
        records.add(
            Seen(
                verified.client,
                [werkzeug, django],
                [flask.host, *([environ["HTTP_HOST"]] if "HTTP_HOST" in environ else [])],
                [content_type] if content_type else [],
                method,
                str(environ["REQUEST_METHOD"]),
                data,
                raw,
                sorted(k for k in environ if k in _OVERRIDE_KEYS),
            )
        )
        start_response("200 OK", [("x-echo", "1"), ("Content-Length", "4")])
        return [b"echo"]

    return app


def recording_asgi(records: Records) -> Callable[..., Any]:
    """An ASGI app that records what Starlette reads of each request it runs for."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        verified: xnonce.Verified = scope["xnonce.verified"]
        body = b""
        if scope["type"] == "http":
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))

        def values(name: bytes) -> list[str]:
            return [bytes(v).decode("latin-1") for k, v in headers if k.lower() == name]

        content_types = values(b"content-type")
        method = str(scope.get("method", "GET")) if scope["type"] == "http" else "GET"
        form = None
        if method in ("POST", "PUT", "PATCH") and form_media_type(
            content_types[0] if content_types else ""
        ):
            form = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        starlette = Reading(
            "starlette",
            method,
            str(scope["path"]),
            parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"), True),
            form,
        )
        records.add(
            Seen(
                verified.client,
                [starlette],
                values(b"host"),
                content_types,
                method.upper(),
                method,
                body,
                bytes(scope.get("raw_path") or b"").decode("latin-1"),
                sorted(k.decode("latin-1") for k, _ in headers if k.lower() in _OVERRIDE_NAMES),
            )
        )
        if scope["type"] != "http":  # a WebSocket handshake: refused by the app itself
            await send({"type": "websocket.close", "code": 1000})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"x-echo", b"1"), (b"content-length", b"4")],
            }
        )
        await send({"type": "http.response.body", "body": b"echo"})

    return app


# ---- signed requests ----


@dataclass
class Intent:
    """The meaning of one signed request: what the app must see if it runs."""

    scheme: str
    method: str
    #: As signed, and sent.
    path: str
    #: Every signed param in the order sent: the query's, then the form's.
    params: list[tuple[str, str]]
    #: How many of ``params`` travel in the query.
    in_query: int
    form: bool
    #: A v2 JSON body (signed by its digest).
    body: bytes | None
    host: str
    client: str
    #: The credential travels as the query's last param, ``ottoken``, instead of ``X-Nonce``.
    ottoken: str | None = None
    #: How it was signed: ``sign``, ``sign_request`` or ``link``.
    signer: str = ""


@dataclass
class Wire:
    """A request as bytes, in parts the mutations work on."""

    method: bytes
    target: bytes
    version: bytes
    #: Whole field lines without their CRLF.
    headers: list[bytes]
    body: bytes
    #: Bytes that replace the whole request (a mutation of the serialised bytes).
    raw: bytes | None = None

    def serialised(self) -> bytes:
        if self.raw is not None:
            return self.raw
        head = b" ".join([self.method, self.target, self.version]) + b"\r\n"
        return head + b"".join(h + b"\r\n" for h in self.headers) + b"\r\n" + self.body

    def header_index(self, name: str) -> int | None:
        prefix = name.lower().encode() + b":"
        for i, line in enumerate(self.headers):
            if line[: len(prefix)].lower() == prefix:
                return i
        return None

    def set_header(self, name: str, value: bytes) -> None:
        line = name.encode() + b": " + value
        i = self.header_index(name)
        if i is None:
            self.headers.append(line)
        else:
            self.headers[i] = line

    def remove_header(self, name: str) -> None:
        while (i := self.header_index(name)) is not None:
            del self.headers[i]

    def fix_length(self) -> None:
        """Rewrites ``Content-Length`` (if there is one) to the body's length."""
        if self.header_index("content-length") is not None:
            self.set_header("Content-Length", str(len(self.body)).encode())


#: v1 keys: unreserved only, as v1 signs (PROTOCOL §3.6).
V1_KEYS = ["a", "b", "to", "x_y", "q.r", "~k", "Amount", "a-b"]
#: v2 keys may be any text.
V2_KEYS = ["a", "b", "to", "x_y", "a[b]", "\u00e9", "k y", "a+b", "t%", "q=r", "s;t"]
VALUE_CHARS = [
    *"abz09 +&=%;\u00e9~/?#][.-_*'\"<",
    "\u263a",
    "%41",
    "\t",
]
SEGMENTS = [
    "orders",
    "list",
    "a%20b",
    "r%C3%A9sum%C3%A9",
    "a+b",
    "x~y",
    "a%2Fb",
    "item.json",
    "v1",
    "%7Euser",
    "a-b_c",
    "A%3aB",
    "a=b",
    "",
]


def value(rng: Rng) -> str:
    return "".join(rng.pick(VALUE_CHARS) for _ in range(rng.below(7)))


def make_intent(rng: Rng, n: int, host: str, client: str) -> Intent:
    """A request to sign: scheme, shape, path, params (no key twice in v1)."""
    scheme = "v1" if rng.chance(50) else "v2"
    # 0: GET or DELETE with a query; 1: POST, PUT or PATCH with a form (and maybe a query);
    # 2: v2 POST or PUT with JSON (and maybe a query).
    shape = rng.below(2 if scheme == "v1" else 3)
    if shape == 0:
        method = rng.pick(["GET", "GET", "GET", "DELETE"])
    else:
        method = rng.pick(["POST", "POST", "PUT", "PATCH"] if shape == 1 else ["POST", "PUT"])
    path = "".join("/" + rng.pick(SEGMENTS) for _ in range(1 + rng.below(3)))
    if path.startswith("//"):  # Werkzeug's server reads `//x/y` as the path `/x/y`
        path = "/orders" + path
    keys = V1_KEYS if scheme == "v1" else V2_KEYS
    params: list[tuple[str, str]] = []
    for _ in range(rng.below(4)):
        key = rng.pick(keys)
        if scheme == "v1" and any(k == key for k, _ in params):
            continue
        params.append((key, value(rng)))
    # A param of its own per case: no two v1 requests share a token (their replay key).
    params.insert(rng.below(len(params) + 1), ("n", str(n)))
    if scheme == "v2" and rng.chance(15):
        # A repeated key (v2 keeps every pair).
        params.append((params[rng.below(len(params))][0], value(rng)))
    form = shape == 1
    in_query = rng.below(len(params) + 1) if form else len(params)
    body = None
    if shape == 2:
        item = value(rng).replace('"', "").replace("\\", "")
        body = f'{{"item":"{item}","n":{n}}}'.encode()
    return Intent(scheme, method, path, params, in_query, form, body, host, client)


def cgi_escape(text: str) -> str:
    """Ruby's ``CGI.escape`` (PROTOCOL §4.1): unreserved kept, space as ``+``."""
    return quote_plus(text, safe="")


def encode_pair(scheme: str, pair: tuple[str, str]) -> str:
    """A param as the client writes it: v1 CGI-escaped (keys are unreserved), v2 RFC 3986."""
    k, v = pair
    if scheme == "v1":
        return f"{k}={cgi_escape(v)}"
    return f"{quote(k, safe='')}={quote(v, safe='')}"


def signed_wire(intent: Intent, secret: str, rng: Rng) -> Wire:
    """Signs ``intent`` as a client does and writes it as the client sends it: through
    ``xnonce.sign`` (the params), ``xnonce.sign_request`` (the target and body as they go
    out) or, for a ``GET``-style request with an ``ottoken``, ``xnonce.link``."""
    query = [encode_pair(intent.scheme, p) for p in intent.params[: intent.in_query]]
    form = "&".join(encode_pair(intent.scheme, p) for p in intent.params[intent.in_query :])
    body = intent.body if intent.body is not None else form.encode() if intent.form else b""
    content_type = "application/json" if intent.body is not None else FORM if intent.form else None
    target = intent.path + ("?" + "&".join(query) if query else "")
    host = intent.host if intent.scheme == "v2" else None
    via_ottoken = rng.chance(25)
    if via_ottoken and not intent.form and intent.body is None and rng.chance(60):
        intent.signer = "link"
        url = xnonce.link(
            intent.scheme,
            intent.method,
            intent.path,
            intent.params,
            intent.client,
            secret,
            f"http://{intent.host}",
        )
        target = url[len(f"http://{intent.host}") :]
        intent.path = target.partition("?")[0]
        intent.ottoken = unquote_to_bytes(target.rpartition("ottoken=")[2]).decode()
    else:
        if rng.chance(50):
            intent.signer = "sign_request"
            header = xnonce.sign_request(
                intent.scheme,
                intent.method,
                intent.host,
                target,
                intent.client,
                secret,
                content_type=content_type,
                body=body if intent.scheme == "v2" or intent.form else None,
            )
        else:
            intent.signer = "sign"
            header = xnonce.sign(
                intent.scheme,
                intent.method,
                intent.path,
                intent.params,
                intent.client,
                secret,
                host=host,
                body=intent.body,
            )
        if via_ottoken:
            intent.ottoken = xnonce.ottoken_encode(header)
            token = xnonce.ottoken_query_value(intent.ottoken)
            target += ("&" if query else "?") + f"ottoken={token}"
    headers = [f"Host: {intent.host}".encode()]
    if intent.ottoken is None:
        headers.append(f"X-Nonce: {header}".encode())
    if content_type is not None:
        headers.append(f"Content-Type: {content_type}".encode())
    if body or intent.method != "GET":
        headers.append(f"Content-Length: {len(body)}".encode())
    return Wire(intent.method.encode(), target.encode(), b"HTTP/1.1", headers, body)


# ---- mutations ----

#: Single bytes worth inserting.
BYTES = list(b';#?%+&=/.\\\t \x00Aa0~[]\x80\xff\xc3\r\n:,"')
#: Tokens worth inserting into a target or a form.
TOKENS = [
    ";",
    "#",
    "?",
    "%00",
    "+",
    "%20",
    "..",
    "//",
    "/./",
    "/../",
    "%2e",
    "%2E%2E",
    "%2F",
    "%2f",
    "%5C",
    "\\",
    "&",
    "&&",
    "=",
    "%",
    "%2",
    "%zz",
    "\t",
    "%3B",
    "%26",
    "%3D",
    "]=",
    "%C3%A9",
    "\u00e9",
    "%FF",
    "ottoken=x",
    "a=1",
    "n=0",
    "%2B",
    "%0A",
    "%0D%0A",
    "/.",
    "%2e%2e/",
    ";a=b",
    "?&",
    "%7E",
    "*",
]


def insert_bytes(rng: Rng, buf: bytes, what: bytes) -> bytes:
    i = rng.below(len(buf) + 1)
    return buf[:i] + what + buf[i:]


def byte_edit(rng: Rng, buf: bytes) -> tuple[bytes, str]:
    """Insert, delete or replace one byte."""
    b = bytes([rng.pick(BYTES)])
    how = rng.below(3)
    if how == 0:
        i = rng.below(len(buf) + 1)
        return buf[:i] + b + buf[i:], f"insert {b!r} at {i}"
    if how == 1 and buf:
        i = rng.below(len(buf))
        return buf[:i] + buf[i + 1 :], f"delete {buf[i : i + 1]!r} at {i}"
    if buf:
        i = rng.below(len(buf))
        return buf[:i] + b + buf[i + 1 :], f"replace at {i} with {b!r}"
    return buf + b, f"append {b!r}"


def _is_hex(b: int) -> bool:
    return chr(b) in "0123456789abcdefABCDEF"


def escape_edit(rng: Rng, buf: bytes) -> tuple[bytes, str]:
    """Percent-encodes one byte (upper- or lower-case hex), decodes one escape, or flips the
    case of one escape; ``+`` ↔ ``%20``, ``%2B`` ↔ ``+``."""
    escapes = [
        i
        for i in range(len(buf) - 2)
        if buf[i] == ord("%") and _is_hex(buf[i + 1]) and _is_hex(buf[i + 2])
    ]
    how = rng.below(5)
    if how == 0 and escapes:
        i = rng.pick(escapes)
        return buf[:i] + bytes([int(buf[i + 1 : i + 3], 16)]) + buf[i + 3 :], f"decode at {i}"
    if how == 1 and escapes:
        i = rng.pick(escapes)
        return buf[: i + 1] + buf[i + 1 : i + 3].swapcase() + buf[i + 3 :], f"flip case at {i}"
    if how == 2:
        plus = [i for i in range(len(buf)) if buf[i] == ord("+")]
        spaces = [i for i in range(len(buf)) if buf[i : i + 3] in (b"%20", b"%2B")]
        if plus and rng.chance(50):
            i = rng.pick(plus)
            to = b"%20" if rng.chance(50) else b"%2B"
            return buf[:i] + to + buf[i + 1 :], f"+ at {i} to {to!r}"
        if spaces:
            i = rng.pick(spaces)
            return buf[:i] + b"+" + buf[i + 3 :], f"escape at {i} to +"
        return buf, "no + or %20"
    if buf:
        i = rng.below(len(buf))
        esc = (b"%%%02X" if rng.chance(50) else b"%%%02x") % buf[i]
        return buf[:i] + esc + buf[i + 1 :], f"encode byte at {i} as {esc!r}"
    return buf, "nothing to escape"


def pair_edit(rng: Rng, buf: bytes) -> tuple[bytes, str]:
    """Duplicates, swaps or reverses ``&``-separated pairs."""
    pairs = buf.split(b"&")
    how = rng.below(3)
    if how == 0:
        pairs.insert(rng.below(len(pairs) + 1), pairs[rng.below(len(pairs))])
        what = "duplicate a pair"
    elif how == 1 and len(pairs) > 1:
        i, j = rng.below(len(pairs)), rng.below(len(pairs))
        pairs[i], pairs[j] = pairs[j], pairs[i]
        what = "swap two pairs"
    else:
        pairs.reverse()
        what = "reverse the pairs"
    return b"&".join(pairs), what


def mutate(rng: Rng, w: Wire, intent: Intent) -> str:
    """One mutation of ``w`` (for ``intent``); a description of what it did."""
    host = intent.host
    q = w.target.find(b"?")
    path_end, query_at = (len(w.target), None) if q < 0 else (q, q + 1)
    what: str
    kind = rng.below(35)
    if kind <= 2:
        w.target, what = byte_edit(rng, w.target)
        return f"target: {what}"
    if kind <= 5:
        t = rng.pick(TOKENS).encode()
        w.target = insert_bytes(rng, w.target, t)
        return f"target: insert {t!r}"
    if kind <= 7:
        w.target, what = escape_edit(rng, w.target)
        return f"target: {what}"
    if kind == 8:
        if query_at is None:
            w.target += b"?"
            return "target: append ?"
        query, what = pair_edit(rng, w.target[query_at:])
        w.target = w.target[:query_at] + query
        return f"query: {what}"
    if kind == 9:
        edit = byte_edit if rng.chance(50) else escape_edit
        path, what = edit(rng, w.target[:path_end])
        w.target = path + w.target[path_end:]
        return f"path: {what}"
    if kind == 10:
        authority = rng.pick(
            [host, host.upper(), f"{host}:80", "evil.test", f"u@{host}", host + "."]
        )
        absolute = rng.pick(["http://", "HTTP://", "https://", "http:/"]) + authority
        w.target = absolute.encode() + w.target
        return f"absolute form {absolute}"
    if kind == 11:
        # A param between the query and a form body.
        query = w.target[query_at:] if query_at is not None else b""
        if query and rng.chance(50):
            pairs = query.split(b"&")
            moved = pairs.pop(rng.below(len(pairs)))
            rest = b"&".join(pairs)
            w.target = w.target[:path_end] + (b"?" + rest if rest else b"")
            w.body = (w.body + b"&" if w.body else b"") + moved
            if w.header_index("content-type") is None:
                w.set_header("Content-Type", FORM.encode())
            w.set_header("Content-Length", str(len(w.body)).encode())
            return "move a query pair to the body"
        if w.body:
            pairs = w.body.split(b"&")
            moved = pairs.pop(rng.below(len(pairs)))
            w.body = b"&".join(pairs)
            w.target += (b"&" if query_at is not None else b"?") + moved
            w.fix_length()
            return "move a body pair to the query"
        w.target += b"&"
        return "target: append &"
    if kind == 12:
        v = rng.pick(
            [
                host,
                "evil.test",
                host.upper(),
                f"{host}:80",
                f"{host}:443",
                f" {host}\t",
                host + ".",
                "",
            ]
        )
        w.headers.insert(rng.below(len(w.headers) + 1), f"Host: {v}".encode())
        return f"another Host: {v!r}"
    if kind == 13:
        if rng.chance(15):
            w.remove_header("host")
            return "no Host"
        v = rng.pick(
            [
                "evil.test",
                host.upper(),
                f"{host}:80",
                f"{host}:443",
                f"{host}:8080",
                host + ".",
                host + "\t",
            ]
        )
        w.set_header("Host", v.encode())
        return f"Host: {v!r}"
    if kind == 14:
        n = len(w.body)
        v = rng.pick(
            [
                str(n),
                str(n + 1),
                str(max(n - 1, 0)),
                f"+{n}",
                f"0{n}",
                f"{n}, {n}",
                f"{n},{n + 1}",
                "0",
                f" {n} ",
                f"{n}\t",
                "-1",
                "18446744073709551616",
            ]
        )
        if rng.chance(50):
            w.headers.insert(rng.below(len(w.headers) + 1), f"Content-Length: {v}".encode())
            return f"another Content-Length: {v!r}"
        w.set_header("Content-Length", v.encode())
        return f"Content-Length: {v!r}"
    if kind == 15:
        w.remove_header("content-length")
        return "no Content-Length"
    if kind <= 17:
        return chunked(rng, w)
    if kind == 18:
        # obs-fold: a field's value continued on the next line.
        i = rng.below(len(w.headers))
        line = w.headers[i]
        c = line.find(b":")
        cut = len(line) if c < 0 else c + 1 + rng.below(len(line) - c)
        w.headers[i] = line[:cut] + b"\r\n " + line[cut:]
        return f"obs-fold line {i} at {cut}"
    if kind == 19:
        i = rng.below(len(w.headers))
        line = w.headers[i]
        c = line.find(b":")
        how = rng.below(4)
        if how == 0 and c >= 0:
            w.headers[i] = line[:c] + b" " + line[c:]
            return f"header {i}: space before ':'"
        if how == 1 and c >= 0:
            w.headers[i] = line[: c + 1] + b"\t" + line[c + 1 :]
            return f"header {i}: tab after ':'"
        if how == 2:
            w.headers[i] = line + b"\t"
            return f"header {i}: trailing tab"
        w.headers[i] = line.upper()
        return f"header {i}: upper-cased line"
    if kind <= 21:
        ct: bytes = rng.pick(
            [
                FORM.encode(),
                b"Application/X-WWW-Form-Urlencoded; charset=iso-8859-1",
                b"application/json",
                b"text/plain",
                b"multipart/form-data; boundary=x",
                b"application/x-www-form-urlencoded\xa0",
                b"\xa0application/x-www-form-urlencoded",
                b"application/x-www-form-urlencoded\xc2\xa0",
                b"application/x-www-form-urlencoded\x0b",
                b"application/x-www-form-urlencoded ;",
                b" application/x-www-form-urlencoded",
                b"application/x-www-form-urlencoded, application/json",
                b"application/json; charset=utf-7",
                b"",
            ]
        )
        how = rng.below(3)
        if how == 0:
            w.remove_header("content-type")
            return "no Content-Type"
        if how == 1:
            w.headers.insert(rng.below(len(w.headers) + 1), b"Content-Type: " + ct)
            return f"another Content-Type: {ct!r}"
        w.set_header("Content-Type", ct)
        return f"Content-Type: {ct!r}"
    if kind == 22:
        line = rng.pick(
            [
                "Content-Encoding: gzip",
                "X-HTTP-Method-Override: DELETE",
                "X_HTTP_Method_Override: DELETE",
                "X-Method-Override: PUT",
                "X-Forwarded-Host: evil.test",
                "X-Original-URL: /admin",
                "Forwarded: host=evil.test",
                "Expect: 100-continue",
                "Connection: close",
                "Connection: x-nonce",
                "Connection: Upgrade\r\nUpgrade: h2c",
                "Connection: Upgrade\r\nUpgrade: websocket",
                "Trailer: X-Nonce",
                "X-Script-Name: /up",
            ]
        )
        w.headers.insert(rng.below(len(w.headers) + 1), line.encode())
        return f"add {line!r}"
    if kind == 23:
        at = w.header_index("x-nonce")
        how = rng.below(4)
        if at is None:
            w.headers.append(b"X-Nonce: ")
            return "an empty X-Nonce"
        if how == 0:
            w.headers.append(w.headers[at])
            return "X-Nonce twice"
        if how == 1:
            w.headers[at] += b" "
            return "X-Nonce: trailing space"
        if how == 2:
            w.headers.insert(0, w.headers.pop(at))
            return "X-Nonce first"
        w.headers[at] = w.headers[at].replace(b"X-Nonce", b"X_Nonce")
        return "X_Nonce"
    if kind == 24:
        # A bare LF or a lone CR inside the head.
        i = rng.below(len(w.headers))
        if rng.chance(50):
            line = w.headers.pop(i)
            if i < len(w.headers):
                w.headers[i] = line + b"\n" + w.headers[i]
            else:
                w.headers.append(line + b"\n")
            return f"bare LF after header {i}"
        j = rng.below(len(w.headers[i]))
        w.headers[i] = w.headers[i][:j] + b"\r" + w.headers[i][j:]
        return f"lone CR in header {i}"
    if kind <= 27:
        how = rng.below(4)
        if how == 0:
            w.body, what = byte_edit(rng, w.body)
        elif how == 1:
            t = rng.pick(TOKENS).encode()
            w.body = insert_bytes(rng, w.body, t)
            what = f"insert {t!r}"
        elif how == 2:
            w.body, what = escape_edit(rng, w.body)
        elif w.body:
            w.body, what = pair_edit(rng, w.body)
        else:
            extra = rng.pick([b"&", b"\r\n", b"\xef\xbb\xbf", b"a=1"])
            w.body += extra
            what = f"append {extra!r}"
        if rng.chance(80):
            w.fix_length()
        return f"body: {what}"
    if kind == 28:
        m = rng.pick(
            [
                "get",
                "post",
                "Get",
                "put",
                "HEAD",
                "PUT",
                "POST",
                "GET",
                "OPTIONS",
                "TRACE",
                "CONNECT",
                "PATCH",
                "DELETE",
                "G ET",
                "GET\t",
            ]
        )
        w.method = m.encode()
        return f"method {m!r}"
    if kind == 29:
        v = rng.pick(
            ["HTTP/1.0", "HTTP/1.2", "http/1.1", "HTTP/2.0", "HTTP/1.1 ", "HTTP/1.10", "HTTP/0.9"]
        )
        w.version = v.encode()
        return f"version {v!r}"
    if kind <= 31:
        # A byte of the request line, wherever it falls.
        line = b" ".join([w.method, w.target, w.version])
        edited, what = byte_edit(rng, line)
        w.raw = edited + w.serialised()[len(line) :]
        return f"request line: {what}"
    if kind == 32:
        # A param repeated with another value (v1 refuses it, §11.1 step 4; v2 signs each).
        key = rng.pick(["n", "a", "to", "ottoken"]).encode()
        pair = key + b"=" + rng.pick([b"1", b"x", b""])
        if rng.chance(50) or not w.body:
            w.target += (b"&" if query_at is not None else b"?") + pair
            return f"query: add {pair!r}"
        w.body += b"&" + pair
        w.fix_length()
        return f"body: add {pair!r}"
    all_bytes, what = byte_edit(rng, w.serialised())
    w.raw = all_bytes
    return f"anywhere: {what}"


def chunked(rng: Rng, w: Wire) -> str:
    """The body as chunks (``Transfer-Encoding``, in one of its spellings, with or without the
    ``Content-Length`` left beside it)."""
    te = rng.pick(
        [
            "chunked",
            "chunked",
            "Chunked",
            "identity, chunked",
            "chunked, identity",
            "gzip, chunked",
            " chunked",
            "chunked\t",
            "xchunked",
            "chunked, chunked",
        ]
    )
    keep_length = rng.chance(30)
    if not keep_length:
        w.remove_header("content-length")
    twice = rng.chance(15)
    w.headers.append(f"Transfer-Encoding: {te}".encode())
    if twice:
        w.headers.append(b"Transfer-Encoding: chunked")
    out = b""
    rest = w.body
    while rest:
        n = 1 + rng.below(len(rest))
        size = rng.pick([f"{n:x}", f"{n:X}", f"0{n:x}", f"{n:x};ext=1"])
        out += size.encode() + b"\r\n" + rest[:n] + b"\r\n"
        rest = rest[n:]
    out += rng.pick([b"0\r\nX-Nonce: v2 x\r\n\r\n", b"0\r\n", b"0\r\n\r\n", b"0\r\n\r\n"])
    w.body = out
    return f"Transfer-Encoding: {te!r} (twice: {twice}, Content-Length kept: {keep_length})"


# ---- the exchange ----


def answer_end(data: bytes, head_only: bool) -> int | None:
    """Where the first final answer in ``data`` ends, once it is all there (interim ``1xx``
    answers skipped; a body framed by ``Content-Length`` or chunks; none for a ``HEAD``)."""
    at = 0
    while True:
        end = data.find(b"\r\n\r\n", at)
        if end < 0:
            return None
        head = end + 4
        text = data[at:head].decode("latin-1").lower()
        try:
            status = int(text[9:12])
        except ValueError:
            return None
        if 100 <= status < 200:
            at = head
            continue
        if head_only or status in (204, 304):
            return head
        fields = dict(line.split(":", 1) for line in text.split("\r\n")[1:] if ":" in line)
        if "chunked" in fields.get("transfer-encoding", ""):
            e = data.find(b"\r\n0\r\n\r\n", head)
            if e >= 0:
                return e + 7
            return head + 5 if data[head:].startswith(b"0\r\n\r\n") else None
        try:
            length = int(fields.get("content-length", "").strip())
        except ValueError:
            return None
        return head + length if len(data) >= head + length else None


def exchange(port: int, request: bytes) -> tuple[bytes, bool]:
    """Sends ``request`` and reads until the server closes the connection: what came back,
    and whether it hung. Once the first final answer is complete (or none has come within
    ``QUIET``: the server waits for bytes the request announced but never sent) the client
    ends its side, so the server sees the end of the request; every byte until it closes is
    kept (``HANG`` at most)."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=HANG) as s:
        with contextlib.suppress(OSError):
            s.sendall(request)
        head_only = request.startswith(b"HEAD ")
        deadline = time.monotonic() + QUIET
        closed = False
        while answer_end(got, head_only) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                chunk = b""
            if not chunk:
                closed = True
                break
            got += chunk
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + HANG
        while not closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return got, True
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return got, True
            except OSError:
                chunk = b""
            if not chunk:
                break
            got += chunk
    return got, False


def final_statuses(data: bytes) -> list[tuple[int, bool]]:
    """The final answers in ``data`` (interim ``1xx`` ones left out): each status, and whether
    the app wrote it (``x-echo``)."""
    text = data.decode("latin-1")
    out = []
    i = text.find("HTTP/1.")
    while i >= 0:
        if i == 0 or text[i - 1] == "\n":
            try:
                status = int(text[i + 9 : i + 12])
            except ValueError:
                status = 0
            if status >= 200:
                end = text.find("\r\n\r\n", i)
                head = text[i : len(text) if end < 0 else end].lower()
                out.append((status, "\r\nx-echo: 1" in head))
        i = text.find("HTTP/1.", i + 1)
    return out


# ---- the oracle ----


def canonical_host(host: str) -> str:
    """PROTOCOL §6.2, for comparison: lower-cased, ``:80`` or ``:443`` removed."""
    host = host.lower()
    for port in (":80", ":443"):
        if host.endswith(port):
            return host[: -len(port)]
    return host


def decoded_path(path: str) -> str:
    """A path as a framework decodes it: each ``%XX`` as its byte, the bytes as UTF-8."""
    return unquote_to_bytes(path).decode("utf-8", "replace")


def v1_content(params: list[tuple[str, str]]) -> str:
    """v1's params content (PROTOCOL §5.2)."""
    return "&".join(f"{k}={cgi_escape(v)}" for k, v in params)


def v1_merged(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Params as v1 binds them (PROTOCOL §11.1 step 4): a pair repeated with the same value
    merges into its first (the ``Hash#merge``), and an ``ottoken`` param is no param (§14.3,
    last item: a v1 handler ignores it)."""
    out: list[tuple[str, str]] = []
    for pair in pairs:
        if pair[0] != "ottoken" and pair not in out:
            out.append(pair)
    return out


def without(pairs: list[tuple[str, str]], pair: tuple[str, str]) -> list[tuple[str, str]] | None:
    """``pairs`` without the first ``pair``; ``None`` when there is none."""
    if pair not in pairs:
        return None
    out = list(pairs)
    out.remove(pair)
    return out


@dataclass
class Verdict:
    #: Why what the app saw is not the request signed (empty: it is).
    why: list[str] = field(default_factory=list)
    #: Documented limits met: (counter name, text).
    notes: list[tuple[str, str]] = field(default_factory=list)


def check(intent: Intent, seen: Seen) -> Verdict:
    """Whether what the app saw is the request that was signed, for every reading.

    What each scheme binds, and so what a tampered request may change unseen:

    * **v2** (PROTOCOL §6.6): method, canonical host (§6.2), the path's segments once decoded
      (§6.3), the multiset of decoded params (§6.4: sorted, so the order of a repeated key's
      values is not bound, §14.3), and a non-form body's bytes (§6.5). Query and form body
      are one set of params (§14.3, "Query vs form body are not distinguished"): compared
      together. With an ``ottoken`` credential, the one pair it came from is not a param
      (§11.1 step 4).
    * **v1** (§5.3, §14.2): method, the path, the params in order, query then form (§5.2). No
      host and no non-form body are bound (§14.2, "No host binding and no body binding"):
      neither is compared, and fields a framework reads from a body that is no url-encoded
      form (Werkzeug: multipart) are counted, not compared. Pairs merge as ``v1_merged``.
      Path and params are hashed without a separator (§14.2, "Ambiguous concatenation"): a
      path and params the app read that concatenate to the signed ones are counted
      (``v1_boundary``), not failed.

    A framework that reads no form where the verifier read one (Django on ``PUT`` and
    ``PATCH``: ``request.POST`` is read on ``POST`` only) is checked on what it reads plus
    that unread form, which together must be the signed params; when what it reads differs
    from the signed query (a param moved between the query and that form, §14.3) the case is
    counted (``unread_form``): the app reads fewer or more of the signed params than the
    client put where it reads them.
    """
    v = Verdict()
    if seen.raw_method != intent.method:
        v.why.append(f"method {seen.raw_method!r} for {intent.method}")
    if seen.overrides:
        v.why.append(f"method-override fields {seen.overrides} reached the app")
    if len(seen.content_types) > 1:
        v.why.append(f"Content-Type lines {seen.content_types}")
    content_type = seen.content_types[0] if seen.content_types else ""
    core_form = core_reads_form(content_type, seen.method, seen.body)
    body_pairs = parse_qsl(seen.body.decode("utf-8", "replace"), keep_blank_values=True)
    signed_query = intent.params[: intent.in_query]
    want_path = decoded_path(intent.path)
    for r in seen.readings:
        name = r.framework
        if r.method != intent.method:
            v.why.append(f"{name}: method {r.method!r} for {intent.method}")
        got = r.query + (r.form or [])
        unread = body_pairs if core_form and r.form is None else []
        union = got + unread
        if intent.scheme == "v2":
            if r.path != want_path:
                v.why.append(f"{name}: path {r.path!r} for {want_path!r}")
            if intent.ottoken is not None:
                pair = ("ottoken", intent.ottoken)
                rest = without(union, pair)
                if rest is None:
                    v.why.append(f"{name}: the ottoken pair is gone")
                else:
                    union = rest
                got_rest = without(got, pair)
                if got_rest is not None:
                    got = got_rest
            if sorted(union) != sorted(intent.params):
                v.why.append(f"{name}: params {union} for {intent.params}")
            elif unread and sorted(got) != sorted(signed_query):
                v.notes.append(("unread_form", f"{name} read {got} of {intent.params}"))
        else:
            merged = v1_merged(union)
            if r.path != want_path or merged != intent.params:
                read = seen.raw_path + v1_content(merged)
                if read == intent.path + v1_content(intent.params):
                    v.notes.append(("v1_boundary", f"{name} read {r.path!r} {merged}"))
                else:
                    v.why.append(
                        f"{name}: path {r.path!r} and params {merged} for {want_path!r} and "
                        f"{intent.params}"
                    )
            elif unread and v1_merged(got) != signed_query:
                v.notes.append(("unread_form", f"{name} read {v1_merged(got)} of {intent.params}"))
            if r.other_fields:
                v.notes.append(("v1_unsigned_body", f"{name} read fields {r.other_fields}"))
    if intent.scheme == "v2":
        hosts = {canonical_host(h) for h in seen.hosts}
        if not seen.hosts or hosts != {canonical_host(intent.host)}:
            v.why.append(f"hosts {seen.hosts} for {intent.host!r}")
        if not core_form and seen.body != (intent.body or b""):
            v.why.append(f"body {seen.body!r} for {intent.body!r}")
    return v


# ---- the run ----


def shown(data: bytes) -> str:
    return repr(data)


@dataclass
class Run:
    kind: str
    port: int
    seed: int
    records: Records
    secrets: list[str]
    host: str
    verbose: bool
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    accepted: int = 0
    baselines: int = 0
    notes: dict[str, list[str]] = field(default_factory=dict)


def run_case(run: Run, n: int, lane: int) -> None:
    """Case ``n``, signed by the lane's client: generated, mutated, sent, checked."""
    rng = case_rng(run.seed, n)
    client = f"lane{lane}"
    intent = make_intent(rng, n, run.host, client)
    wire = signed_wire(intent, run.secrets[lane], rng)
    # Every tenth case is sent as signed: it must pass.
    mutations = 0 if n % 10 == 0 else rng.pick([1, 1, 1, 1, 1, 1, 2, 2, 2, 3])
    done = [mutate(rng, wire, intent) for _ in range(mutations)]
    request = wire.serialised()
    late = run.records.take(client)
    answer, hung = exchange(run.port, request)
    reached = run.records.take(client)
    head = f"{run.kind} case {n} ({intent.scheme} {intent.method} {intent.signer}"
    head += f"{' ottoken' if intent.ottoken else ''}, mutations {done})"

    def fail(why: str) -> None:
        with run.lock:
            run.failures.append(f"{head}: {why}\n  request {shown(request)}\n  signed {intent}")

    if late:
        fail(f"before it was sent, the app saw {late}")
    if hung:
        return fail(f"no end within {HANG} s; got {shown(answer)}")
    answers = final_statuses(answer)
    if not answers and answer == b"echo" and b" HTTP/0.9\r\n" in request.split(b"\n", 1)[0] + b"\n":
        answers = [(200, True)]  # an HTTP/0.9 answer: the body alone, no status line
    status = answers[0][0] if answers else 0
    if run.verbose:
        print(f"{head}: {status} {shown(request)}")
    with run.lock:
        run.statuses[status] = run.statuses.get(status, 0) + 1
        run.baselines += mutations == 0
    if mutations == 0 and not (answers and 200 <= answers[0][0] < 300 and answers[0][1]):
        return fail(f"an untouched request got {shown(answer)}")
    if len(answers) > 1 and any(echo for _, echo in answers[1:]):
        fail(f"a second request reached the app: {shown(answer)}")
    if answers and 200 <= status < 300 and answers[0][1]:
        with run.lock:
            run.accepted += 1
        if len(reached) != 1:
            return fail(f"answered by the app, which saw {reached}")
        verdict = check(intent, reached[0])
        if verdict.why:
            return fail(f"the app saw {reached[0]}: {'; '.join(verdict.why)}")
        with run.lock:
            for name, text in verdict.notes:
                run.notes.setdefault(name, []).append(f"{head}: {text}; sent {shown(request)}")
        return None
    if not answers or 400 <= status < 500:
        # Nothing answered (bytes no server reads as a request) or a refusal: either way the
        # app must not have run.
        if reached:
            fail(f"answered {status}, yet the app saw {reached}")
        return None
    if status == 505 and not reached and not names_a_served_version(request):
        return None  # RFC 9110 §15.6.6: an HTTP version the server does not speak
    return fail(f"answered {shown(answer)}")


def names_a_served_version(request: bytes) -> bool:
    """Whether the request line names HTTP/1.1 or HTTP/1.0 (any other is answered 505)."""
    line = request.split(b"\n", 1)[0].removesuffix(b"\r")
    return line.endswith((b" HTTP/1.1", b" HTTP/1.0"))


class ErrorLog(logging.Handler):
    """Records every error the servers log (a traceback of the middleware or the app)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        # http.server logs each malformed request it answers (400, 505) as an error: not one.
        if record.exc_info is not None or "Traceback" in text:
            self.errors.append(self.format(record) if record.exc_info else text)


class QuietHandler(WSGIRequestHandler):
    """Werkzeug's request handler without its access log, which is no part of what is tested
    and fails itself on some targets: its ``uri_to_iri`` of an absolute-form target whose
    port is no number (``GET http://127.0.0.1:8080:80/x``) raises ``ValueError`` after the
    app has answered, and the server drops the connection."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextlib.contextmanager
def serving(kind: str, app: Any) -> Iterator[int]:
    """``app`` behind the middleware of ``kind`` on a port of 127.0.0.1."""
    secrets = lane_secrets()
    verifier = xnonce.Verifier({f"lane{i}": s for i, s in enumerate(secrets)})
    if kind == "wsgi":
        # Werkzeug's server (Flask's): the raw target in RAW_URI, chunked input marked
        # `wsgi.input_terminated`, repeated fields joined with `,`.
        httpd = make_server(
            "127.0.0.1",
            0,
            WsgiMiddleware(app, verifier),
            threaded=True,
            request_handler=QuietHandler,
        )
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield int(httpd.server_port)
        finally:
            httpd.shutdown()
            httpd.server_close()
        return
    with uvicorn_serving(AsgiMiddleware(app, verifier, body_timeout=3.0)) as url:
        yield int(url.rsplit(":", 1)[1])


def lane_secrets() -> list[str]:
    return [hashlib.sha256(f"tamper lane{i}".encode()).hexdigest() for i in range(LANES)]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_tampered_requests_reach_the_app_as_signed_or_not_at_all(kind: str) -> None:
    seed = int(os.environ.get("XNONCE_TAMPER_SEED", DEFAULT_SEED))
    cases = int(os.environ.get("XNONCE_TAMPER_CASES", CASES))
    print(f"{kind} tamper fuzz: XNONCE_TAMPER_SEED={seed}, {cases} cases in {LANES} lanes")
    records = Records()
    app = recording_wsgi(records) if kind == "wsgi" else recording_asgi(records)
    errors = ErrorLog()
    loggers = [logging.getLogger(name) for name in ("werkzeug", "uvicorn.error", "uvicorn")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(errors)
        # Werkzeug adds a handler printing every request unless its logger has a level.
        lg.setLevel(logging.WARNING)
    started = time.monotonic()
    try:
        with serving(kind, app) as port:
            run = Run(
                kind,
                port,
                seed,
                records,
                lane_secrets(),
                f"127.0.0.1:{port}",
                bool(os.environ.get("XNONCE_TAMPER_VERBOSE")),
            )

            def lane(i: int) -> None:
                for n in range(i, cases, LANES):
                    run_case(run, n, i)

            with ThreadPoolExecutor(LANES) as pool:
                list(pool.map(lane, range(LANES)))
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(errors)
            lg.setLevel(level)
    elapsed = time.monotonic() - started
    counts = {name: len(found) for name, found in sorted(run.notes.items())}
    print(
        f"{kind} tamper fuzz: {cases} cases ({run.baselines} untouched) in {elapsed:.1f} s: "
        f"{run.accepted} accepted; documented limits met {counts} (v1_boundary: PROTOCOL "
        f"§14.2; unread_form: §14.3 query vs form; v1_unsigned_body: §14.2); first statuses "
        f"(0: none) {dict(sorted(run.statuses.items()))}"
    )
    for name, found in sorted(run.notes.items()):
        for text in found[:3]:
            print(f"  {name}: {text}")
    failures = run.failures + [f"logged: {e}" for e in errors.errors]
    assert not failures, (
        f"XNONCE_TAMPER_SEED={seed} ({kind}): {len(failures)} of {cases} cases failed:\n"
        + "\n".join(failures[:30])
    )
    assert run.accepted >= run.baselines


# ---- what the fuzz found: an accepted request reaches the app as it was verified ----

KINDS = ["wsgi", "asgi"]


def sent(kind: str, build: Callable[[int], bytes]) -> tuple[list[tuple[int, bool]], list[Seen]]:
    """``build(port)``'s bytes sent to the app behind the middleware of ``kind``: the final
    answers, and what the app saw."""
    records = Records()
    app = recording_wsgi(records) if kind == "wsgi" else recording_asgi(records)
    with serving(kind, app) as port:
        answer, hung = exchange(port, build(port))
    assert not hung
    return final_statuses(answer), records.take("lane0")


def one_request(kind: str, build: Callable[[int], bytes]) -> tuple[list[tuple[int, bool]], Seen]:
    """As ``sent``, for a request the app must have run for once."""
    answers, seen = sent(kind, build)
    assert len(seen) == 1, answers
    return answers, seen[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("signed", "field", "host"),
    [
        # The whitespace around a field value is no part of it (RFC 9110 §5.5); Werkzeug's
        # server handed it on in HTTP_HOST, which Flask's request.host read as no host.
        ("api.test", "api.test\t", "api.test"),
        # Spellings a v2 signature covers as one host (PROTOCOL §6.2) reach the app as it.
        ("api.test", "API.test:443", "api.test"),
        ("api.test:8080", "api.test:8080:80", "api.test:8080"),
    ],
)
def test_the_app_reads_the_host_verified(kind: str, signed: str, field: str, host: str) -> None:
    def build(port: int) -> bytes:
        target = "/orders?n=1"
        header = xnonce.sign_request(
            "v2", "POST", signed, target, "lane0", lane_secrets()[0], content_type=FORM, body="a=1"
        )
        head = f"POST {target} HTTP/1.1\r\nHost: {field}\r\nX-Nonce: {header}\r\n"
        return f"{head}Content-Type: {FORM}\r\nContent-Length: 3\r\n\r\na=1".encode()

    answers, seen = one_request(kind, build)
    assert answers == [(200, True)]
    assert seen.hosts == [host] * len(seen.hosts)
    intent = Intent("v2", "POST", "/orders", [("n", "1"), ("a", "1")], 1, True, None, host, "lane0")
    assert check(intent, seen).why == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scheme", ["v1", "v2"])
@pytest.mark.parametrize("method", ["post", "Post"])
def test_the_app_reads_the_method_verified(kind: str, scheme: str, method: str) -> None:
    """A method is signed upper-cased (PROTOCOL §3.3): ``post`` verifies as POST, and reaches
    the app so. As it came, Starlette's ``request.method`` (and a WSGI app's
    ``REQUEST_METHOD``, WebOb's ``request.method``) read ``post``: no POST route matches it,
    and a reader of forms on POST alone (WebOb) would not read the signed form."""
    host = ""

    def build(port: int) -> bytes:
        nonlocal host
        host = f"127.0.0.1:{port}"
        header = xnonce.sign_request(
            scheme,
            method,
            host,
            "/orders?n=1",
            "lane0",
            lane_secrets()[0],
            content_type=FORM,
            body="a=1",
        )
        head = f"{method} /orders?n=1 HTTP/1.1\r\nHost: {host}\r\nX-Nonce: {header}\r\n"
        return f"{head}Content-Type: {FORM}\r\nContent-Length: 3\r\n\r\na=1".encode()

    answers, seen = one_request(kind, build)
    assert answers == [(200, True)]
    assert seen.raw_method == "POST"
    intent = Intent(
        scheme, "POST", "/orders", [("n", "1"), ("a", "1")], 1, True, None, host, "lane0"
    )
    assert check(intent, seen).why == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("target", "path"),
    [
        # An absolute-form target (RFC 9112 §3.2.2), verified for its path: uvicorn's h11
        # server put the whole URL in scope["path"], which Starlette routes on.
        ("http://{host}/orders/a%20b?n=1", "/orders/a%20b"),
        ("http://{host}?n=1", "/"),
        # An empty path, verified as `/` (PROTOCOL §11): scope["path"] was "".
        ("?n=1", "/"),
    ],
)
def test_the_app_reads_the_path_verified(kind: str, target: str, path: str) -> None:
    host = ""

    def build(port: int) -> bytes:
        nonlocal host
        host = f"127.0.0.1:{port}"
        header = xnonce.sign("v2", "GET", path, [("n", "1")], "lane0", lane_secrets()[0], host=host)
        line = target.format(host=host)
        return f"GET {line} HTTP/1.1\r\nHost: {host}\r\nX-Nonce: {header}\r\n\r\n".encode()

    if kind == "wsgi" and target.startswith("?"):
        # Werkzeug's server gives the target as it came (RAW_URI), which the verifier refuses
        # (400, invalid_path: no path): refused, the app never runs.
        assert sent(kind, build) == ([(400, False)], [])
        return
    answers, seen = one_request(kind, build)
    assert answers == [(200, True)]
    assert [r.path for r in seen.readings] == [decoded_path(path)] * len(seen.readings)
    intent = Intent("v2", "GET", path, [("n", "1")], 1, False, None, host, "lane0")
    assert check(intent, seen).why == []
