#!/usr/bin/env bash
# Runs the two independent implementations of docs/PROTOCOL.md (plain Python, plain JS)
# against every conformance vector (plus XNONCE_EXTRA_VECTORS). Needs only python3 (>= 3.9)
# and node (>= 18); installs nothing. Exits non-zero on any failure.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../hook/absolute-paths.sh
source "$(dirname "$0")/../hook/absolute-paths.sh"
cd "$(dirname "$0")"

command -v python3 >/dev/null || { echo "independent: python3 is required" >&2; exit 1; }
command -v node >/dev/null || { echo "independent: node is required" >&2; exit 1; }

# Formatting and lint: bindings-python/test.sh runs its pinned ruff over xnonce_spec.py and
# differential.py (the root ruff.toml), bindings-node/test.sh its pinned prettier over
# xnonce_spec.mjs and differential.mjs (the .prettierrc.json here); node --check always.
# differential.mjs itself runs in the Node and WASM packages' tests, differential.py in the
# Python package's, the Swift package's (uniffi's Python bindings) and the Kotlin package's
# (they need a binding).
node --check xnonce_spec.mjs
node --check differential.mjs

timeout 300 python3 xnonce_spec.py
timeout 300 node xnonce_spec.mjs

# The extra-vectors hook (DESIGN §3): extra cases counted, a wrong case fails.
# shellcheck source=SCRIPTDIR/../hook/check.sh
source ../hook/check.sh
hook_check spec-python timeout 300 python3 xnonce_spec.py
hook_check spec-js timeout 300 node xnonce_spec.mjs
