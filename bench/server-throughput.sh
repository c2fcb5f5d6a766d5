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
# The server logs at `info`, its default, whatever RUST_LOG says: at `debug` it writes a line
# per accepted request, on the verified route only, which would be measured as the layer's
# cost. XNONCE_BENCH_RUST_LOG=FILTER runs it with another filter on purpose.
#
# --wrk [ROUNDS]: the same comparison with wrk (Debian's package, installed if missing) as the
# load generator instead, a cross-check by a tool this project did not write: per round the
# load generator only signs (loadgen --emit) a file of unique requests per route, and wrk
# (1 thread, 32 connections, 1 s, bench/wrk-presigned.lua) sends each once, after one warm-up
# round per route that is printed but not counted.
set -euo pipefail
cd "$(dirname "$0")/.."

wrk_rounds=""
if [ "${1:-}" = "--wrk" ]; then
    wrk_rounds="${2:-11}"
    # A count, and nothing else: the load generator's options do not apply to wrk.
    if [ $# -gt 2 ] || ! [[ "$wrk_rounds" =~ ^[0-9]+$ ]] || [ "$((10#$wrk_rounds))" -lt 1 ]; then
        echo "usage: $0 --wrk [ROUNDS]   (ROUNDS >= 1, default 11; no other arguments)" >&2
        exit 2
    fi
    command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
fi

echo "Building xnonce-server and the load generator (release)..."
cargo build -q --release -p xnonce-server --bin xnonce-server
cargo build -q --release -p xnonce --example loadgen
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
server="${XNONCE_BENCH_SERVER:-$target_dir/release/xnonce-server}"
loadgen="$target_dir/release/examples/loadgen"
pin_server=() pin_loadgen=() client_args=() not_pinned=""
if [ -n "${XNONCE_BENCH_NO_PIN:-}" ]; then
    not_pinned="XNONCE_BENCH_NO_PIN is set"
elif [ "$(nproc)" -lt 2 ]; then
    not_pinned="$(nproc) CPU available to this script"
elif ! command -v taskset >/dev/null; then
    not_pinned="no taskset (util-linux)"
fi
if [ -z "$not_pinned" ]; then
    pin_server=(taskset -c 0) pin_loadgen=(taskset -c 1)
else
    # The default client busy-polls: without a CPU of its own it would take the server's.
    client_args=(--http raw)
fi

data="$(mktemp -d "${TMPDIR:-/tmp}/xnonce-bench.XXXXXX")"
server_pid="" loadgen_pid=""
cleanup() {
    if [ -n "$loadgen_pid" ] && kill -0 "$loadgen_pid" 2>/dev/null; then
        kill "$loadgen_pid" 2>/dev/null || true
        wait "$loadgen_pid" 2>/dev/null || true
    fi
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$data"
}
# INT and TERM end the run (cleanup runs on EXIT): a trap that only cleaned up let the
# script go on, and bash runs it only once the command in the foreground has ended.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

umask 077
registry=(--data "$data/registry" --key-file "$data/registry.key")   # nothing in ~/.config
"$server" client add bench "${registry[@]}" > "$data/bench.secret"
mkfifo "$data/out"
log_filter="${XNONCE_BENCH_RUST_LOG:-info}"
RUST_LOG="$log_filter" "${pin_server[@]}" "$server" serve --demo --bench-mirror --listen 127.0.0.1:0 "${registry[@]}" \
    > "$data/out" 2> "$data/server.log" &
server_pid=$!
exec 3< "$data/out"
read -r -t 30 first <&3 || { cat "$data/server.log" >&2; exit 1; }
cat <&3 > /dev/null &
base_url="${first#xnonce-server listening on }"

echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -sr)"
if [ -z "$not_pinned" ]; then
    echo "server pinned to CPU 0, load generator to CPU 1"
else
    echo "NOT pinned ($not_pinned): the server and the load generator share the CPUs"
