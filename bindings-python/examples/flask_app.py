"""A Flask API that accepts only xnonce-signed requests (tests/test_examples.py runs it).

XNONCE_CLIENTS='billing=<64 hex secret>' flask --app flask_app run
"""

from __future__ import annotations

import os

import xnonce
from flask import Flask, Request, request


def clients_from_env() -> dict[str, str]:
    """``XNONCE_CLIENTS='a=secret,b=secret'`` → ``{"a": "secret", "b": "secret"}``."""
    pairs = (item.split("=", 1) for item in os.environ.get("XNONCE_CLIENTS", "").split(",") if item)
    return {name: secret for name, secret in pairs}


def target(req: Request) -> str:
    """The request target as received: path and raw query string."""
    query = req.query_string.decode("latin-1")
    return req.path + ("?" + query if query else "")


def create_app(secrets: xnonce.SecretSource) -> Flask:
    app = Flask(__name__)
    # One Verifier per process: it holds the replay store that refuses a second copy.
    verifier = xnonce.Verifier(secrets, window_ms=30_000)

    @app.errorhandler(xnonce.XNonceError)
    def refused(e: xnonce.XNonceError) -> tuple[dict[str, str], int, dict[str, str]]:
        headers = {}
        if e.server_time is not None:  # stale: tell the client our time, authenticated
            headers["X-Nonce-Server-Time"] = f"{e.server_time} {e.server_time_mac}"
        return {"code": e.code, "detail": e.message}, e.http_status, headers

    @app.before_request
    def authenticate() -> None:
        verified = verifier.verify_once(
            request.method,
            target(request),
            host=request.host,
            x_nonce=request.headers.get("X-Nonce"),
            content_type=request.content_type,
            body=request.get_data(),
        )
        request.environ["xnonce.verified"] = verified

    @app.post("/reports/create")
    def create_report() -> dict[str, object]:
        verified: xnonce.Verified = request.environ["xnonce.verified"]
        return {
            "client": verified.client,
            "params": dict(verified.params),
            "json": request.get_json(silent=True),
        }

    return app


if __name__ == "__main__":  # pragma: no cover
    create_app(clients_from_env()).run()
