#!/usr/bin/env bash
# client-rs (crate `xnonce`): format, lints, and every test (unit, doc, live against real
# xnonce-server processes on 127.0.0.1, the CLI through every shared vector).
# Needs only Rust (cargo); the tests build xnonce-server themselves.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../conformance/hook/absolute-paths.sh
source "$(dirname "$0")/../conformance/hook/absolute-paths.sh"
cd "$(dirname "$0")/.."
export CI=true CARGO_TERM_COLOR=never
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt -p xnonce -- --check
cargo clippy -q -p xnonce --all-targets -- -D warnings
cargo build -q -p xnonce-server --bin xnonce-server
set +e
timeout 900 cargo test -p xnonce -- --nocapture > /tmp/xnonce-client-rs-test.log 2>&1
status=$?
set -e
grep -E '^(test result|xnonce CLI: [0-9]+ vectors)' /tmp/xnonce-client-rs-test.log || true
if [ "$status" -ne 0 ]; then tail -80 /tmp/xnonce-client-rs-test.log; exit "$status"; fi
grep -qE '^xnonce CLI: [0-9]+ vectors passed' /tmp/xnonce-client-rs-test.log
echo "client-rs: all tests passed"
