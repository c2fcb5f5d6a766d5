"""The README's Python snippets: every module they use is imported, and the signing,
Requester and Flask snippets run (the Requester against the live server, the Flask app through
Flask's test client; test_examples.py runs the fuller examples/flask_app.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import xnonce
from conftest import Server

README = Path(__file__).resolve().parents[1] / "README.md"
MODULES = {"os", "sys", "json", "asyncio", "requests", "httpx", "xnonce", "flask", "fastapi"}
SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def snippet_with(text: str) -> str:
    (found,) = [s for s in snippets() if text in s]
    return found


def test_every_snippet_parses_and_imports_the_modules_it_uses() -> None:
    assert len(snippets()) >= 8
    for code in snippets():
        tree = ast.parse(code)
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.asname or a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported |= {a.asname or a.name for a in node.names}
        used = {
            n.value.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
        }
        # A snippet with imports is a complete one: it imports every module it uses.
        # (Fragments without any import only show calls.)
        if imported:
            assert not (used & MODULES) - imported, ((used & MODULES) - imported, code)


def test_signing_by_hand_snippet_runs() -> None:
    ns: dict[str, Any] = {"secret": SECRET}
    exec(snippet_with("sign_detailed("), ns)
    assert ns["header"].startswith("v2 billing ")
    assert ns["s"].nonce is None and ns["s"].timestamp == 1384300802123


def test_requester_snippet_runs_against_the_server(server: Server) -> None:
    code = snippet_with("xnonce.Requester(")
    code = code.replace("http://127.0.0.1:8080", server.url).replace(
        '"billing"', repr(server.client)
    )
    ns: dict[str, Any] = {
        "secret": server.secret,
        "params": {"username": "alice", "password": "pw", "opt1": "1", "opt3": "3"},
    }
    exec("import xnonce\n" + code, ns)
    assert ns["res"].code == 200, ns["res"].body
    assert ns["res"].data["opt3"] == "3"


def test_flask_snippet_accepts_a_signed_request_once(monkeypatch: Any) -> None:
    monkeypatch.setenv("BILLING_SECRET", SECRET)
    ns: dict[str, Any] = {"__name__": "readme_flask_app"}
    exec(snippet_with("from flask import"), ns)
    client = ns["app"].test_client()

    def signed(timestamp: int | None = None) -> dict[str, str]:
        header = xnonce.sign_request(
            "v2",
            "POST",
            "localhost",
            "/reports/create?kind=monthly",
            "billing",
            SECRET,
            timestamp=timestamp,
        )
        return {"X-Nonce": header}

    headers = signed()
    ok = client.post("/reports/create?kind=monthly", headers=headers)
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.json == {"client": "billing", "params": {"kind": "monthly"}}
    replay = client.post("/reports/create?kind=monthly", headers=headers)
    assert (replay.status_code, replay.get_json()["code"]) == (409, "replayed")
    stale = client.post("/reports/create?kind=monthly", headers=signed(timestamp=1))
    assert (stale.status_code, stale.get_json()["code"]) == (401, "expired")
    assert len(stale.headers["X-Nonce-Server-Time"].split(" ")) == 2


def test_first_request_snippet_runs_against_the_server(
    server: Server, monkeypatch: Any, capsys: Any
) -> None:
    code = snippet_with("print(r.status_code, r.json())")
    code = code.replace("http://127.0.0.1:8080", server.url).replace(
        '"billing"', repr(server.client)
    )
    monkeypatch.setenv("XNONCE_SECRET", server.secret)
    exec(code, {})
    assert capsys.readouterr().out == "200 {'opt1': '1', 'opt2': None}\n"


def test_by_hand_snippet_answers_refusals_with_the_servers_bytes() -> None:
    code = snippet_with("def handle(method, target, headers, body):")
    ns: dict[str, Any] = {}
    exec(code.replace("<64 hex secret>", SECRET), ns)
    target = "/reports/create?kind=monthly"
    header = xnonce.sign_request("v1", "POST", "api.test", target, "billing", SECRET)
    headers = {"Host": "api.test", "X-Nonce": header}
    assert ns["handle"]("POST", target, headers, b"") == (
        200,
        [("Content-Type", "text/plain")],
        b"hello billing",
    )
    assert ns["handle"]("POST", target, headers, b"") == (
        409,
        [("Content-Type", "text/plain")],
        b"ottoken already used",
    )
