#!/usr/bin/env bash
# Installs what xnonce-wasm needs (Chromium, npm packages, the pinned wasm-bindgen CLI),
# builds pkg/, and runs every check: cargo fmt/clippy/test, tsc, prettier, npm test
# (vectors in Node and in headless Chromium, end-to-end link test against xnonce-server).
set -euo pipefail
export CI=true
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=SCRIPTDIR/../conformance/hook/absolute-paths.sh
source "$root/conformance/hook/absolute-paths.sh"
cd "$here"

step() { printf '\n== xnonce-wasm: %s\n' "$*"; }
apt_quiet() { DEBIAN_FRONTEND=noninteractive timeout 600 apt-get "$@" -qq >/dev/null; }

step "system packages (chromium)"
if [ ! -x /usr/bin/chromium ]; then
  apt_quiet update
  apt_quiet install -y --no-install-recommends chromium fonts-dejavu-core
fi
/usr/bin/chromium --version 2>/dev/null

step "rust target wasm32-unknown-unknown"
rustup target list --installed | grep -qx wasm32-unknown-unknown || timeout 600 rustup target add wasm32-unknown-unknown

step "npm packages (playwright-core, typescript, binaryen, prettier)"
timeout 600 npm ci --no-audit --no-fund --loglevel=error

step "cargo fmt, clippy (native and wasm32), unit tests"
(cd "$root" && cargo fmt -p xnonce-wasm -- --check)
(cd "$root" && timeout 1200 cargo clippy -q -p xnonce-wasm --all-targets -- -D warnings)
(cd "$root" && timeout 1200 cargo clippy -q -p xnonce-wasm --lib --target wasm32-unknown-unknown -- -D warnings)
(cd "$root" && timeout 1200 cargo test -q -p xnonce-wasm)

step "xnonce-server for the end-to-end test"
# XNONCE_SERVER_BIN: a server built already (scripts/test.sh passes its rust part's).
[ -n "${XNONCE_SERVER_BIN:-}" ] || (cd "$root" && timeout 1200 cargo build -q -p xnonce-server)

step "build pkg/ (wasm-bindgen CLI pinned to Cargo.lock, wasm-opt from npm binaryen)"
timeout 1500 npm run -s build

step "tsc --noEmit over the typed examples"
timeout 300 npx tsc -p types-check/tsconfig.json

step "prettier --check"
timeout 300 npx prettier --check . --log-level warn

step "npm test (Node, headless Chromium, end to end)"
timeout 600 npm test -s

step "extra-vectors hook (DESIGN §3): counted in Node and Chromium, a wrong case fails"
# shellcheck source=SCRIPTDIR/../conformance/hook/check.sh
source "$root/conformance/hook/check.sh"
hook_check wasm-node,wasm-browser timeout 300 node test/run.mjs --vectors-only

node -e '
const s = require("./pkg/size.json");
console.log(`xnonce-wasm .wasm size: ${s.web_bindgen} bytes before wasm-opt, ${s.web_opt} bytes after (${(100 * (1 - s.web_opt / s.web_bindgen)).toFixed(0)}% smaller)`);
'
