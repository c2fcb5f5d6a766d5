"""Shared fixtures: the vector files (DESIGN §3) and a live ``xnonce-server``."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
VECTORS_DIR = REPO / "conformance" / "vectors"


def vector_files() -> list[Path]:
    """Every ``conformance/vectors/*.json`` plus every path in ``XNONCE_EXTRA_VECTORS``."""
    files = sorted(VECTORS_DIR.glob("*.json"))
    extra = os.environ.get("XNONCE_EXTRA_VECTORS", "")
    files += [Path(p) for p in extra.split(":") if p]
    return files


def load_file(f: Path) -> list[Any]:
    """The cases of one vector file; one that is not JSON, or not an array, is a ValueError
    naming it (not a TypeError of the loop below, naming no file)."""
    try:
        cases = json.loads(f.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"vector file {f}: {e}") from None
    if not isinstance(cases, list):
        raise ValueError(f"vector file {f}: not a JSON array of cases")
    return cases


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for f in vector_files():
        # A case that is not an object, or has no text id, still runs (and fails by shape).
        for i, case in enumerate(load_file(f)):
            cid = case.get("id") if isinstance(case, dict) else None
            cases.append((f"{f.name}:{cid if isinstance(cid, str) else f'#{i}'}", case))
    return cases


# ---- the `python: N vectors passed` line (printed even under pytest's output capture) ----

_vector_results = {"passed": 0, "failed": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "test_vector[" in report.nodeid:
        _vector_results["passed" if report.passed else "failed"] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    passed, failed = _vector_results["passed"], _vector_results["failed"]
    if passed and not failed:
        terminalreporter.write_line(f"python: {passed} vectors passed")
    elif passed or failed:
        terminalreporter.write_line(f"python: {failed} of {passed + failed} vectors FAILED")


# ---- a real xnonce-server on 127.0.0.1 ----


@dataclass
class Server:
    """A running ``xnonce-server serve --demo`` and a registered client."""

    url: str
    host: str
    client: str
    secret: str


def _binary(name: str, env: str) -> str:
    """The workspace binary ``name``, or the one the environment variable ``env`` names."""
    path = os.environ.get(env, str(REPO / "target" / "debug" / name))
    if not Path(path).is_file():
        pytest.fail(f"{path} is missing: run `cargo build -p {name}` first")
    return path


def _server_binary() -> str:
    return _binary("xnonce-server", "XNONCE_SERVER_BIN")


def conformance_binary() -> str:
    """The `xnonce-conformance` binary (its black-box server suite)."""
    return _binary("xnonce-conformance", "XNONCE_CONFORMANCE_BIN")


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    binary = _server_binary()
    # The data dir and, beside it, the registry key: never the user's ~/.config/xnonce key.
    base = tempfile.mkdtemp(prefix="xnonce-py-")
    registry = ["--data", str(Path(base, "data")), "--key-file", str(Path(base, "registry.key"))]
    try:
        secret = subprocess.run(
            [binary, "client", "add", "py_client", *registry],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        proc = subprocess.Popen(
            [binary, "serve", "--demo", "--listen", "127.0.0.1:0", *registry],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()

        def drain() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)

        threading.Thread(target=drain, daemon=True).start()
        try:
            first = lines.get(timeout=30)
        except queue.Empty:
            proc.kill()
            pytest.fail("xnonce-server printed nothing within 30 s")
        prefix = "xnonce-server listening on "
        assert first.startswith(prefix), first
        url = first[len(prefix) :].strip()
        try:
            yield Server(url=url, host=url.split("://", 1)[1], client="py_client", secret=secret)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(base, ignore_errors=True)
