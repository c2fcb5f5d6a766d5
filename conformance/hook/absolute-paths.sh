# shellcheck shell=bash
# Sourced by the test scripts before they change directory: makes the paths in
# XNONCE_EXTRA_VECTORS (DESIGN §3) absolute, so that a path given relative to where the
# script was called from still names that file (a missing file stays missing, and the
# vector check then fails on it by name).
if [ -n "${XNONCE_EXTRA_VECTORS:-}" ]; then
  xnonce_absolute=()
  IFS=':' read -r -a xnonce_parts <<< "$XNONCE_EXTRA_VECTORS"
  for xnonce_part in "${xnonce_parts[@]}"; do
    if [ -n "$xnonce_part" ]; then
      xnonce_absolute+=("$(realpath -m -- "$xnonce_part")")
    fi
  done
  XNONCE_EXTRA_VECTORS="$(IFS=':'; echo "${xnonce_absolute[*]}")"
  export XNONCE_EXTRA_VECTORS
  unset xnonce_absolute xnonce_parts xnonce_part
fi
