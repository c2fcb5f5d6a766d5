#!/usr/bin/env bash
# Server throughput: the verified demo route GET /controller1/action1 vs the same demo handler
# served without verification (/_bench/unverified/controller1/action1, --bench-mirror) by the
# same release-built xnonce-server, in one run, on 127.0.0.1: the difference is the
# XNonceLayer alone. Extra arguments go to the load generator
# (client-rs/examples/loadgen.rs), e.g. --requests 20000 --concurrency 32 --rounds 3.
#
# With two or more CPUs the server is pinned to CPU 0 and the load generator to CPU 1
# (taskset), so they do not take each other's time and the generator (raw HTTP/1.1 from a
# thread that busy-polls its sockets, a few µs per request) keeps the server's core busy:
# req/s is then the server's throughput. Unpinned, the generator uses its sleeping client
# (--http raw) so as not to take the server's CPU.
# XNONCE_BENCH_SERVER=/path/to/xnonce-server measures another build (e.g. the previous
# commit's) with the same load generator.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "Building xnonce-server and the load generator (release)..."
cargo build -q --release -p xnonce-server --bin xnonce-server
cargo build -q --release -p xnonce --example loadgen
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
server="${XNONCE_BENCH_SERVER:-$target_dir/release/xnonce-server}"
loadgen="$target_dir/release/examples/loadgen"
pin_server=() pin_loadgen=() client_args=()
if [ -z "${XNONCE_BENCH_NO_PIN:-}" ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_server=(taskset -c 0) pin_loadgen=(taskset -c 1)
else
    # The default client busy-polls: without a CPU of its own it would take the server's.
    client_args=(--http raw)
fi

data="$(mktemp -d "${TMPDIR:-/tmp}/xnonce-bench.XXXXXX")"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$data"
}
trap cleanup EXIT INT TERM

umask 077
"$server" client add bench --data "$data" > "$data/bench.secret"
mkfifo "$data/out"
RUST_LOG="${RUST_LOG:-info}" "${pin_server[@]}" "$server" serve --demo --bench-mirror --listen 127.0.0.1:0 --data "$data" \
    > "$data/out" 2> "$data/server.log" &
server_pid=$!
exec 3< "$data/out"
read -r -t 30 first <&3 || { cat "$data/server.log" >&2; exit 1; }
cat <&3 > /dev/null &
base_url="${first#xnonce-server listening on }"

echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -sr)"
[ ${#pin_server[@]} -eq 0 ] || echo "server pinned to CPU 0, load generator to CPU 1"
"${pin_loadgen[@]}" "$loadgen" --base-url "$base_url" --client bench --secret-file "$data/bench.secret" \
    --server-pid "$server_pid" "${client_args[@]}" "$@"
