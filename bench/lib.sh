# shellcheck shell=bash
# Sourced by the bench scripts.

# valerix_bench_binary ROOT DIR NAME: the binary bench/DIR/NAME to use — build-bench/ (a Release build) first, then
# build/ — printed as a path; nothing when neither is built.
valerix_bench_binary() {
  local build
  for build in build-bench build; do
    [[ -x $1/$build/bench/$2/$3 ]] && { echo "$1/$build/bench/$2/$3"; return 0; }
  done
  return 0
}
valerix_loadgen() { valerix_bench_binary "$1" loadgen valerix-loadgen; }
valerix_hiccup() { valerix_bench_binary "$1" hiccup valerix-hiccup; }
