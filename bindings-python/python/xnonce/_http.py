"""What the HTTP-library adapters share: from a prepared request to its ``X-Nonce`` value."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from xnonce._xnonce import (
    Secret,
    _check_clock,
    _check_signer,
    error_from_code,
    server_time_from_answer,
    sign_request,
)

HEADER = "X-Nonce"
#: The header of a stale answer carrying the server's authenticated time (PROTOCOL §12).
SERVER_TIME_HEADER = "X-Nonce-Server-Time"
#: Statuses after which HTTP clients follow ``Location`` (the credential must not follow).
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))


def checked_signer(client: str, secret: str | Secret, scheme: str) -> tuple[str, Secret]:
    """The adapter's scheme and secret, once the scheme, client id and secret are checked as
    every request will need them (``InputError`` now rather than on each request). The scheme
    is core's reading of it: ``"V2"`` is ``"v2"``, as ``sign`` and the Node package take it."""
    return _check_signer(scheme, client, secret)


def local_ms() -> int:
    """The local clock (ms since the epoch), as core reads it."""
    return time.time_ns() // 1_000_000


class Clock:
    """An adapter's clock: the offset to the server's (server - local, ms) that every request
    it signs uses, learned from stale answers (PROTOCOL §12, *Client side*) when correction is
    on. The decision whether an answer tells the time is core's
    (``server_time_from_answer``); this keeps the offset and adds it to the local clock."""

    def __init__(self, correct_clock: bool, clock_offset_ms: int) -> None:
        # Checked as the Requester checks them (TypeError, ValueError, InputError).
        self.correct, self.offset_ms = _check_clock(correct_clock, clock_offset_ms)

    def timestamp(self) -> int | None:
        """The timestamp to sign with: the local clock plus the offset (never below 0); with no
        offset, ``None``: core reads the same clock itself."""
        offset = self.offset_ms
        return None if offset == 0 else max(0, local_ms() + offset)

    def learn(self, status: int, hint: str | None, sent: str | None, secret: Secret) -> bool:
        """With correction on, stores the offset an answer tells (a 401 whose hint authenticates
        for ``sent``, the ``X-Nonce`` value the request carried); true when it did, and the
        request may be re-signed and sent once more. With correction off, never."""
        if not self.correct or sent is None:
            return False
        told = server_time_from_answer(status, hint, sent, secret)
        if told is None:
            return False
        self.offset_ms = told - local_ms()
        return True


class Signer:
    """What both HTTP-library adapters (``XNonceAuth`` of ``requests`` and of ``httpx``) are
    made with and show: the client, its secret, the scheme and the clock."""

    def __init__(
        self,
        client: str,
        secret: str | Secret,
        scheme: str = "v2",
        *,
        correct_clock: bool = True,
        clock_offset_ms: int = 0,
    ) -> None:
        self.scheme, self._secret = checked_signer(client, secret, scheme)
        self.client = client
        self._clock = Clock(correct_clock, clock_offset_ms)

    @property
    def clock_offset_ms(self) -> int:
        """The clock offset in use (server - local, ms): as given until a stale answer's
        authentic hint sets it; shared by every request this object signs."""
        return self._clock.offset_ms

    def __repr__(self) -> str:
        return f"XNonceAuth(client={self.client!r}, scheme={self.scheme!r})"


def authority_and_target(url: str) -> tuple[str, str]:
    """Splits an absolute URL into the authority (``host[:port]``) and ``/path?query`` as sent."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.netloc.rpartition("@")[2], target


def header_text(value: str | bytes | None) -> str | None:
    """A header value as the HTTP library will send it: ``requests`` takes ``bytes`` too,
    written as is (latin-1, as ``http.client`` does)."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def sign_target(
    scheme: str,
    client: str,
    secret: str | Secret,
    method: str,
    host: str,
    target: str,
    content_type: str | None,
    body: Any,
    timestamp: int | None = None,
) -> str:
    """Signs a request about to be sent: query and form params, or the body digest (v2), at
    ``timestamp`` (ms; ``None``: the clock).

    ``host`` is the Host line as sent (a caller's header, or the URL's authority without its
    userinfo): one holding ``@`` is not cut, as it goes out whole (``invalid_host``).
    ``body`` goes to the core as is: bytes, bytearray or str; anything else (a stream, a file)
    is a body the adapter cannot sign: ``InputError`` ``invalid_body``.
    """
    if body is not None and not isinstance(body, (bytes, bytearray, str)):
        raise error_from_code(
            "invalid_body",
            f"a {type(body).__name__} body (a stream, a file) cannot be signed: pass bytes",
        )
    return sign_request(
        scheme,
        method,
        host,
        target or "/",
        client,
        secret,
        content_type=content_type,
        body=body,
        timestamp=timestamp,
    )
