#!/usr/bin/env bash
# bindings-node: installs what it needs (npm packages of package-lock.json), builds the addon
# (debug: fast to compile; users' `npm install` builds release), checks the generated
# declarations are current, Rust fmt + clippy, tsc --noEmit over the typed examples,
# prettier --check, then `npm test` (node:test: every vector + XNONCE_EXTRA_VECTORS, every error
# code, Verifier, xnonceFetch and Requester live against xnonce-server), and finally the
# user's path: `npm install <this folder>` into a fresh project, then require() and import().
# Idempotent, non-interactive; exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=SCRIPTDIR/../conformance/hook/absolute-paths.sh
source "$root/conformance/hook/absolute-paths.sh"
cd "$here"
export CI=true CARGO_TERM_COLOR=never npm_config_yes=true npm_config_fund=false npm_config_audit=false

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "== installing Node.js and npm (Debian packages)"
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
node -e 'if (+process.versions.node.split(".")[0] < 18) { console.error("Node >= 18 needed, have " + process.version); process.exit(1) }'

# test/replay-store.test.js runs redisReplayStore against a real redis-server.
if ! command -v redis-server >/dev/null; then
  echo "== installing redis-server (apt-get)"
  sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >/dev/null
fi

echo "== bindings-node: Rust fmt + clippy"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
(cd "$root" && cargo fmt -p xnonce-node -- --check)
(cd "$root" && cargo clippy -q -p xnonce-node --all-targets -- -D warnings)

echo "== npm ci (pinned dev tools: typescript, prettier, @types/node)"
timeout 600 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

echo "== build the addon (debug) and check native.d.ts is current"
committed=$(mktemp)
cp native.d.ts "$committed"
# scripts/install.js runs the pinned @napi-rs/cli through npx, as a user's install does.
timeout 1200 node scripts/install.js --debug
if ! cmp -s "$committed" native.d.ts; then
  diff -u "$committed" native.d.ts || true
  echo "native.d.ts is stale: run 'npm run build' in bindings-node and commit it"
  rm -f "$committed"
  exit 1
fi
rm -f "$committed"

echo "== build xnonce-server for the live tests"
# XNONCE_SERVER_BIN: a server built already (scripts/test.sh passes its rust part's).
[ -n "${XNONCE_SERVER_BIN:-}" ] || (cd "$root" && timeout 1200 cargo build -q -p xnonce-server)
# XNONCE_CONFORMANCE_BIN: the black-box server suite, run against the middleware.
[ -n "${XNONCE_CONFORMANCE_BIN:-}" ] ||
  (cd "$root" && timeout 1200 cargo build -q -p xnonce-conformance)

echo "== tsc --noEmit (index.d.ts, native.d.ts, examples/typed.ts, examples/typed-esm.mts)"
npx tsc -p tsconfig.json
echo "tsc: ok"

echo "== prettier --check"
npx prettier --check . --log-level=warn
# The independent spec implementation's JS and the differential test shared with bindings-wasm
# (their own .prettierrc.json, the same settings).
npx prettier --check ../conformance/independent/xnonce_spec.mjs ../conformance/independent/differential.mjs \
  --log-level=warn
echo "prettier: ok"

echo "== npm test"
timeout 600 npm test --silent

echo "== extra-vectors hook (DESIGN §3): extra cases counted, a wrong case fails"
# shellcheck source=SCRIPTDIR/../conformance/hook/check.sh
source "$root/conformance/hook/check.sh"
hook_check node timeout 300 node --test test/vectors.test.js

echo "== bench script runs (a smoke run of bench/bench-sign.mjs: debug addon, numbers not kept)"
# Not a timing test: it proves the benchmark still runs, and that the addon and the reference
# signer agree on each case it times (it throws if they differ).
BENCH_ROUNDS=1 BENCH_SLICE_MS=5 timeout 120 node bench/bench-sign.mjs >/dev/null
echo "bench/bench-sign.mjs: ran"

echo "== the user's path: npm install $here into a fresh project"
# Remove the addon built above: the install step must build it again.
rm -f "$here/xnonce.node"
project=$(mktemp -d)
trap 'rm -rf "$project"' EXIT
(
  cd "$project"
  npm init -y >/dev/null
  # The install script fetches its pinned napi CLI with npx (no devDependencies here) and
  # builds; debug here so that cargo reuses the build above.
  XNONCE_NODE_PROFILE=debug timeout 900 npm install --no-audit --no-fund --loglevel=error "$here"
  node -e '
    const x = require("xnonce")
    const h = x.sign("v2", "GET", "/admin/status", { a: 1 }, "svc", "a".repeat(64), { host: "api.test" })
    if (!h.startsWith("v2 svc ")) throw new Error("bad header " + h)
    try { x.sign("v2", "GET", "/a/b", [], "svc", "short", { host: "h" }); throw new Error("no error") }
    catch (e) { if (!(e instanceof x.XNonceError) || e.code !== "invalid_secret") throw e }
    console.log("require(\"xnonce\"): ok")'
  node --input-type=module -e '
    import { sign, XNonceError } from "xnonce"
    const m = await import("xnonce")
    if (m.default.sign !== sign || typeof XNonceError !== "function") throw new Error("ESM exports differ")
    console.log("import(\"xnonce\"): ok")'
)
echo "bindings-node: all checks passed"
