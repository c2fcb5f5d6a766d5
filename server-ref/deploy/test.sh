#!/usr/bin/env bash
# Checks the systemd unit (xnonce-server.service) and its config (server.toml) against the
# binary being tested, without systemd running (as in CI containers):
#   1. `systemd-analyze verify` accepts the unit (its ExecStart pointed at the tested binary);
#   2. `systemd-analyze security --offline` rates its exposure "OK" (at most 2.5 of 10);
#   3. the unit's ExecStart command line and the config serve (paths moved into a temporary
#      root, listening on a free loopback port); the README's `client add … --config` adds a
#      client the running server accepts a signed request from, at once; the registry key is
#      mode 0600;
#   4. nginx.conf in front of it (TLS with the test CA of client-rs/tests/fixtures/tls, on a
#      free loopback port): a signed GET with escaped characters in path and query, a signed
#      POST with a body, and a one-time link (accepted once, 409 the second time) all pass
#      through with what the client signed intact;
#   5. the unit's ExecReload fails on a wrong config (its `check` line) without signalling the
#      server, and applies a changed one (a route rule added);
#   6. SIGTERM stops the server with status 0 within the unit's TimeoutStopSec.
# Installs systemd's tools and nginx (apt-get) when missing. Exits non-zero on any failure.
# Binaries: $XNONCE_SERVER_BIN and $XNONCE_CLI_BIN, else built (debug).
set -euo pipefail
cd "$(dirname "$0")/../.."
here="server-ref/deploy"
# shellcheck source=SCRIPTDIR/../listening.sh
source server-ref/listening.sh
# shellcheck source=SCRIPTDIR/nginx-front.sh
source server-ref/deploy/nginx-front.sh

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
  # Cargo's own target dir (CARGO_TARGET_DIR, build.target-dir…), where that build puts
  # them: with another target dir, ./target holds no binaries, or stale ones.
  target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  [ -n "$target_dir" ] || { echo "cargo metadata gave no target directory"; exit 1; }
  server=${server:-$target_dir/debug/xnonce-server} cli=${cli:-$target_dir/debug/xnonce}
fi
server=$(realpath "$server") cli=$(realpath "$cli")

root=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  nginx_front_stop "$root/nginx"
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
sed -e "s#/usr/local/bin/xnonce-server #$server #g" \
  -e "s#/etc/xnonce/server.toml#$root/etc/xnonce/server.toml#g" "$unit" > "$root/unit/xnonce-server.service"
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
url=$(wait_listening "$root/stdout" "$pid" "$root/server.log" 20)
# README: sudo -u xnonce xnonce-server client add billing --config /etc/xnonce/server.toml
"$server" client add billing --config "$root/etc/xnonce/server.toml" > "$root/secret"
[ "$(stat -c %a "$state/registry.key")" = 600 ] || { echo "registry key is not 0600"; exit 1; }
answer=$("$cli" request --path /orders/list --param page=1 --client billing \
  --secret-file "$root/secret" --base-url "$url" --timeout 10)
echo "$answer" | grep -q '"client":"billing"' || { echo "unexpected answer: $answer"; exit 1; }

echo "-- nginx.conf in front: TLS, the signed target, Host and body passed on intact"
nginx_front "$root/nginx" "${url##*:}"
base=https://localhost:$nginx_port
request() { "$cli" request --client billing --secret-file "$root/secret" --base-url "$base" \
  --ca-file "$NGINX_FRONT_CA" --timeout 10 "$@"; }
answer=$(request --path '/files/a%2Fb%20c' --param 'q=x y/z&%' --param 'lang=français')
grep -q '"client":"billing"' <<< "$answer" || { echo "GET through nginx: $answer"; exit 1; }
printf '{"amount": 12}' > "$root/body.json"
answer=$(request --method POST --path /orders --body-file "$root/body.json")
grep -q '"client":"billing"' <<< "$answer" || { echo "POST through nginx: $answer"; exit 1; }
link=$("$cli" link --client billing --secret-file "$root/secret" --base-url "$base" \
  --path /reports/today --param format=csv)
statuses=$(python3 - "$link" "$NGINX_FRONT_CA" <<'PY'
import ssl, sys, urllib.error, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))
for _ in range(2):
    try:
        print(opener.open(sys.argv[1], timeout=10).status)
    except urllib.error.HTTPError as answer:
        print(answer.code)
PY
)
[ "$(tr '\n' ' ' <<< "$statuses")" = "200 409 " ] || { echo "link through nginx: $statuses (want 200 then 409)"; exit 1; }

echo "-- ExecReload: a wrong config fails the reload, a changed one is applied"
# The unit's ExecReload lines, in order, as systemd runs them: each must succeed.
exec_reload() {
  local line
  while IFS= read -r line; do
    line=${line//\$MAINPID/$pid}
    line=${line//\/usr\/local\/bin\/xnonce-server/$server}
    line=${line//\/etc\/xnonce\/server.toml/$root/etc/xnonce/server.toml}
    bash -c "$line" || return 1
  done < <(value ExecReload)
}
cp "$root/etc/xnonce/server.toml" "$root/good.toml"
printf '[limits]\nmax_body_bytes = 0\n' >> "$root/etc/xnonce/server.toml"
if exec_reload 2> "$root/check.err"; then echo "a wrong config reloaded"; exit 1; fi
grep -q "limits.max_body_bytes" "$root/check.err" || { cat "$root/check.err"; exit 1; }
grep -q "SIGHUP" "$root/server.log" && { echo "SIGHUP sent for a wrong config"; exit 1; }
cp "$root/good.toml" "$root/etc/xnonce/server.toml"
printf '[routes.orders]\nlist_get = { page = "req" }\n' >> "$root/etc/xnonce/server.toml"
exec_reload > /dev/null
for _ in $(seq 1 200); do
  grep -q "SIGHUP: configuration reloaded" "$root/server.log" && break
  sleep 0.1
done
grep -q "SIGHUP: configuration reloaded" "$root/server.log" || { echo "no reload logged"; cat "$root/server.log"; exit 1; }
order() { "$cli" request --path /orders/list --client billing --secret-file "$root/secret" \
  --base-url "$url" --timeout 10 "$@" 2>&1; }
refused=$(order) && { echo "the reloaded rule (page required) was not applied: $refused"; exit 1; }
grep -q "HTTP 422" <<< "$refused" || { echo "unexpected refusal: $refused"; exit 1; }
order --param page=1 | grep -q '"client":"billing"'

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
