#!/usr/bin/env bash
# Fuzzes every xnonce-core target for a bounded time, then replays the corpus on stable.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [--require] [--update-corpus] [--only NAME]
#
# SECONDS_PER_TARGET (default 60) bounds each libFuzzer run (-max_total_time). The targets run
# one after the other (the machine has 2 cores). New inputs go to a scratch corpus under
# fuzz/target/corpus-work/<target>; --update-corpus merges what is new (minimised, -merge=1)
# into the committed fuzz/corpus/<target>. Without a nightly toolchain the libFuzzer runs are
# SKIPPED (loudly): exit 0, or 1 with --require. A crash or property failure (a panic) fails
# the script; libFuzzer leaves the input in fuzz/artifacts/<target>/.
# XNONCE_FUZZ_TOOLCHAIN picks the nightly toolchain (default: nightly).
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
TARGETS=(header link ottoken params verify)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

seconds=60
require=0
update=0
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --require) require=1 ;;
    --update-corpus) update=1 ;;
    --only) only="$2"; shift ;;
    ''|*[!0-9]*) echo "usage: fuzz/run.sh [SECONDS_PER_TARGET] [--require] [--update-corpus] [--only NAME]" >&2; exit 2 ;;
    *) seconds="$1" ;;
  esac
  shift
done
if [ -n "$only" ]; then TARGETS=("$only"); fi

export PATH="$HOME/.cargo/bin:$PATH"
toolchain="${XNONCE_FUZZ_TOOLCHAIN:-nightly}"
fuzz_status=0
skipped=0

if ! command -v rustup >/dev/null || ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  echo "=================================================================="
  echo "SKIPPED: no nightly toolchain (rustup run $toolchain rustc failed):"
  echo "         libFuzzer targets NOT run; only the stable corpus replay."
  echo "=================================================================="
  skipped=1
else
  if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
  fi
  # cargo-fuzz builds into fuzz/target; keep any workspace-wide CARGO_TARGET_DIR out of it.
  unset CARGO_TARGET_DIR
  echo "== building the fuzz targets ($(rustup run "$toolchain" rustc --version))"
  cargo "+$toolchain" fuzz build -O
  summary=()
  for t in "${TARGETS[@]}"; do
    work="target/corpus-work/$t"
    mkdir -p "$work" "artifacts/$t"
    log="target/fuzz-$t.log"
    echo "== fuzzing $t for ${seconds}s"
    set +e
    cargo "+$toolchain" fuzz run -O "$t" "$work" "corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
    execs="$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -1)"
    corp="$(echo "$done_line" | grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' | sed 's/corp: //' || true)"
    cov="$(echo "$done_line" | grep -oE 'cov: [0-9]+' | sed 's/cov: //' || true)"
    if [ "$rc" -ne 0 ]; then
      fuzz_status=1
      line="$t: FAILED (exit $rc) after ${execs:-?} execs; see fuzz/$log and fuzz/artifacts/$t/"
      grep -E "panicked at|SUMMARY|Test unit written" "$log" | head -5 || true
    else
      line="$t: ok, ${execs:-?} execs in ${seconds}s, coverage ${cov:-?}, corpus ${corp:-?} (entries/bytes)"
    fi
    summary+=("$line")
    if [ "$update" = 1 ] && [ "$rc" -eq 0 ]; then
      before=$(ls "corpus/$t" | wc -l)
      cargo "+$toolchain" fuzz run -O "$t" "corpus/$t" "$work" -- -merge=1 >"target/merge-$t.log" 2>&1
      echo "   $t: committed corpus $before -> $(ls "corpus/$t" | wc -l) files"
    fi
  done
  echo "== fuzz summary"
  printf '%s\n' "${summary[@]}"
fi

echo "== corpus regression (stable, no libFuzzer)"
unset CARGO_TARGET_DIR
cargo test --manifest-path "$here/Cargo.toml" --no-default-features --locked

if [ "$fuzz_status" -ne 0 ]; then
  echo "FAILED: a fuzz target found a crash or a property failure" >&2
  exit 1
fi
if [ "$skipped" = 1 ] && [ "$require" = 1 ]; then
  echo "FAILED: --require given and the fuzz targets were SKIPPED (no nightly)" >&2
  exit 1
fi
