#!/usr/bin/env bash
# xnonce-server: format, lints, unit + loopback HTTP tests, then the black-box suite
# (`xnonce-conformance server`) against a real `xnonce-server serve --demo` subprocess with a
# temporary data dir and two clients added through the CLI — directly over http://, then
# over https:// through the shipped nginx site (server-ref/deploy/nginx.conf) in front of
# it — then the systemd unit (server-ref/deploy/test.sh). Needs Rust (cargo); installs
# redis-server (apt-get) for the Redis store's test and nginx for the https run.
# Idempotent, non-interactive; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/listening.sh
source server-ref/listening.sh
# shellcheck source=SCRIPTDIR/deploy/nginx-front.sh
source server-ref/deploy/nginx-front.sh
export CI=true CARGO_TERM_COLOR=never

log=
if [ -n "${XNONCE_WORKSPACE_TESTED:-}" ]; then
  # scripts/test.sh's rust part ran fmt, clippy and every test of the whole workspace (this
  # package's included) and built the binaries used below.
  echo "== xnonce-server: fmt, clippy and cargo test ran in the rust part (whole workspace)"
else
  echo "== xnonce-server: fmt + clippy"
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  cargo fmt -p xnonce-server -p xnonce-conformance -- --check
  cargo clippy -q -p xnonce-server -p xnonce-conformance --all-targets -- -D warnings

  if ! command -v redis-server >/dev/null; then
    # tests/redis.rs runs a real redis-server.
    echo "== installing redis-server (apt-get)"
    sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >/dev/null
  fi
  echo "== xnonce-server: cargo test"
  log=$(mktemp)
  set +e
  timeout 900 cargo test -p xnonce-server > "$log" 2>&1
  status=$?
  set -e
  grep -E '^test result|^SKIPPED|^[0-9]+ passed, [0-9]+ failed$' "$log" || true
  if [ "$status" -ne 0 ]; then tail -80 "$log"; exit "$status"; fi
fi

echo "== black-box suite against xnonce-server serve --demo"
# Cargo's own target dir (CARGO_TARGET_DIR, build.target-dir…), where the build below puts
# them: with another target dir, ./target holds no binaries, or stale ones.
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || { echo "cargo metadata gave no target directory"; exit 1; }
server=${XNONCE_SERVER_BIN:-$target_dir/debug/xnonce-server}
conformance=${XNONCE_CONFORMANCE_BIN:-$target_dir/debug/xnonce-conformance}
[ -n "${XNONCE_SERVER_BIN:-}" ] && [ -n "${XNONCE_CONFORMANCE_BIN:-}" ] ||
  cargo build -q -p xnonce-server -p xnonce-conformance
work=$(mktemp -d)
server_pid=
cleanup() {
  nginx_front_stop "$work/nginx"
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work" ${log:+"$log"}
}
trap cleanup EXIT
registry=(--data "$work/data" --key-file "$work/registry.key")   # nothing in ~/.config
"$server" client add conformance "${registry[@]}" > "$work/secret"
# A second client: the suite's cross-client replay checks run only with one.
"$server" client add conformance2 "${registry[@]}" > "$work/secret2"
# Created before the server starts: the loop below may read it before the background job
# has opened it (a missing file fails `sed` and, under set -e, the script).
: > "$work/stdout"
"$server" serve --demo --listen 127.0.0.1:0 "${registry[@]}" \
  > "$work/stdout" 2> "$work/server.log" &
server_pid=$!
url=$(wait_listening "$work/stdout" "$server_pid" "$work/server.log" 10)
timeout 300 "$conformance" server --base-url "$url" --client conformance \
  --secret-file "$work/secret" --second-client conformance2 --second-secret-file "$work/secret2" \
  | tee "$work/suite"
# Every check ran: none reported as skipped.
if grep -q SKIPPED "$work/suite"; then echo "the black-box suite skipped checks"; exit 1; fi

echo "== black-box suite over https://, through the shipped nginx site in front of it"
nginx_front "$work/nginx" "${url##*:}"
timeout 300 "$conformance" server --base-url "https://localhost:$nginx_port" \
  --ca-file "$NGINX_FRONT_CA" --client conformance --secret-file "$work/secret" \
  --second-client conformance2 --second-secret-file "$work/secret2" | tee "$work/suite"
if grep -q SKIPPED "$work/suite"; then echo "the black-box suite skipped checks"; exit 1; fi
# Without the test CA, the bundled roots alone must not trust nginx's certificate.
if "$conformance" server --base-url "https://localhost:$nginx_port" --client conformance \
  --secret-file "$work/secret" --schemes v1 > "$work/untrusted" 2>&1; then
  echo "the suite trusted a certificate its roots do not cover"; exit 1
fi
grep -q "UnknownIssuer" "$work/untrusted" || { cat "$work/untrusted"; exit 1; }
nginx_front_stop "$work/nginx"

# Graceful shutdown: SIGTERM must end the server with exit status 0.
kill -TERM "$server_pid"
set +e
wait "$server_pid"
rc=$?
set -e
server_pid=
if [ "$rc" -ne 0 ]; then echo "xnonce-server exited $rc after SIGTERM"; exit 1; fi
for f in secret secret2; do
  if grep -q "$(cat "$work/$f")" "$work/server.log"; then echo "a secret appeared in the logs"; exit 1; fi
done

echo "== the systemd unit (server-ref/deploy)"
bash server-ref/deploy/test.sh
echo "xnonce-server: all checks passed"
