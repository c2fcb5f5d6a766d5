"""What the WSGI and ASGI middleware share: their settings and the verification call."""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from xnonce._xnonce import (
    Answer,
    Verified,
    Verifier,
    XNonceError,
    form_content_type_misread,
)

#: The largest body read for verification by default (1 MiB, as the reference server).
MAX_BODY = 1024 * 1024

App = TypeVar("App")


def checked_max_body(limit: object) -> int:
    """``limit`` as a body limit: an ``int`` number of bytes in ``0..=2**64-1`` (what
    ``Answer.body_too_large`` takes), checked once rather than on every request. A ``bool``
    (``True`` is no number of bytes) or any other type is a ``TypeError``, a negative or
    larger ``int`` a ``ValueError``."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"max_body must be an int number of bytes, not {type(limit).__name__}")
    if not 0 <= limit < 2**64:
        raise ValueError("max_body must be an int in 0..=2**64-1")
    return limit


def encode_path(path: str | bytes) -> str:
    """A path a server has percent-decoded, encoded again (``str``: as UTF-8); what RFC 3986
    allows in a path segment, and ``/``, stays as it is."""
    return quote(path, safe="/;=,:@!$&'()*+~")


def join_target(path: str, query: str) -> str:
    """``/path?query`` (``/`` for an empty path; no ``?`` without a query)."""
    return (path or "/") + ("?" + query if query else "")


#: RFC 3986 §3.1's scheme, then ``://`` and the authority (up to ``/``, ``?`` or ``#``): an
#: absolute-form target, read as the core reads it (``verify::absolute_form``).
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


def absolute_authority(target: str) -> str | None:
    """The authority of an absolute-form target (``http://api.test/x`` → ``api.test``), which
    the verifier takes as the host in place of the ``Host`` field (RFC 9112 §3.2.2); ``None``
    for any other form."""
    match = _ABSOLUTE_FORM.match(target)
    return match.group(1) if match else None


def absolute_prefix(target: str) -> str | None:
    """The scheme and authority that start an absolute-form target (``http://api.test/x`` →
    ``http://api.test``); ``None`` for any other form."""
    match = _ABSOLUTE_FORM.match(target)
    return match.group(0) if match else None


def misread_as_form(content_type: str | None) -> bool:
    """Whether ``content_type`` is no form for the verifier yet one for an app's form reader
    (core's ``form_content_type_misread``: a form media type with U+00A0 around it). Text
    that UTF-8 cannot encode (a lone surrogate) is no such type: the verifier refuses it
    with its own code (``invalid_body``)."""
    try:
        return form_content_type_misread(content_type)
    except XNonceError:
        return False


# The Content-Type core's content_type_for_app gives a form (and only a form).
FORM_UTF8 = "application/x-www-form-urlencoded; charset=utf-8"


def bytes_escaped(text: str) -> str:
    """``text`` holding bytes as latin-1 characters (PEP 3333's text, ASGI's ``raw_path`` and
    ``query_string`` read as latin-1) with each byte outside ASCII (a character in
    U+0080..U+00FF) written ``%XX``, as the verifier is to read it: taken as text, ``to=é``
    sent raw would be verified as ``to=Ã©``. Any other character (a lone surrogate, not such
    text) is left for the verifier to refuse."""
    if text.isascii():
        return text
    return "".join(f"%{ord(c):02X}" if "\x80" <= c <= "\xff" else c for c in text)


def query_for_app(query: str) -> str | None:
    """A verified query string (PEP 3333 text, or ASGI bytes read as latin-1) as handed to the
    app, or ``None`` when it needs no rewriting.

    Each raw ``;`` is written ``%3B``, the one character verified. The verifier splits a query
    at ``&`` only (PROTOCOL §11), so ``memo=a;to=mallory&to=alice`` has one ``to``; Python's
    ``parse_qsl`` before 3.9.2 (Werkzeug's ``request.args``, Starlette's ``QueryParams``) and
    Django before 2.2.19 split at ``;`` too, and would read a ``to`` no signature covers first.
    Each byte outside ASCII is written ``%XX`` (``bytes_escaped``), as verified: Starlette's
    ``QueryParams`` and a WSGI app's ``parse_qsl(QUERY_STRING)`` read a raw byte as latin-1
    (``to=Zoë`` sent raw as ``ZoÃ«``), while every query reader decodes ``%XX`` as UTF-8."""
    if ";" not in query and query.isascii():
        return None
    return bytes_escaped(query).replace(";", "%3B")


#: A raw ``;`` or byte outside ASCII in a form body: what ``form_for_app`` writes ``%XX``.
_FORM_ESCAPED = re.compile(rb"[;\x80-\xff]")


def form_for_app(body: bytes) -> bytes:
    """A verified form body as handed to the app: each raw ``;`` and each byte outside ASCII
    written ``%XX``, which every form parser reads as the character verified.

    The verifier splits a form at ``&`` only (PROTOCOL §11), so ``memo=a;to=mallory`` is one
    field ``memo``; python-multipart before 0.0.30 (Starlette's and FastAPI's form parser)
    splits at a ``;`` after the last ``&`` too, and would hand the app a ``to`` field no
    signature covers, which Starlette's ``form["to"]`` (the last value) reads over the signed
    one. The verifier decodes a field's bytes as UTF-8, whether sent raw or as ``%XX``;
    Starlette decodes a raw byte as latin-1 (``to=Zoë`` sent raw reads ``ZoÃ«``), while it,
    Werkzeug and Django all decode ``%XX`` escapes as UTF-8."""
    return _FORM_ESCAPED.sub(lambda m: b"%%%02X" % m.group()[0], body)


def refused_head(method: str, target: str, host: str | None, x_nonce: str | None) -> Answer | None:
    """What the reference server refuses from a request's head alone, before its body is
    read: a ``CONNECT`` (400: a 2xx to it would open a tunnel; any case, as core signs
    methods upper-cased), and two ``Host`` lines (400, RFC 9112 §3.2), which arrive joined
    with ``,`` (by WSGI servers; by the ASGI adapter's header read): no host holds a comma.
    ``None`` otherwise."""
    if method.upper() == "CONNECT":
        return Answer.tunnel(target=target, x_nonce=x_nonce)
    if host is not None and "," in host:
        return Answer.repeated_host(target=target, x_nonce=x_nonce)
    return None


#: Where a middleware that recorded a request's replay key leaves ``(store, replay_key,
#: remember_until)``, in the WSGI environ or the ASGI scope, for a later xnonce middleware on
#: the same request (an app's and a mounted sub-app's): a list, one entry per record.
#: ``store`` is the object that holds the records: the ASGI middleware's ``replay_store``,
#: else the verifier's ``replay_store``, else the verifier itself (its own memory). A client
#: cannot set it: its headers arrive as ``HTTP_*`` keys (WSGI) or in ``scope["headers"]``
#: (ASGI).
RECORDS_KEY = "xnonce.recorded"

#: A WSGI environ or an ASGI scope.
Request = MutableMapping[str, Any]


def exceeds(digits: str, limit: int) -> bool:
    """Whether the decimal ``digits`` (ASCII digits only) is over ``limit``, without ``int()``
    of a huge one (Python refuses to convert more than 4300 digits)."""
    digits = digits.lstrip("0") or "0"
    return len(digits) > len(str(limit)) or int(digits) > limit


def verifier_store(verifier: Verifier) -> object:
    """The object ``verifier.verify_once`` records in: its ``replay_store``, else its own
    memory, which only this verifier holds, so the verifier stands for it."""
    store = verifier._replay_store
    return verifier if store is None else store


def records_in(request: Request, store: object) -> list[tuple[str, int]]:
    """The ``(replay_key, remember_until)`` pairs an earlier middleware recorded in ``store``
    for this request: only in this very object (``is``), since a key recorded elsewhere
    (another process's memory) does not stop a replay sent where that record is not."""
    records = request.get(RECORDS_KEY)
    if not isinstance(records, list):
        return []
    return [
        (entry[1], entry[2])
        for entry in records
        if isinstance(entry, tuple) and len(entry) == 3 and entry[0] is store
        if isinstance(entry[1], str) and isinstance(entry[2], int)
    ]


def held(records: list[tuple[str, int]], verified: Verified) -> bool:
    """Whether ``records`` (``records_in``) keep ``verified``'s replay key at least until this
    middleware would: a store that drops it sooner (an outer middleware's shorter window)
    would let a copy through, after that, wherever the outer middleware is not."""
    return any(
        key == verified.replay_key and until >= verified.remember_until for key, until in records
    )


def leave_record(request: Request, store: object, verified: Verified) -> None:
    """Tells a later middleware on this request that ``store`` holds ``verified``'s replay key
    now, until ``verified.remember_until``."""
    records = request.get(RECORDS_KEY)
    if not isinstance(records, list):
        records = request[RECORDS_KEY] = []
    records.append((store, verified.replay_key, verified.remember_until))


class VerifyingMiddleware(Generic[App]):
    """An app behind a verifier: ``once`` picks ``verify_once`` (replays refused) over
    ``verify``; ``max_body`` bounds the body read for verification."""

    def __init__(
        self,
        app: App,
        verifier: Verifier,
        *,
        once: bool = True,
        max_body: int = MAX_BODY,
    ) -> None:
        # Checked here, not on the first request: `once=None` read as false would turn replay
        # protection off without a word, and a wrong verifier would be a 500 per request.
        if not callable(app):
            raise TypeError(f"app must be a callable application, not {type(app).__name__}")
        if not isinstance(verifier, Verifier):
            raise TypeError(f"verifier must be an xnonce.Verifier, not {type(verifier).__name__}")
        if not isinstance(once, bool):
            raise TypeError(f"once must be True or False, not {type(once).__name__}")
        self.app = app
        self.verifier = verifier
        self.once = once
        self.max_body = checked_max_body(max_body)

    def check(
        self,
        request: Request,
        method: str,
        target: str,
        host: str | None,
        x_nonce: str | None,
        content_type: str | None,
        body: bytes,
        *,
        once: bool | None = None,
    ) -> Verified | Answer:
        """The verified request, or the answer to send for its refusal. ``once`` (default: the
        middleware's) records it in the verifier's store (``verify_once``) and leaves the
        record on ``request``; unless an earlier middleware on it recorded its replay key in
        that very store for at least as long (``records_in``, ``held``): recording it again
        would refuse it as its own replay, while a replay of it meets that store first."""
        once = self.once if once is None else once
        fields = {"host": host, "x_nonce": x_nonce, "content_type": content_type, "body": body}
        if not once:
            return self._answer(self.verifier.verify, method, target, fields)
        store = verifier_store(self.verifier)
        earlier = records_in(request, store)
        if earlier:
            # Verified in full all the same: this verifier's clients, windows and schemes.
            outcome = self._answer(self.verifier.verify, method, target, fields)
            if isinstance(outcome, Answer) or held(earlier, outcome):
                return outcome
        outcome = self._answer(self.verifier.verify_once, method, target, fields)
        if not isinstance(outcome, Answer):
            leave_record(request, store, outcome)
        return outcome

    @staticmethod
    def _answer(
        verify: Callable[..., Verified], method: str, target: str, fields: dict[str, Any]
    ) -> Verified | Answer:
        """``verify``'s verified request, or the answer to send for its refusal."""
        try:
            return verify(method, target, **fields)
        except XNonceError as e:
            # No answer: not a refusal of this request, but the caller's bug.
            if e.answer is None:
                raise
            return e.answer
