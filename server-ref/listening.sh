# shellcheck shell=bash
# Sourced by the test scripts that start `xnonce-server serve` in the background.
#
# wait_listening STDOUT PID LOG SECONDS: prints the URL of the server's one stdout line
# (`xnonce-server listening on URL`) once STDOUT holds it. Fails, showing the server's LOG on
# stderr, if the process PID exits first or SECONDS pass without it. Used as
# `url=$(wait_listening …)`, which ends a `set -e` script on that failure.
wait_listening() {
  local stdout=$1 pid=$2 log=$3 seconds=$4 url
  for _ in $(seq 1 $((seconds * 10))); do
    url=$(sed -n 's/^xnonce-server listening on //p' "$stdout" | head -1)
    if [ -n "$url" ]; then
      echo "$url"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "xnonce-server exited:" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "xnonce-server did not start within ${seconds} s:" >&2
  cat "$log" >&2
  return 1
}
