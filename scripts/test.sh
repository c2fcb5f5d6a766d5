#!/usr/bin/env bash
# The one test command (README): installs what it needs, then runs every check in every
# language. `.ci/run` calls exactly this. Each part prints its own results; any failure
# stops the run red. Run one part with `bash scripts/test.sh <part>...` (parts listed below).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../conformance/hook/absolute-paths.sh
source "$(dirname "$0")/../conformance/hook/absolute-paths.sh"
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# The live tests send http://127.0.0.1 requests through clients that honour HTTP_PROXY and
# ALL_PROXY (reqwest, Python's requests and httpx, Node): on a host with a proxy set and
# loopback not exempted, every one of them would go to the proxy and fail. Loopback is added
# to any list already set (both spellings: clients read one or the other).
export NO_PROXY="${NO_PROXY:+$NO_PROXY,}127.0.0.1,localhost"
export no_proxy="${no_proxy:+$no_proxy,}127.0.0.1,localhost"

ALL_PARTS=(rust spec server scale fuzz demo python node wasm swift kotlin)
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=("${ALL_PARTS[@]}")

started=$SECONDS
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
timings=()
section() { printf '\n===== %s =====\n' "$*"; }
timed() {
  local name=$1; shift
  local t0=$SECONDS
  section "$name"
  "$@"
  timings+=("$(printf '%-8s %4ss' "$name" $((SECONDS - t0)))")
}

part_rust() {
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
  echo "-- format and lints (whole workspace, -D warnings)"
  cargo fmt --all -- --check
  # With uniffi's generator binary (feature cli), so the swift part need not lint it again.
  cargo clippy --workspace --all-targets --features xnonce-uniffi/cli -- -D warnings
  echo "-- rustdoc (whole workspace, -D warnings: broken links, bare URLs)"
  RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps --workspace
  # The server's Redis test (server-ref/tests/redis.rs) runs a real redis-server; its
  # registry test of directory syncs (tests/registry_cli.rs) traces the CLI with strace.
  # And every shell script of the project is linted with shellcheck.
  if ! command -v redis-server >/dev/null || ! command -v strace >/dev/null \
    || ! command -v shellcheck >/dev/null; then
    echo "-- installing redis-server, strace and shellcheck (apt-get)"
    local sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    timeout 600 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server strace shellcheck >/dev/null
  fi
  echo "-- shell scripts (shellcheck -x, warnings and errors, every tracked script)"
  git ls-files -z '*.sh' | xargs -0 shellcheck -x -S warning
  echo "-- tests: core, client, server, conformance vectors"
  local log status bin="$target_dir/debug"
  log=$(mktemp "${TMPDIR:-/tmp}/xnonce-cargo-test.XXXXXX")
  set +e
  # This `cargo test` builds the workspace's binaries (the server's and the conformance
  # suite's tests run them) before it runs any test, so the client's tests can use that
  # xnonce-server instead of building one of their own (with other features: ~1 min).
  XNONCE_SERVER_BIN="$bin/xnonce-server" cargo test -- --nocapture > "$log" 2>&1
  status=$?
  set -e
  grep -E '^(test result|rust: [0-9]+ vectors|SKIPPED|[0-9]+ passed, [0-9]+ failed$)' "$log" || true
  if [ "$status" -ne 0 ]; then tail -100 "$log"; rm -f "$log"; return "$status"; fi
  grep -qE '^rust: [0-9]+ vectors passed' "$log"
  rm -f "$log"
  echo "-- generated vectors are current (regenerate and compare)"
  "$bin/xnonce-conformance" generate --check
  echo "-- extra-vectors hook (DESIGN §3): extra cases counted, a wrong case fails"
  # shellcheck source=SCRIPTDIR/../conformance/hook/check.sh
  source conformance/hook/check.sh
  hook_check rust "$bin/xnonce-conformance" vectors
  echo "-- core builds for wasm32-unknown-unknown"
  cargo build -q -p xnonce-core --no-default-features --target wasm32-unknown-unknown
  # The benchmarks are compiled (type-checked) by the clippy run above (--all-targets).
  # The later parts use the binaries this part built and tested instead of building their
  # own (`cargo build -p xnonce-server` unifies other features: a rebuild of ~1 min), and
  # skip the per-package fmt/clippy/test this part already ran on the whole workspace.
  export XNONCE_SERVER_BIN="$bin/xnonce-server"
  export XNONCE_CONFORMANCE_BIN="$bin/xnonce-conformance"
  export XNONCE_CLI_BIN="$bin/xnonce"
  export XNONCE_DEMO_BIN="$bin/examples/demo"
  export XNONCE_WORKSPACE_TESTED=1
}

part_spec() { bash conformance/independent/test.sh; }
part_server() { bash server-ref/test.sh; }
part_demo() { bash scripts/demo.sh; }
part_python() { bash bindings-python/test.sh; }
part_node() { bash bindings-node/test.sh; }
part_wasm() {
  if [ -n "$bindgen_pid" ]; then
    echo "-- waiting for the wasm-bindgen CLI (building in the background since the start)"
    if wait "$bindgen_pid"; then
      tail -1 "$bindgen_log"
    else
      echo "the background build failed (the wasm part builds it again):"
      tail -20 "$bindgen_log"
    fi
    bindgen_pid=
  fi
  bash bindings-wasm/test.sh
}
part_swift() { bash bindings-swift/test.sh; }
part_kotlin() { bash bindings-kotlin/test.sh; }
part_scale() { bash server-ref/scale-test.sh; }
part_fuzz() { bash fuzz/test.sh; }

# The wasm part's pinned wasm-bindgen CLI is ~2 min of compiling. When that part is to run,
# it is built from the start in the background at the lowest CPU priority, on the time the
# earlier parts leave a core idle (test runs, fuzzing, downloads); the wasm part waits for it.
bindgen_pid='' bindgen_log=''
stop_bindgen() { [ -z "$bindgen_pid" ] || kill -TERM -- "-$bindgen_pid" 2>/dev/null || true; }
trap stop_bindgen EXIT
if [[ " ${parts[*]} " == *" wasm "* ]] && command -v node >/dev/null; then
  bindgen_log=$(mktemp "${TMPDIR:-/tmp}/xnonce-wasm-bindgen.XXXXXX")
  # setsid: its own process group, so an early exit stops cargo and rustc too.
  setsid nice -n 19 node bindings-wasm/scripts/build.mjs --tools-only > "$bindgen_log" 2>&1 &
  bindgen_pid=$!
fi

for p in "${parts[@]}"; do
  case " ${ALL_PARTS[*]} " in *" $p "*) ;; *) echo "unknown part '$p' (parts: ${ALL_PARTS[*]})"; exit 2 ;; esac
  timed "$p" "part_$p"
done

section "summary"
printf '%s\n' "${timings[@]}"
echo "total    $((SECONDS - started))s"
echo "all tests passed"
