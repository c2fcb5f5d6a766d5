"""WSGI middleware: only signed requests reach the app (Flask, Django, any WSGI app).

```python
from flask import Flask, request
import xnonce
from xnonce.wsgi import XNonceMiddleware

app = Flask(__name__)
verifier = xnonce.Verifier({"billing": os.environ["BILLING_SECRET"]})
app.wsgi_app = XNonceMiddleware(app.wsgi_app, verifier)

@app.post("/reports/create")
def create():
    v = request.environ["xnonce.verified"]
    return {"client": v.client, "params": dict(v.params)}
```

A refused request never reaches the app: the middleware answers with
``XNonceError.answer`` (the reference server's bytes: em-secure-api's text for v1 clients,
a problem document for v2). An accepted one reaches it with ``environ["xnonce.verified"]``
(an ``xnonce.Verified``) and its body readable again from ``environ["wsgi.input"]``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from xnonce._server import (
    FORM_UTF8,
    RECORDS_KEY,
    VerifyingMiddleware,
    absolute_authority,
    bytes_escaped,
    encode_path,
    exceeds,
    form_for_app,
    join_target,
    misread_as_form,
    query_for_app,
    refused_head,
)
from xnonce._xnonce import METHOD_OVERRIDE_FIELDS, Answer, content_type_for_app, host_for_app

__all__ = ["ENVIRON_KEY", "RECORDS_KEY", "XNonceMiddleware", "request_target"]

#: The environ keys of the method-override fields (``HTTP_X_HTTP_METHOD_OVERRIDE``...),
#: removed from an accepted request: Werkzeug's ``HTTPMethodOverrideMiddleware`` inside the
#: middleware would otherwise run a signed POST as the DELETE a client added unsigned.
_METHOD_OVERRIDE_KEYS: tuple[str, ...] = tuple(
    "HTTP_" + field.upper().replace("-", "_") for field in METHOD_OVERRIDE_FIELDS
)

#: Where an accepted request's ``xnonce.Verified`` is put in the WSGI environ.
ENVIRON_KEY = "xnonce.verified"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def request_target(environ: dict[str, Any]) -> str:
    """The request target as the client sent it (``/path?query``, still percent-encoded).

    ``RAW_URI`` (gunicorn, Werkzeug) or ``REQUEST_URI`` (uWSGI, Werkzeug) when the server
    gives it; otherwise ``SCRIPT_NAME + PATH_INFO`` (which WSGI servers have percent-decoded)
    encoded again, and ``QUERY_STRING`` as received.

    A ``#`` in the raw target (no part of a request target, RFC 9112 §3.2, yet passed on by
    Werkzeug's server and gunicorn) ends it: the app reads ``PATH_INFO`` and ``QUERY_STRING``,
    which Python's ``urlsplit`` cut there, so ``?q=#tag&dry_run=1`` reaches it as ``q=""``
    alone; verified whole, a request signed for ``q=%23tag&dry_run=1`` would pass as that.
    The reference server's URI parser cuts it off too.

    A byte outside ASCII (PEP 3333: one latin-1 character), which the app reads back as a
    byte (Flask, Django: ``QUERY_STRING`` encoded in latin-1, then decoded as UTF-8), is
    written ``%XX``: taken as text, ``to=é`` sent raw would be verified as ``to=Ã©``.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return bytes_escaped(str(raw).partition("#")[0] or "/")
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        # PEP 3333: the path's bytes, each as one latin-1 character.
        path = encode_path(path.encode("latin-1"))
    except UnicodeEncodeError:
        # Not PEP 3333's text (a lone surrogate from a server that decodes with
        # surrogateescape): handed on as it is, never encoded into bytes the client did not
        # send; the verifier refuses what it cannot read (400, invalid_path).
        pass
    query = bytes_escaped(environ.get("QUERY_STRING", ""))
    return join_target(path, query)


def _field(environ: dict[str, Any], key: str) -> str | None:
    """The value of the header field at ``key`` without the optional whitespace (SP, HTAB)
    around it, which is no part of a field value (RFC 9110 §5.5) and which Werkzeug's server
    (Flask's) hands on in the environ (``Host: api.test `` as ``"api.test "``); ``None``
    when absent or empty."""
    value = environ.get(key)
    if isinstance(value, str):
        value = value.strip(" \t")
    return value or None


