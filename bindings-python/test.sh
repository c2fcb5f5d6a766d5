#!/usr/bin/env bash
# bindings-python: builds and installs the `xnonce` package exactly as a user would
# (`pip install ./bindings-python`), then checks it: rustfmt + clippy, mypy.stubtest of the
# compiled module against its .pyi, ruff, mypy --strict, and pytest (every vector plus
# XNONCE_EXTRA_VECTORS, every error code, the verifier, the requests/httpx adapters, the
# middleware under Werkzeug and uvicorn, the Redis replay store against a real redis-server,
# and live tests against a real xnonce-server on 127.0.0.1).
#
# Env: XNONCE_PY_PROFILE=dev|release (default dev: fast, shares target/debug with cargo);
#      XNONCE_EXTRA_VECTORS=a.json:b.json (relative paths are taken from the caller's cwd).
set -euo pipefail
export CI="${CI:-true}" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 CARGO_TERM_COLOR=never

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"

# shellcheck source=SCRIPTDIR/../conformance/hook/absolute-paths.sh
source "$repo/conformance/hook/absolute-paths.sh"

step() { printf '\n--- python: %s\n' "$*"; }

step "tools"
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi
# tests/test_replay_store.py runs xnonce.redis against a real redis-server.
if ! command -v redis-server >/dev/null; then
  sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >/dev/null
fi
venv="$here/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
timeout 600 "$py" -m pip install -q -r "$here/requirements-dev.txt"

step "rust: fmt, clippy, and the server for the live tests"
cd "$repo"
cargo fmt -p xnonce-python -- --check
cargo clippy -q -p xnonce-python --all-targets -- -D warnings
# XNONCE_SERVER_BIN: a server built already (scripts/test.sh passes its rust part's).
[ -n "${XNONCE_SERVER_BIN:-}" ] || cargo build -q -p xnonce-server
# XNONCE_CONFORMANCE_BIN: the black-box server suite, run against the middlewares.
[ -n "${XNONCE_CONFORMANCE_BIN:-}" ] || cargo build -q -p xnonce-conformance

step "pip install ./bindings-python (profile ${XNONCE_PY_PROFILE:-dev})"
MATURIN_PEP517_ARGS="--profile ${XNONCE_PY_PROFILE:-dev}" \
  timeout 1200 "$py" -m pip install -q --force-reinstall --no-deps ./bindings-python

step "stubtest, ruff, mypy"
# From outside the source tree, so that `xnonce` is the installed package.
(cd "$(mktemp -d)" && "$py" -m mypy.stubtest xnonce._xnonce)
cd "$here"
"$venv/bin/ruff" format --check python tests bench examples
"$venv/bin/ruff" check python tests bench examples
# The project's other Python (the independent spec implementation, the Swift package's FFI
# checks, the README example check), under the root ruff.toml, with this pinned ruff.
(cd "$here/.." && git ls-files -z '*.py' ':!bindings-python' | xargs -0 "$venv/bin/ruff" format --check)
(cd "$here/.." && git ls-files -z '*.py' ':!bindings-python' | xargs -0 "$venv/bin/ruff" check)
"$py" -m mypy python/xnonce tests bench examples

step "pytest"
timeout 600 "$py" -m pytest tests -p no:cacheprovider -q

step "bench script runs (a smoke run of bench/bench_sign.py: debug build, numbers not kept)"
# Not a timing test: it proves the benchmark still runs, and that the binding and the
# reference signer agree on each case it times (it exits non-zero if they differ).
timeout 120 "$py" bench/bench_sign.py --budget 0.01 >/dev/null
echo "bench/bench_sign.py: ran"

step "extra-vectors hook (DESIGN §3): extra cases counted, a wrong case fails"
# shellcheck source=SCRIPTDIR/../conformance/hook/check.sh
source "$repo/conformance/hook/check.sh"
hook_check python timeout 300 "$py" -m pytest tests/test_vectors.py -p no:cacheprovider -q
