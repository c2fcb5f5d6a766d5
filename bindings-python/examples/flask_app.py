"""A Flask API that accepts only xnonce-signed requests (tests/test_examples.py runs it).

XNONCE_CLIENTS='billing=<64 hex secret>' flask --app flask_app run
"""

from __future__ import annotations

import os

import xnonce
from flask import Flask, request
from xnonce.wsgi import XNonceMiddleware


def clients_from_env() -> dict[str, str]:
    """``XNONCE_CLIENTS='a=secret,b=secret'`` → ``{"a": "secret", "b": "secret"}``."""
    pairs = (item.split("=", 1) for item in os.environ.get("XNONCE_CLIENTS", "").split(",") if item)
    return {name: secret for name, secret in pairs}


def create_app(secrets: xnonce.SecretSource | None = None) -> Flask:
    """The app; its clients are ``secrets``, else ``XNONCE_CLIENTS`` (what ``flask --app`` uses)."""
    if secrets is None:
        secrets = clients_from_env()
    app = Flask(__name__)
    # One Verifier per process: it holds the replay store that refuses a second copy. The
    # middleware answers refusals itself, as the reference server does.
    verifier = xnonce.Verifier(secrets, window_ms=30_000)
    app.wsgi_app = XNonceMiddleware(app.wsgi_app, verifier)  # type: ignore[method-assign]

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
    create_app().run()