def _declared_length(environ: dict[str, Any], limit: int) -> int | None:
    """The body's ``CONTENT_LENGTH``, ``None`` without one, ``limit + 1`` for any length over
    ``limit``; read from the head, before the body. One that is not a decimal number of
    bytes (``abc``, ``-1``, ``+5``, ``1_000``) raises ``ValueError``: the request's framing
    is malformed (400, as from the reference server), it is not a large body (413)."""
    length_text = _field(environ, "CONTENT_LENGTH") or ""
    if not length_text:
        return None
    # RFC 9110 §8.6: 1*DIGIT. Not int()'s syntax, which takes signs, "_" and non-ASCII digits.
    if not (length_text.isascii() and length_text.isdigit()):
        raise ValueError("malformed Content-Length")
    if exceeds(length_text, limit):
        return limit + 1
    return int(length_text.lstrip("0") or "0")  # not over limit: few digits left


def _read_body(environ: dict[str, Any], limit: int, length: int | None) -> bytes | None:
    """The body, or None when a chunked one is larger than ``limit`` bytes.

    By its declared ``length`` (``_declared_length``, at most ``limit``: a longer one is
    refused from the head); without one, a chunked body the server marks
    ``wsgi.input_terminated`` is read to its end.
    """
    stream = environ["wsgi.input"]
    if length is None:
        if not environ.get("wsgi.input_terminated"):
            return b""
        body = _read_at_most(stream, limit + 1)
        return body if len(body) <= limit else None
    return stream.read(length) if length else b""


#: How much of a body of unknown length is read at a time.
_PIECE = 64 * 1024


