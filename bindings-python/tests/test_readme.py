"""The README's Python snippets: every module they use is imported, and the signing,
Requester and Flask snippets run (the Requester against the live server, the Flask app through
Flask's test client; test_examples.py runs the fuller examples/flask_app.py), and mypy accepts
every snippet against the package's type stubs, as a user's type checker would read it."""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path
from typing import Any

import mypy.api
import pytest
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


def test_signing_by_hand_snippet_runs(monkeypatch: Any) -> None:
    monkeypatch.setenv("XNONCE_SECRET", SECRET)
    ns: dict[str, Any] = {}
    exec(snippet_with("sign_detailed("), ns)
    assert ns["header"].startswith("v2 billing ")
    assert ns["s"].nonce is None and ns["s"].timestamp == 1384300802123


def test_routes_snippet_runs(monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("BILLING_SECRET", SECRET)
    exec(snippet_with("action3_get"), {})
    assert capsys.readouterr().out == "missing_param Missing required parameter opt1\n"


def test_reconfigure_snippet_applies_a_config_file_or_changes_nothing(
    monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("BILLING_SECRET", SECRET)
    ns: dict[str, Any] = {}
    exec(snippet_with("verifier.reconfigure(**config)"), ns)
    verifier: xnonce.Verifier = ns["verifier"]
    ts = 1_700_000_000_000

    def outcome(scheme: str) -> str:
        header = xnonce.sign_request(
            scheme, "GET", "api.test", "/c/a", "billing", SECRET, timestamp=ts
        )
        try:
            verifier.verify("GET", "/c/a", host="api.test", x_nonce=header, now=ts)
        except xnonce.XNonceError as e:
            return e.code
        return "ok"

    config = tmp_path / "xnonce.json"
    config.write_text('{"window_ms": 60000, "schemes": ["v2"]}', encoding="utf-8")
    ns["reload"](str(config))
    assert (outcome("v1"), outcome("v2")) == ("unsupported_scheme", "ok")
    config.write_text('{"window_ms": 60000, "schemes": []}', encoding="utf-8")
    with pytest.raises(xnonce.XNonceError) as e:
        ns["reload"](str(config))
    assert e.value.code == "unsupported_scheme"
    assert (outcome("v1"), outcome("v2")) == ("unsupported_scheme", "ok")


def against(server: Server, snippet: str, monkeypatch: Any) -> str:
    """The snippet holding `snippet`, sent to `server` as its client."""
    monkeypatch.setenv("XNONCE_SECRET", server.secret)
    code = snippet_with(snippet)
    return code.replace("http://127.0.0.1:8080", server.url).replace(
        '"billing"', repr(server.client)
    )


def test_requester_snippet_runs_against_the_server(server: Server, monkeypatch: Any) -> None:
    ns: dict[str, Any] = {}
    exec(against(server, "xnonce.Requester(", monkeypatch), ns)
    assert ns["res"].code == 200, ns["res"].body
    assert ns["res"].data["opt3"] == "y"


def test_adapters_snippet_runs_against_the_server(
    server: Server, monkeypatch: Any, capsys: Any
) -> None:
    exec(against(server, "xnonce.httpx.XNonceAuth(", monkeypatch), {})
    assert capsys.readouterr().out.splitlines() == [
        "200 {'posted': 'POSTED!', 'opt1': 'x', 'opt2': None, 'opt3': 'y'}",
        "200",
        "200 {'opt1': 'x', 'opt2': 'y', 'username': None}",
    ]


def test_clock_correction_snippet_runs_against_the_server(
    server: Server, monkeypatch: Any, capsys: Any
) -> None:
    # A clock two minutes slow: the first request is stale, corrected and resent once.
    monkeypatch.setenv("XNONCE_CLOCK_OFFSET_MS", "-120000")
    ns: dict[str, Any] = {}
    exec(against(server, "XNONCE_CLOCK_OFFSET_MS", monkeypatch), ns)
    assert capsys.readouterr().out == "200 [401]\n"
    assert abs(ns["offset"]) < 5_000


def test_async_requester_snippet_runs_against_the_server(
    server: Server, monkeypatch: Any, capsys: Any
) -> None:
    exec(against(server, "xnonce.AsyncRequester(", monkeypatch), {})
    assert capsys.readouterr().out == f"{[200] * 10}\n"


def test_links_snippet_runs(monkeypatch: Any) -> None:
    monkeypatch.setenv("XNONCE_SECRET", SECRET)
    ns: dict[str, Any] = {}
    exec(snippet_with("xnonce.link("), ns)
    assert ns["url"].startswith("https://api.example.com/files/fetch?name=report.pdf&ottoken=")
    assert ns["d"].url.startswith("https://api.example.com/files/fetch?name=report.pdf&ottoken=")


def test_errors_snippet_logs_the_refusal(caplog: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("BILLING_SECRET", SECRET)
    exec(snippet_with("except xnonce.AuthError as e:"), {})
    assert [r.getMessage() for r in caplog.records] == ["refused malformed_header"]


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
    exec(against(server, 'XNonceAuth("billing", os.environ', monkeypatch), {})
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


#: What the fragments among the snippets use without defining it, and its type: any other
#: name a snippet uses without defining it is an error (a user copying it gets a NameError).
FRAGMENT_NAMES = {
    "session": "requests.Session",
    "auth": "xnonce.requests.XNonceAuth",
    "client": "httpx.Client",
    "url": "str",
    "app": "typing.Any",
    "verifier": "xnonce.Verifier",
    "XNonceMiddleware": "typing.Any",
}


def free_names(code: str) -> set[str]:
    """The names `code` reads but never binds (assigns, imports, defines), builtins aside."""
    tree = ast.parse(code)
    bound: set[str] = set()
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            bound |= (
                {a.arg for a in node.args.args} if not isinstance(node, ast.ClassDef) else set()
            )
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.comprehension):
            bound |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    return read - bound - set(dir(builtins))


def test_every_snippet_type_checks(tmp_path: Path) -> None:
    files = []
    for i, code in enumerate(snippets()):
        free = free_names(code)
        assert free <= FRAGMENT_NAMES.keys(), (free - FRAGMENT_NAMES.keys(), code)
        prelude = (
            "import typing\nimport httpx\nimport requests\nimport xnonce\nimport xnonce.requests\n"
        )
        prelude += "".join(f"{name}: {FRAGMENT_NAMES[name]}\n" for name in sorted(free))
        path = tmp_path / f"snippet_{i}.py"
        path.write_text(prelude + code, encoding="utf-8")
        files.append(str(path))
    # mypy's defaults (not this package's strict config: the snippets are a user's code,
    # unannotated), reading unannotated functions too. method-assign is off for Flask's own
    # documented idiom, `app.wsgi_app = Middleware(app.wsgi_app)`, which mypy flags anyway.
    settings = tmp_path / "mypy.ini"
    settings.write_text("[mypy]\n", encoding="utf-8")
    out, err, status = mypy.api.run(
        [
            f"--config-file={settings}",
            "--check-untyped-defs",
            "--no-incremental",
            "--ignore-missing-imports",
            "--disable-error-code=method-assign",
            *files,
        ]
    )
    assert status == 0, out + err
