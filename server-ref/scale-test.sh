#!/usr/bin/env bash
# Multi-instance scale test of xnonce-server (issue 8), all on 127.0.0.1:
#   redis-server  ←  two `xnonce-server serve --demo` instances ([replay] store = "redis",
#   the same data dir, so the same client registry)  ←  nginx round-robin  ←  tests/scale.rs
# which sends 10,000 concurrent replay attempts plus legitimate traffic, stops Redis mid-run
# (requests must fail closed with 503 store_unavailable), starts it again (recovery), and adds
# then deletes a client with `xnonce-server client` (both instances follow at once).
# Installs redis-server and nginx with apt-get when missing. Idempotent, non-interactive,
# bounded by `timeout`; every process it starts is stopped on exit. Exits non-zero on failure.
# Prints the test's rows and `N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/listening.sh
source server-ref/listening.sh
export CI=true CARGO_TERM_COLOR=never DEBIAN_FRONTEND=noninteractive

need=()
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || need+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ "${#need[@]}" -gt 0 ]; then
  echo "== installing ${need[*]}"
  sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  timeout 600 $sudo apt-get update -q >/dev/null
  timeout 600 $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "== building xnonce-server and the scale test"
# XNONCE_SERVER_BIN: a server built already (scripts/test.sh passes its rust part's).
# Cargo's own target dir (CARGO_TARGET_DIR, build.target-dir…), absolute: cargo test runs in
# server-ref/. Not ./target: with another target dir, that holds no binary, or a stale one.
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || { echo "cargo metadata gave no target directory"; exit 1; }
server=${XNONCE_SERVER_BIN:-$target_dir/debug/xnonce-server}
[ -n "${XNONCE_SERVER_BIN:-}" ] || timeout 900 cargo build -q -p xnonce-server
# From the workspace root without -p: the features `cargo test` of the workspace uses, so
# after it this builds nothing.
timeout 900 cargo test -q --test scale --no-run

work=$(mktemp -d)
pids=()
cleanup() {
  set +e
  [ -f "$work/nginx.pid" ] && kill -TERM "$(cat "$work/nginx.pid")" 2>/dev/null
  [ -f "$work/redis.pid" ] && kill -TERM "$(cat "$work/redis.pid")" 2>/dev/null
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  sleep 0.2
  [ -f "$work/nginx.pid" ] && kill -KILL "$(cat "$work/nginx.pid")" 2>/dev/null
  [ -f "$work/redis.pid" ] && kill -KILL "$(cat "$work/redis.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port that was free a moment ago. Redis and nginx bind it only later, so another process
# may take it first: both are then checked to serve it themselves (not just that something
# answers there), and started on another port when it was taken.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# The same, below the kernel's ephemeral range: Redis is stopped and started again on its
# port mid-run, and meanwhile an outgoing connection (the instances reconnect to Redis over
# and over during the outage) may be given a port from that range as its own, this one too.
free_fixed_port() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
# Ports below 10000 are where other services listen; with no room left below the range, any.
candidates = [random.randint(10000, low - 1) for _ in range(1000)] if low > 11000 else [0]
for port in candidates:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(s.getsockname()[1])
        break
else:
    raise SystemExit("no free port below the ephemeral range")
PY
}
taken() { grep -qs 'Address already in use' "$1"; }

# Redis: RDB snapshot in the temp dir; the stop command saves it, so replay keys survive the
# restart (a Redis that forgets its keys would let replays of still-fresh tokens through).
# It daemonizes before it binds: a port taken meanwhile shows only in its log. The Redis
# answering must be this one (its dir is $work), not one another run started on that port.
work_real=$(cd "$work" && pwd -P)
redis_up=
for attempt in 1 2 3 4 5; do
  redis_port=$(free_fixed_port)
  redis_start="redis-server --bind 127.0.0.1 --port $redis_port --dir $work --dbfilename dump.rdb --save '' --appendonly no --daemonize yes --pidfile $work/redis.pid --logfile $work/redis.log"
  redis_stop="redis-cli -p $redis_port shutdown save >/dev/null"
  rm -f "$work/redis.log"
  eval "$redis_start"
  for _ in $(seq 1 100); do
    if [ "$(timeout 5 redis-cli -p "$redis_port" config get dir 2>/dev/null | tail -1)" = "$work_real" ]; then
      redis_up=1
      break
    fi
    taken "$work/redis.log" && break
    sleep 0.1
  done
  [ -z "$redis_up" ] || break
  if taken "$work/redis.log"; then
    echo "redis: port $redis_port was taken before it bound it (attempt $attempt); another port"
    continue
  fi
  echo "redis did not start on 127.0.0.1:$redis_port:"; cat "$work/redis.log" 2>/dev/null; exit 1
