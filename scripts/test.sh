#!/usr/bin/env bash
# The one test command (README): installs what it needs, then runs every check in every language.
# `.ci/run` calls exactly this. Each section prints its own results; any failure stops the run red.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

section() { printf '\n===== %s =====\n' "$*"; }

section "rust: format and lints"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

section "rust: tests (core, client, conformance vectors)"
set +e
cargo test -- --nocapture > /tmp/xnonce-cargo-test.log 2>&1
status=$?
set -e
grep -E '^(test result|rust: [0-9]+ vectors)' /tmp/xnonce-cargo-test.log || true
if [ "$status" -ne 0 ]; then tail -100 /tmp/xnonce-cargo-test.log; exit "$status"; fi
grep -qE '^rust: [0-9]+ vectors passed' /tmp/xnonce-cargo-test.log

section "rust: generated vectors are current"
cargo run -q -p xnonce-conformance -- generate --check

section "rust: core builds for wasm32-unknown-unknown"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
cargo build -q -p xnonce-core --no-default-features --target wasm32-unknown-unknown

section "rust: benchmarks compile"
cargo bench -q -p xnonce-core --no-run

echo
echo "all tests passed"
