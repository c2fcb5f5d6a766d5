#!/usr/bin/env bash
# The README's first command: start xnonce-server on embedded defaults in a temporary data
# dir, register a demo client, and walk through accepted, replayed, tampered and stale
# requests (both schemes) and a one-time link, made by the Rust requester. Installs nothing;
# builds with cargo (debug profile; set XNONCE_DEMO_PROFILE=release for a release build).
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${XNONCE_DEMO_PROFILE:-debug}"
cargo_flags=(-q)
[ "$profile" = release ] && cargo_flags+=(--release)

echo "Building xnonce-server and the demo (cargo build, $profile)..."
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
# XNONCE_SERVER_BIN / XNONCE_DEMO_BIN: binaries built already (scripts/test.sh passes its
# rust part's); otherwise built here.
server="${XNONCE_SERVER_BIN:-$target_dir/$profile/xnonce-server}"
demo="${XNONCE_DEMO_BIN:-$target_dir/$profile/examples/demo}"
[ -n "${XNONCE_SERVER_BIN:-}" ] || cargo build "${cargo_flags[@]}" -p xnonce-server --bin xnonce-server
[ -n "${XNONCE_DEMO_BIN:-}" ] || cargo build "${cargo_flags[@]}" -p xnonce --example demo

data="$(mktemp -d "${TMPDIR:-/tmp}/xnonce-demo.XXXXXX")"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$data"
}
trap cleanup EXIT INT TERM

# Register the demo client; the secret goes to a 0600 file, never to the terminal.
umask 077
# The registry and its key both live in the temporary dir: the demo leaves nothing behind
# (no ~/.config/xnonce/registry.key).
registry=(--data "$data/registry" --key-file "$data/registry.key")
# Its log (a new registry key made in the temporary dir) is shown only if it fails.
if ! "$server" client add demo "${registry[@]}" > "$data/demo.secret" 2> "$data/client-add.log"; then
    cat "$data/client-add.log" >&2
    exit 1
fi

# Start the server on a free loopback port and read its address from the first stdout line.
mkfifo "$data/out"
"$server" serve --demo --listen 127.0.0.1:0 "${registry[@]}" > "$data/out" 2> "$data/server.log" &
server_pid=$!
exec 3< "$data/out"
if ! read -r -t 30 first <&3; then
    echo "demo: the server did not start; its log:" >&2
    cat "$data/server.log" >&2
    exit 1
fi
cat <&3 > /dev/null &   # keep draining the server's stdout
base_url="${first#xnonce-server listening on }"
echo "Started: $first  (data dir $data/registry, client 'demo' registered)"

"$demo" --base-url "$base_url" --client demo --secret-file "$data/demo.secret"

echo
echo "Stopping the server."
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
echo "Done."
