"""The README's Flask example, run for real (Flask's test client; requests signed by
`xnonce.sign_request`, exactly what the HTTP adapters call)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import xnonce

from examples.flask_app import create_app

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"


def test_flask_example_accepts_signed_requests_once() -> None:
    app = create_app({"billing": SECRET})
    client = app.test_client()
    body = json.dumps({"year": 2026}).encode()
    header = xnonce.sign_request(
        "v2",
        "POST",
        "localhost",
        "/reports/create?kind=monthly",
        "billing",
        SECRET,
        content_type="application/json",
        body=body,
    )
    headers = {"X-Nonce": header, "Content-Type": "application/json"}
    ok = client.post("/reports/create?kind=monthly", data=body, headers=headers)
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.json == {"client": "billing", "params": {"kind": "monthly"}, "json": {"year": 2026}}
    replay = client.post("/reports/create?kind=monthly", data=body, headers=headers)
    assert replay.status_code == 409 and replay.get_json()["code"] == "replayed"
    assert replay.headers["Content-Type"] == "application/problem+json"
    # No credential: answered like em-secure-api (the style a v1 client expects).
    unsigned = client.post("/reports/create")
    assert (unsigned.status_code, unsigned.text) == (401, "Method or nonce not provided")


def test_flask_example_sends_the_server_time_when_stale() -> None:
    client = create_app({"billing": SECRET}).test_client()
    stale = xnonce.sign_request(
        "v2", "POST", "localhost", "/reports/create", "billing", SECRET, timestamp=1
    )
    res = client.post("/reports/create", headers={"X-Nonce": stale})
    assert res.status_code == 401 and res.get_json()["code"] == "expired"
    assert len(res.headers["X-Nonce-Server-Time"].split(" ")) == 2


def test_the_documented_flask_command_finds_the_app() -> None:
    # The docstring's `flask --app flask_app run`, with `routes` in place of `run`: Flask
    # calls `create_app()` without arguments, so the clients come from XNONCE_CLIENTS.
    env = {**os.environ, "XNONCE_CLIENTS": f"billing={SECRET}"}
    examples = Path(__file__).resolve().parent.parent / "examples"
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "flask_app", "routes"],
        cwd=examples,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "/reports/create" in done.stdout
