"""What the WSGI and ASGI middleware share: their settings and the verification call."""

from __future__ import annotations

from typing import Generic, TypeVar
from urllib.parse import quote

from xnonce._xnonce import Answer, Verified, Verifier, XNonceError

#: The largest body read for verification by default (1 MiB, as the reference server).
MAX_BODY = 1024 * 1024

App = TypeVar("App")


def encode_path(path: str | bytes) -> str:
    """A path a server has percent-decoded, encoded again (``str``: as UTF-8); what RFC 3986
    allows in a path segment, and ``/``, stays as it is."""
    return quote(path, safe="/;=,:@!$&'()*+~")


def join_target(path: str, query: str) -> str:
    """``/path?query`` (``/`` for an empty path; no ``?`` without a query)."""
    return (path or "/") + ("?" + query if query else "")


def repeated_host(target: str, host: str | None, x_nonce: str | None) -> Answer | None:
    """The 400 for a request with two ``Host`` lines (RFC 9112 §3.2, as from the reference
    server), which arrive joined with ``,`` (by WSGI servers; by the ASGI adapter's header
    read): no host holds a comma. ``None`` otherwise."""
    if host is not None and "," in host:
        return Answer.repeated_host(target=target, x_nonce=x_nonce)
    return None


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
        self.app = app
        self.verifier = verifier
        self.once = once
        self.max_body = max_body

    def check(
        self,
        method: str,
        target: str,
        host: str | None,
        x_nonce: str | None,
        content_type: str | None,
        body: bytes,
        *,
        once: bool | None = None,
    ) -> Verified | Answer:
        """The verified request, or the answer to send for its refusal; ``once`` (default:
        the middleware's) picks ``verify_once``."""
        once = self.once if once is None else once
        verify = self.verifier.verify_once if once else self.verifier.verify
        try:
            return verify(
                method,
                target,
                host=host,
                x_nonce=x_nonce,
                content_type=content_type,
                body=body,
            )
        except XNonceError as e:
            # No answer: not a refusal of this request, but the caller's bug.
            if e.answer is None:
                raise
            return e.answer