fi
echo "server log filter: $log_filter"
if [ -z "$wrk_rounds" ]; then
    # In the background, so that a signal is handled at once (`wait` returns), not after the run.
    "${pin_loadgen[@]}" "$loadgen" --base-url "$base_url" --client bench --secret-file "$data/bench.secret" \
        --server-pid "$server_pid" "${client_args[@]}" "$@" &
    loadgen_pid=$!
    status=0
    wait "$loadgen_pid" || status=$?
    loadgen_pid=""
    exit "$status"
fi

# Server CPU time so far, in ns, read as the load generator's rounds read it: once none of the
# server's threads is running (a running thread's time is up to a scheduler tick behind), from
# the process's CPU clock (which keeps the time of threads that exited).
server_cpu_ns() { "${pin_loadgen[@]}" "$loadgen" --server-cpu-ns "$server_pid"; }
# The middle value, or the mean of the two middle values of an even count.
median() { sort -g | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); print (NR % 2 ? v[m] : (v[m] + v[m + 1]) / 2) }'; }
path=/controller1/action1
# One route for one second: prints "req/s server-µs-per-request"; fails on any non-2xx answer
# or socket error (a run that ran out of signed requests, or a refusal).
wrk_route() {
    local prefix=$1 file=$2 before after out n rps
    before=$(server_cpu_ns)
    out=$("${pin_loadgen[@]}" wrk -t1 -c32 -d1s -s bench/wrk-presigned.lua "$base_url" -- "$prefix$path" "$file")
    after=$(server_cpu_ns)
    if grep -q -E "Non-2xx|Socket errors" <<<"$out"; then
        echo "wrk: not every answer was 2xx on $prefix$path:" >&2
        echo "$out" >&2
        return 1
    fi
    n=$(awk '/requests in/ { print $1 }' <<<"$out")
    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
    awk -v r="$rps" -v c="$((after - before))" -v n="$n" 'BEGIN { printf "%.0f %.2f\n", r, c / n / 1000 }'
}
echo "wrk: $wrk_rounds rounds of 1 s per route (1 thread, 32 connections), unique pre-signed v2 requests, after a warm-up round"
ratios=() cpu_ratios=() costs=()
# Round 0 warms up (connections, the server's allocator and caches, as the load generator's
# own warm-up does) and is printed but left out of the medians.
for r in $(seq 0 "$wrk_rounds"); do
    for route in unverified verified; do
        # 300,000 for a second of wrk: more than this server answers, so none is sent twice.
        "$loadgen" --base-url "$base_url" --client bench --secret-file "$data/bench.secret" \
            --requests 300000 --emit "$data/$route.txt"
    done
    order=(unverified verified)
    [ $((r % 2)) -eq 0 ] && order=(verified unverified)
    for route in "${order[@]}"; do
        prefix=""
        [ "$route" = unverified ] && prefix=/_bench/unverified
        read -r rps cpu < <(wrk_route "$prefix" "$data/$route.txt") || exit 1
        label="round $(printf %2d "$r")"
        [ "$r" -eq 0 ] && label="warm-up "
        printf '  %s %-10s %8.0f req/s  server CPU %6.2f µs/request\n' "$label" "$route" "$rps" "$cpu"
        declare "${route}_rps=$rps" "${route}_cpu=$cpu"
    done
    [ "$r" -eq 0 ] && continue
    ratios+=("$(awk -v v="$verified_rps" -v u="$unverified_rps" 'BEGIN { print 1 - v / u }')")
    cpu_ratios+=("$(awk -v v="$verified_cpu" -v u="$unverified_cpu" 'BEGIN { print 1 - u / v }')")
    costs+=("$(awk -v v="$verified_cpu" -v u="$unverified_cpu" 'BEGIN { print v - u }')")
done
printf 'wrk: verification + replay check + route rules cost %.1f%% of throughput, %.1f%% of server capacity (medians of per-round ratios); layer cost %.2f µs of server CPU per request\n' \
    "$(printf '%s\n' "${ratios[@]}" | median | awk '{ print $1 * 100 }')" \
    "$(printf '%s\n' "${cpu_ratios[@]}" | median | awk '{ print $1 * 100 }')" \
    "$(printf '%s\n' "${costs[@]}" | median)"