def _read_at_most(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of a stream of unknown length (a chunked body), to its end.

    Through ``readinto`` over a memoryview when the stream has one: a ``readinto`` that
    writes fewer bytes than it reports (Werkzeug's chunked input when a chunk ends early,
    which through ``read`` hands over memory it never wrote, or crashes the interpreter)
    then raises ``ValueError``, answered as an unreadable body.
    """
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        return bytes(stream.read(size))
    pieces = []
    buffer = memoryview(bytearray(min(size, _PIECE)))
    got = 0
    while got < size:
        n = readinto(buffer[: min(len(buffer), size - got)])
        if not n:
            break
        pieces.append(bytes(buffer[:n]))
        got += n
    return b"".join(pieces)


def _send(start_response: StartResponse, refusal: Answer, method: str) -> list[bytes]:
    """Answers ``refusal``; to a ``HEAD`` (``method``) with its head alone (RFC 9110
    §9.3.2): WSGI servers write whatever the app returns (frameworks strip a HEAD's content
    themselves), and content after the head would be read as the next answer."""
    body = refusal.body_bytes
    headers = [*refusal.headers, ("Content-Length", str(len(body)))]
    try:
        reason = HTTPStatus(refusal.status).phrase
    except ValueError:
        reason = "Refused"
    start_response(f"{refusal.status} {reason}", headers)
    return [] if method == "HEAD" else [body]


class XNonceMiddleware(VerifyingMiddleware[WSGIApp]):
    """Verifies every request with ``verifier`` before ``app`` sees it.

    ``once=True`` (the default) uses ``Verifier.verify_once``: a second copy of a request is
    refused (409). ``max_body`` bounds the body read for verification (default 1 MiB, as
    the reference server); a larger one is refused with 413 before it is read.

    Behind another xnonce middleware (an app's, around a mounted sub-app's), a request that
    one recorded in this very store (``environ[RECORDS_KEY]``) for at least as long as this one
    would is verified again, not recorded.
    """

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        target = request_target(environ)
        x_nonce = _field(environ, "HTTP_X_NONCE")
        host = _field(environ, "HTTP_HOST")
        content_type = _field(environ, "CONTENT_TYPE")
        refused = refused_head(method, target, host, x_nonce)
        if refused is not None:
            return _send(start_response, refused, method)
        try:
            length = _declared_length(environ, self.max_body)
        except ValueError:
            # A malformed Content-Length: the reference server's 400, from the head.
            unreadable = Answer.body_unreadable(target=target, x_nonce=x_nonce)
            return _send(start_response, unreadable, method)
        if length is not None and length > self.max_body:
            too_large = Answer.body_too_large(self.max_body, target=target, x_nonce=x_nonce)
            return _send(start_response, too_large, method)
        # An unknown route (404) or param rules the query fails (422), for a body that is not
        # a form: answered from the head, as the reference server does, before the body is
        # read (a large or slow chunked body no more changes that answer).
        routed = self.verifier.route_refusal(
            method, target, x_nonce=x_nonce, content_type=content_type
        )
        if routed is not None:
            return _send(start_response, routed, method)
        if misread_as_form(content_type):
            # No form for the verifier (a body verified as opaque bytes), a form for Django's
            # reader (`str.strip` takes U+00A0 for whitespace): fields no param signs.
            misread = Answer.misread_content_type(target=target, x_nonce=x_nonce)
            return _send(start_response, misread, method)
        try:
            body = _read_body(environ, self.max_body, length)
        except (OSError, ValueError):
            # Malformed chunked framing, a stream that failed: the reference server's 400.
            unreadable = Answer.body_unreadable(target=target, x_nonce=x_nonce)
            return _send(start_response, unreadable, method)
        if body is None:
            too_large = Answer.body_too_large(self.max_body, target=target, x_nonce=x_nonce)
            return _send(start_response, too_large, method)
        outcome = self.check(
            environ,
            method,
            target,
            # Not SERVER_NAME: a v2 request without a Host line is refused (PROTOCOL §11.1),
            # not verified against the server's own name.
            host,
            x_nonce,
            content_type,
            body,
        )
        if isinstance(outcome, Answer):
            return _send(start_response, outcome, method)
        environ[ENVIRON_KEY] = outcome
        query = environ.get("QUERY_STRING")
        if isinstance(query, str) and (for_app := query_for_app(query)) is not None:
            # The query's fields as verified, whatever the app's parser makes of a raw `;`
            # or of a raw byte outside ASCII.
            environ["QUERY_STRING"] = for_app
        for key in _METHOD_OVERRIDE_KEYS:
            environ.pop(key, None)
        # The method as verified: signed upper-cased (PROTOCOL §3.3), so `post` verifies as
        # POST, while an app that reads REQUEST_METHOD as it came (WebOb's `request.method`,
        # which reads a form on POST, PUT, PATCH and DELETE only) would not read the signed
        # form of a `post`.
        environ["REQUEST_METHOD"] = method.upper()
        # The host verified in HTTP_HOST, which the app reads (Flask's request.host, Django's
        # get_host, host routing). An absolute-form target's authority, whatever the Host
        # field says (RFC 9112 §3.2.2): Werkzeug's server puts it in HTTP_HOST, gunicorn
        # leaves the field there. Else the field without the whitespace around it, which
        # Werkzeug's server hands on (`Host: api.test\t`) and Flask reads as no host at all.
        # For v2, in the canonical form its signature covers (PROTOCOL §6.2), so that
        # spellings the signature treats as one (`API.test:443`; `h:8080:443`, which Flask
        # reads as no host and Django's get_host refuses) reach the app as that one host.
        authority = absolute_authority(target)
        verified_host = authority if authority is not None else host
        if verified_host is not None:
            if outcome.scheme == "v2":
                verified_host = host_for_app(verified_host) or verified_host
            environ["HTTP_HOST"] = verified_host
        # A form as the UTF-8 it was verified in, JSON naming a charset as the UTF-8 it is:
        # nothing signs the charset named, and an app that honours it (Django does, for
        # forms) would decode a signed value otherwise.
        for_app = content_type_for_app(content_type)
        if for_app is not None:
            environ["CONTENT_TYPE"] = for_app
        if for_app == FORM_UTF8:
            # A form's fields as verified, whatever the app's parser makes of a raw `;` or
            # of a raw byte outside ASCII.
            body = form_for_app(body)
        environ["wsgi.input"] = io.BytesIO(body)
        # The length of what was verified: an app that reads CONTENT_LENGTH bytes (Django
        # does, and reads nothing without it) gets a chunked body too.
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)
