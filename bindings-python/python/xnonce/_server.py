"""What the WSGI and ASGI middleware share: the body limit and the verification call."""

from __future__ import annotations

from xnonce._xnonce import Answer, Verified, Verifier, XNonceError

#: The largest body read for verification by default (1 MiB, as the reference server).
MAX_BODY = 1024 * 1024


def check(
    verifier: Verifier,
    once: bool,
    method: str,
    target: str,
    host: str | None,
    x_nonce: str | None,
    content_type: str | None,
    body: bytes,
) -> Verified | Answer:
    """The verified request, or the answer to send for its refusal."""
    verify = verifier.verify_once if once else verifier.verify
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
        if e.answer is None:  # not a refusal of this request: the caller's bug, not the client's
            raise
        return e.answer
