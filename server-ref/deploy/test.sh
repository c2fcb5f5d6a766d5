#!/usr/bin/env bash
# Checks the systemd unit (xnonce-server.service) and its config (server.toml) against the
# binary being tested, without systemd running (as in CI containers):
#   1. `systemd-analyze verify` accepts the unit (its ExecStart pointed at the tested binary);
#   2. `systemd-analyze security --offline` rates its exposure "OK" (at most 2.5 of 10);
#   3. the unit's ExecStart command line and the config serve (paths moved into a temporary
#      root, listening on a free loopback port); the README's `client add … --config` adds a
#      client the running server accepts a signed request from, at once; the registry key is
#      mode 0600; SIGTERM stops the server with status 0 within the unit's TimeoutStopSec.
# Installs systemd's tools (apt-get) when systemd-analyze is missing. Exits non-zero on any
# failure. Binaries: $XNONCE_SERVER_BIN and $XNONCE_CLI_BIN, else built (debug).
set -euo pipefail
cd "$(dirname "$0")/../.."
here="server-ref/deploy"

if ! command -v systemd-analyze >/dev/null; then
  echo "== installing systemd's tools (apt-get), for systemd-analyze"
  sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd >/dev/null
fi
server=${XNONCE_SERVER_BIN:-}
cli=${XNONCE_CLI_BIN:-}
if [ -z "$server" ] || [ -z "$cli" ]; then
  cargo build -q -p xnonce-server -p xnonce --bin xnonce-server --bin xnonce
  server=${server:-target/debug/xnonce-server} cli=${cli:-target/debug/xnonce}
fi
server=$(realpath "$server") cli=$(realpath "$cli")

root=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$root"
}
trap cleanup EXIT

unit=$here/xnonce-server.service
value() { sed -n "s/^$1=//p" "$unit"; }
exec_start=$(value ExecStart)
read -r -a argv <<< "$exec_start"
[ "${argv[0]}" = /usr/local/bin/xnonce-server ] || { echo "unexpected ExecStart: $exec_start"; exit 1; }

echo "-- systemd-analyze verify"
mkdir -p "$root/etc/xnonce" "$root/unit"
# Unit names are checked against the file name: keep it.
sed -e "s#^ExecStart=/usr/local/bin/xnonce-server #ExecStart=$server #" \
  -e "s#/etc/xnonce/server.toml#$root/etc/xnonce/server.toml#" "$unit" > "$root/unit/xnonce-server.service"
systemd-analyze verify "$root/unit/xnonce-server.service"

echo "-- systemd-analyze security --offline (exposure at most 2.5)"
systemd-analyze security --offline=yes --threshold=25 "$root/unit/xnonce-server.service" |
  tail -1

echo "-- the unit's command line and config serve; client add reaches the running server"
state=$root/var/lib/xnonce
mkdir -p "$state" && chmod 0700 "$state"   # what StateDirectory= makes
sed -e "s#/var/lib/xnonce#$state#g" -e 's#^listen = .*#listen = "127.0.0.1:0"#' \
  "$here/server.toml" > "$root/etc/xnonce/server.toml"
grep -q "^data_dir = \"$state/data\"" "$root/etc/xnonce/server.toml"
args=("${argv[@]:1}")
args=("${args[@]/\/etc\/xnonce\/server.toml/$root/etc/xnonce/server.toml}")
: > "$root/stdout"
(umask 0077 && exec "$server" "${args[@]}" > "$root/stdout" 2> "$root/server.log") &
pid=$!
url=
for _ in $(seq 1 200); do
  url=$(sed -n 's/^xnonce-server listening on //p' "$root/stdout" | head -1)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$root/server.log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "server did not start"; cat "$root/server.log"; exit 1; }
# README: sudo -u xnonce xnonce-server client add billing --config /etc/xnonce/server.toml
"$server" client add billing --config "$root/etc/xnonce/server.toml" > "$root/secret"
[ "$(stat -c %a "$state/registry.key")" = 600 ] || { echo "registry key is not 0600"; exit 1; }
answer=$("$cli" request --path /orders/list --param page=1 --client billing \
  --secret-file "$root/secret" --base-url "$url" --timeout 10)
echo "$answer" | grep -q '"client":"billing"' || { echo "unexpected answer: $answer"; exit 1; }

stop=$(value TimeoutStopSec)
stop=${stop%s}
kill -TERM "$pid"
set +e
timeout "$stop" tail --pid="$pid" -f /dev/null
waited=$?
wait "$pid"
rc=$?
set -e
pid=
[ "$waited" -eq 0 ] || { echo "xnonce-server did not stop within TimeoutStopSec=${stop}s"; exit 1; }
[ "$rc" -eq 0 ] || { echo "xnonce-server exited $rc after SIGTERM"; cat "$root/server.log"; exit 1; }
if grep -q "$(cat "$root/secret")" "$root/server.log"; then echo "the secret appeared in the logs"; exit 1; fi
echo "systemd unit: all checks passed"