done
[ -n "$redis_up" ] || { echo "redis: every port tried was taken before it bound it"; exit 1; }

cat > "$work/server.toml" <<TOML
[replay]
store = "redis"
redis_url = "redis://127.0.0.1:$redis_port/0"
key_prefix = "xnonce-scale:"
timeout_ms = 1000
TOML
registry=(--data "$work/data" --key-file "$work/registry.key")   # nothing in ~/.config
"$server" client add scale "${registry[@]}" > "$work/secret"
upstreams=
for i in 1 2; do
  # Created here, not by the background job's redirection: the loop below may read the file
  # before that job has opened it (a missing file fails `sed` and, under set -e, the script).
  : > "$work/server$i.out"
  RUST_LOG=warn "$server" serve --demo --config "$work/server.toml" \
    --listen 127.0.0.1:0 "${registry[@]}" > "$work/server$i.out" 2> "$work/server$i.log" &
  pids+=($!)
  url=$(wait_listening "$work/server$i.out" "${pids[-1]}" "$work/server$i.log" 10)
  addr=${url#http://}
  upstreams="$upstreams    server $addr;
"
done

mkdir -p "$work/nginx"
# The upstream (one of the instances) that answered a health request through nginx on port
# $1, or nothing: proves nginx itself serves that port, proxying to these instances.
upstream_via() {
  python3 - "$1" <<'PY' 2>/dev/null || true
import sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
try:
    res = opener.open(f"http://127.0.0.1:{sys.argv[1]}/_xnonce/health", timeout=2)
except urllib.error.HTTPError as answer:  # any status: nginx adds the header always
    res = answer
print(res.headers.get("X-Upstream", ""))
PY
}
nginx_up=
for attempt in 1 2 3 4 5; do
  nginx_port=$(free_port)
  cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
user $(id -un);
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream xnonce {
$upstreams    keepalive 32;
    keepalive_timeout 20s;  # below the instances' header_timeout_ms (30 s): nginx closes idle ones first
  }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://xnonce;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_next_upstream off;
      add_header X-Upstream \$upstream_addr always;
    }
  }
}
NGINX
  : > "$work/nginx-error.log"
  # nginx binds before it daemonizes: a port taken meanwhile fails the command (after its
  # own retries), saying so in its error log.
  if "$NGINX" -e "$work/nginx-error.log" -p "$work/nginx" -c "$work/nginx.conf"; then
    # At most 20 s in all, however each health request ends (each waits at most 2 s).
    deadline=$((SECONDS + 20))
    while [ "$SECONDS" -lt "$deadline" ]; do
      via=$(upstream_via "$nginx_port")
      if [ -n "$via" ] && grep -qF "server $via;" <<<"$upstreams"; then
        nginx_up=1
        break
      fi
      sleep 0.1
    done
    [ -n "$nginx_up" ] || {
      echo "nginx started but does not proxy 127.0.0.1:$nginx_port to the instances:"
      cat "$work/nginx-error.log"; exit 1
    }
    break
  fi
  if taken "$work/nginx-error.log"; then
    echo "nginx: port $nginx_port was taken before it bound it (attempt $attempt); another port"
    continue
  fi
  echo "nginx did not start on 127.0.0.1:$nginx_port:"; cat "$work/nginx-error.log"; exit 1
done
[ -n "$nginx_up" ] || { echo "nginx: every port tried was taken before it bound it"; exit 1; }

echo "== scale test: redis 127.0.0.1:$redis_port, nginx 127.0.0.1:$nginx_port, instances:"
printf '%s' "$upstreams"
start=$(date +%s)
set +e
XNONCE_SCALE_TEST_NGINX_URL="http://127.0.0.1:$nginx_port" \
XNONCE_SCALE_TEST_CLIENT=scale \
XNONCE_SCALE_TEST_SECRET_FILE="$work/secret" \
XNONCE_SCALE_TEST_REDIS_STOP="$redis_stop" \
XNONCE_SCALE_TEST_REDIS_START="$redis_start" \
XNONCE_SCALE_TEST_CLIENT_CMD="$server client {} ${registry[*]}" \
  timeout 300 cargo test -q --test scale
status=$?
set -e
echo "scale test took $(( $(date +%s) - start )) s"
for i in 1 2; do
  kill -0 "${pids[$((i-1))]}" 2>/dev/null || { echo "server $i died"; cat "$work/server$i.log"; status=1; }
  if grep -q "$(cat "$work/secret")" "$work/server$i.log"; then echo "a secret appeared in server $i's log"; status=1; fi
done
if [ "$status" -ne 0 ]; then
  echo "--- nginx errors"; tail -n 20 "$work/nginx-error.log" 2>/dev/null || true
  echo "--- server logs"; tail -n 20 "$work"/server*.log || true
fi
exit "$status"
