#!/usr/bin/env bash
# CI entry of the fuzz part: the stable corpus regression, plus each libFuzzer target for
# ~15 s when a nightly toolchain is there (SKIPPED loudly otherwise; see run.sh).
#   fuzz/test.sh [SECONDS_PER_TARGET]   (default 15)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/run.sh" "${1:-15}"
