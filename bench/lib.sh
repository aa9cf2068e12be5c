# shellcheck shell=bash
# Sourced by the bench scripts.

# valerix_loadgen ROOT: the valerix-loadgen binary to use — build-bench/ (a Release build) first, then build/ —
# printed as a path; nothing when neither is built.
valerix_loadgen() {
  local candidate
  for candidate in build-bench/bench/loadgen/valerix-loadgen build/bench/loadgen/valerix-loadgen; do
    [[ -x $1/$candidate ]] && { echo "$1/$candidate"; return 0; }
  done
  return 0
}
