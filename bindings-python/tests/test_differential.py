"""Randomized differential tests: the binding (= core) against the independent implementation.

``conformance/independent/xnonce_spec.py`` was written from docs/PROTOCOL.md alone. Here both
sides get the same random inputs, mostly valid (~70 % of the cases) with the spec's tricky
corners, the rest with one or two inputs spoilt, and must agree: both succeed with
byte-identical results (X-Nonce header, ottoken, canonical string, link URL, parsed header
fields, server time), or both refuse with the same error code.

    XNONCE_DIFF_SEED=123 XNONCE_DIFF_CASES=20000 pytest tests/test_differential.py

The generator, the spec's side, shrinking and the run loop are shared with the uniffi
bindings' differential checks: ``conformance/independent/differential.py``. Here is the
binding's side. Every case draws from its own ``random.Random(f"{seed}:{operation}:{index}")``,
so a failure message (which names seed, operation and index, and shows the inputs, shrunk) is
reproducible whatever the case count.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import xnonce

REPO = Path(__file__).resolve().parents[2]


def _load_differential() -> ModuleType:
    path = REPO / "conformance" / "independent" / "differential.py"
    spec = importlib.util.spec_from_file_location("xnonce_differential", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


D = _load_differential()
SEED, CASES = D.settings_from_env(3000)

Outcome = tuple[str, Any]  # ("ok", comparable result) | ("err", code) | ("exc", type name)


def run(fn: Callable[[], Any]) -> Outcome:
    return D.run(fn, xnonce.XNonceError)  # type: ignore[no-any-return]


def binding_sign(c: dict[str, Any]) -> Outcome:
    args = (c["scheme"], c["method"], c["path"], c["params"], c["client"], c["secret"])
    kw = {"timestamp": c["timestamp"], "nonce": c["nonce"], "host": c["host"]}

    def binding() -> Any:
        d = xnonce.sign_detailed(*args, **kw, body=c["body"])
        assert xnonce.sign(*args, **kw, body=c["body"]) == d.x_nonce
        return {
            "x_nonce": d.x_nonce,
            "ottoken": d.ottoken,
            "ottoken_query_value": xnonce.ottoken_query_value(d.ottoken),
            "canonical": d.canonical,
            "timestamp": d.timestamp,
            "nonce": d.nonce,
        }

    return run(binding)


def binding_link(c: dict[str, Any]) -> Outcome:
    args = (c["scheme"], c["method"], c["path"], c["params"], c["client"], c["secret"])
    kw = {"timestamp": c["timestamp"], "nonce": c["nonce"], "host": c["host"]}

    def binding() -> Any:
        d = xnonce.link_detailed(*args, c["base_url"], **kw, body=c["body"])
        assert xnonce.link(*args, c["base_url"], **kw, body=c["body"]) == d.url
        s = d.signed
        return {
            "link": d.url,
            "x_nonce": s.x_nonce,
            "ottoken": s.ottoken,
            "canonical": s.canonical,
            "timestamp": s.timestamp,
            "nonce": s.nonce,
        }

    return run(binding)


def binding_parse_header(c: dict[str, Any]) -> Outcome:
    def binding() -> Any:
        p = xnonce.parse_header(c["value"])
        return (p.scheme, p.client, p.timestamp, p.nonce, p.mac)

    return run(binding)


def binding_ottoken(c: dict[str, Any]) -> Outcome:
    v = c["value"]
    if c["op"] == "encode":
        return run(lambda: xnonce.ottoken_encode(v))
    if c["op"] == "decode":
        return run(lambda: xnonce.ottoken_decode(v))
    return run(lambda: xnonce.ottoken_query_value(v))


def binding_server_time(c: dict[str, Any]) -> Outcome:
    return run(
        lambda: xnonce.server_time_from_answer(c["status"], c["hint"], c["sent"], c["secret"])
    )


def binding_sign_request(c: dict[str, Any]) -> Outcome:
    args = (c["scheme"], c["method"], c["host"], c["target"], c["client"], c["secret"])
    kw = {k: c[k] for k in ("content_type", "body", "timestamp", "nonce")}
    return run(lambda: xnonce.sign_request(*args, **kw))


BINDING: dict[str, Callable[[dict[str, Any]], Outcome]] = {
    "sign": binding_sign,
    "link": binding_link,
    "parse_header": binding_parse_header,
    "ottoken": binding_ottoken,
    "server_time": binding_server_time,
    "sign_request": binding_sign_request,
}


def test_every_operation_has_a_binding_side() -> None:
    assert set(BINDING) == set(D.OPERATIONS)


@pytest.mark.parametrize("name", list(D.OPERATIONS))
def test_differential(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        summary = D.run_operation(name, BINDING[name], SEED, CASES)
    except D.Divergence as e:
        pytest.fail(str(e), pytrace=False)
    with capsys.disabled():
        print("\n" + summary.line())
    assert summary.enough_accepted(), (
        f"{name}: only {summary.accepted} of {summary.cases} cases accepted by both: the"
        " generator hardly exercises real signing"
    )
