"""Binding ``xnonce.sign`` vs the plain-Python reference signer (hashlib/hmac), same run.

The reference is ``conformance/independent/xnonce_spec.py``, an independent implementation
written from docs/PROTOCOL.md; both must produce the same header before anything is timed.

    python bench/bench_sign.py            # table on stdout
    python bench/bench_sign.py --markdown # the table for docs/BENCHMARKS.md

Numbers only mean something for a release build (`pip install ./bindings-python`).
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import timeit
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import xnonce

REPO = Path(__file__).resolve().parents[2]
SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
TS = 1_700_000_000_000
NONCE = "00112233445566778899aabbccddeeff"
PARAMS = [("username", "alice"), ("password", "s3cret pass"), ("opt1", "résumé & more")]
JSON_BODY = (
    b'{"items": [' + b", ".join(b'{"id": %d, "name": "item"}' % i for i in range(40)) + b"]}"
)

# name, scheme, method, path, params, kwargs
CASES: list[tuple[str, str, str, str, list[tuple[str, str]], dict[str, Any]]] = [
    ("v1, 3 params", "v1", "GET", "/controller1/action1", PARAMS, {}),
    (
        "v2, 3 params",
        "v2",
        "GET",
        "/controller1/action1",
        PARAMS,
        {"host": "api.example.com", "nonce": NONCE},
    ),
    (
        f"v2, JSON body {len(JSON_BODY)} B",
        "v2",
        "POST",
        "/controller2/action1",
        PARAMS[:1],
        {"host": "api.example.com", "nonce": NONCE, "body": JSON_BODY},
    ),
]


def load_reference() -> ModuleType:
    path = REPO / "conformance" / "independent" / "xnonce_spec.py"
    spec = importlib.util.spec_from_file_location("xnonce_spec", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["xnonce_spec"] = module
    spec.loader.exec_module(module)
    return module


def paired_us(
    a: Callable[[], object], b: Callable[[], object], budget_s: float
) -> tuple[float, float]:
    """Best per-call time of `a` and of `b`, measured in alternating rounds so that both see
    the same machine load (CI machines are shared)."""
    ta, tb = timeit.Timer(a), timeit.Timer(b)
    number = max(ta.autorange()[0], tb.autorange()[0]) // 4 or 1
    best_a = best_b = float("inf")
    rounds = max(10, int(budget_s / 0.05))
    for _ in range(rounds):
        best_a = min(best_a, ta.timeit(number) / number)
        best_b = min(best_b, tb.timeit(number) / number)
    return best_a * 1e6, best_b * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds per case (about)")
    ap.add_argument("--min-ratio", type=float, default=0.0, help="exit 1 if a ratio is lower")
    args = ap.parse_args()
    ref = load_reference()
    rows = []
    for name, scheme, method, path, params, kw in CASES:
        fast = xnonce.sign(scheme, method, path, params, "svc", SECRET, timestamp=TS, **kw)
        slow = ref.sign(scheme, method, path, params, "svc", SECRET, timestamp=TS, **kw)
        if fast != slow:
            raise SystemExit(f"{name}: the binding and the reference disagree:\n {fast}\n {slow}")
        args_ = (scheme, method, path, params, "svc", SECRET)
        t_bind, t_ref = paired_us(
            partial(xnonce.sign, *args_, timestamp=TS, **kw),
            partial(ref.sign, *args_, timestamp=TS, **kw),
            args.budget,
        )
        rows.append((name, t_bind, t_ref, t_ref / t_bind))
    where = f"CPython {platform.python_version()}, {platform.machine()}, {platform.system()}"
    if args.markdown:
        print("| case | `xnonce.sign` (µs/call) | plain Python (µs/call) | speed-up |")
        print("| --- | ---: | ---: | ---: |")
        for name, b, r, x in rows:
            print(f"| {name} | {b:.2f} | {r:.2f} | {x:.1f}x |")
        print(f"\n({where})")
    else:
        print(f"{'case':<24} {'binding µs':>11} {'reference µs':>13} {'speed-up':>9}   ({where})")
        for name, b, r, x in rows:
            print(f"{name:<24} {b:>11.2f} {r:>13.2f} {x:>8.1f}x")
    worst = min(x for *_, x in rows)
    if worst < args.min_ratio:
        print(f"speed-up {worst:.1f}x is below the target {args.min_ratio:.1f}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
