# shellcheck shell=bash
# Sourced by each language's test script: proves that its vector check honours the
# extra-vectors hook (DESIGN §3) instead of trusting that it does.
#
#   hook_check LABELS CMD [ARGS...]
#
# runs CMD (that language's vector check, already built) twice with XNONCE_EXTRA_VECTORS set:
#
# * extra.json (two valid cases copied from the project's files under new ids): CMD must
#   succeed and print `<label>: <N> vectors passed` for each comma-separated label in LABELS,
#   N being the project's case count plus two — the extra file was read and every case run;
# * wrong.json (one case whose X-Nonce has its last hex digit changed): CMD must fail and its
#   output must name the case (`hook-wrong-x-nonce`);
# * each other wrong-<field>.json (one case whose `canonical`, `ottoken`,
#   `ottoken_query_value` or `link` has its last character changed, or whose `error` names
#   another code than the one signing fails with): the same, naming `hook-wrong-<field>`.
#   A checker that compared the header only would pass every one of these;
# * wrong-unknown-field.json (its ottoken misspelt `ottokn`, and wrong) and
#   wrong-link-without-base-url.json (a `link` on a case that is not linked): fields a
#   checker would not read, which must fail the case rather than go unchecked;
# * wrong-error-with-outputs.json (an error case that also carries outputs, which would never
#   be compared), wrong-number-param.json (`["opt1", 1]`), wrong-float-timestamp.json and
#   wrong-null-field.json: malformed cases, which every checker refuses as the Rust one does.
#
# Needs python3 (to count the project's cases).

hook_check() {
  local labels=$1
  shift
  local here vectors base extra expected out status label
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  vectors="$here/../vectors"
  base=$(python3 -c 'import glob, json, sys
print(sum(len(json.load(open(f, encoding="utf-8"))) for f in glob.glob(sys.argv[1] + "/*.json")))' "$vectors")
  extra=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1], encoding="utf-8"))))' "$here/extra.json")
  expected=$((base + extra))

  set +e
  out=$(XNONCE_EXTRA_VECTORS="$here/extra.json" "$@" 2>&1)
  status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    printf '%s\n' "$out" | tail -40
    echo "FAIL hook: $labels failed with XNONCE_EXTRA_VECTORS=$here/extra.json (exit $status)" >&2
    return 1
  fi
  for label in ${labels//,/ }; do
    # A here-string, not `printf | grep -q`: grep -q stops at its first match, printf then
    # dies of SIGPIPE on a long output, and under pipefail the match counted as none.
    if ! grep -qE "(^|[[:space:]#])$label: $expected vectors passed" <<<"$out"; then
      printf '%s\n' "$out" | grep -E 'vectors passed' || true
      echo "FAIL hook: no '$label: $expected vectors passed' with the two extra cases" >&2
      return 1
    fi
  done

  local wrong id
  for wrong in "$here"/wrong*.json; do
    id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1], encoding="utf-8"))[0]["id"])' "$wrong")
    set +e
    out=$(XNONCE_EXTRA_VECTORS="$wrong" "$@" 2>&1)
    status=$?
    set -e
    if [ "$status" -eq 0 ]; then
      printf '%s\n' "$out" | tail -20
      echo "FAIL hook: $labels passed a vector with a wrong field ($wrong)" >&2
      return 1
    fi
    if ! grep -q -- "$id" <<<"$out"; then
      printf '%s\n' "$out" | tail -40
      echo "FAIL hook: $labels failed on $wrong without naming the case ($id)" >&2
      return 1
    fi
  done
  echo "hook: $labels: the extra vectors counted ($expected), each wrong one fails by name"
}
