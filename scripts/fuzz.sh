#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, AddressSanitizer + UndefinedBehaviorSanitizer, CPU only),
# writes their seed corpus and runs each target for a fixed time, then prints the executions per target. Exits 1
# when any target found something (a crash, a sanitizer report, a leak, a slow input or an out-of-memory); the
# input that did it is kept in BUILD_DIR/findings/TARGET/ and the log in BUILD_DIR/fuzz-logs/TARGET.log.
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [TARGET...]
#
#   --seconds N   time per target (default 60)
#   --jobs J      targets run at the same time (default 1)
#   TARGET        safetensors, idx, image, config, cli (default: all)
#
# BUILD_DIR (default build-fuzz) is configured on first use with -DGAN_FUZZ=ON -DGAN_CUDA=OFF. The corpus grows
# in BUILD_DIR/corpus/TARGET across runs; the seeds (BUILD_DIR/seeds, rewritten every time by fuzz_make_corpus)
# are read each run. Replay a finding with: BUILD_DIR/tests/fuzz/fuzz_TARGET FILE
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=60
jobs=1
targets=()
all_targets=(safetensors idx image config cli)
while (( $# > 0 )); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
(( ${#targets[@]} > 0 )) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
done
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 ]] || { echo "fuzz.sh: --seconds wants a positive integer" >&2; exit 2; }
[[ $jobs =~ ^[0-9]+$ && $jobs -ge 1 ]] || { echo "fuzz.sh: --jobs wants a positive integer" >&2; exit 2; }

build=${BUILD_DIR:-build-fuzz}
mkdir -p "$build"
build=$(cd "$build" && pwd)  # absolute: the cli target works in a temporary folder of its own
die() { echo "fuzz.sh: $*" >&2; exit 1; }
command -v clang++ >/dev/null 2>&1 || die "clang++ not found; run scripts/setup.sh (clang, libclang-rt-14-dev)"
[[ -f $(clang++ -print-file-name=libclang_rt.fuzzer-x86_64.a) ]] ||
  die "clang's libFuzzer runtime is missing; run scripts/setup.sh (libclang-rt-14-dev)"

build_start=$SECONDS
if [[ ! -f $build/CMakeCache.txt ]]; then
  echo "fuzz.sh: configuring $build (clang, GAN_FUZZ=ON, GAN_CUDA=OFF)"
  CC=clang CXX=clang++ cmake -S . -B "$build" -DGAN_FUZZ=ON -DGAN_CUDA=OFF -DGAN_BUILD_BENCHMARKS=OFF \
    -DCMAKE_BUILD_TYPE=Fuzz >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target gan_fuzzers
echo "fuzz.sh: built the fuzz targets in $((SECONDS - build_start)) s"

rm -rf "$build/seeds"
"$build/tests/fuzz/fuzz_make_corpus" "$build/seeds"
mkdir -p "$build/fuzz-logs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# run_target NAME: runs it for $seconds; its exit status is libFuzzer's (0: nothing found).
run_target() {
  local t=$1
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  "$build/tests/fuzz/fuzz_$t" "$build/corpus/$t" "$build/seeds/$t" -max_total_time="$seconds" \
    -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$build/findings/$t/" \
    >"$build/fuzz-logs/$t.log" 2>&1
}

echo "fuzz.sh: running ${targets[*]} for $seconds s each, $jobs at a time"
declare -A status
pending=("${targets[@]}")
running=()
while (( ${#pending[@]} > 0 || ${#running[@]} > 0 )); do
  while (( ${#pending[@]} > 0 && ${#running[@]} < jobs )); do
    t=${pending[0]}
    pending=("${pending[@]:1}")
    run_target "$t" &
    running+=("$t:$!")
  done
  wait -n || true
  still=()
  for entry in "${running[@]}"; do
    t=${entry%%:*} pid=${entry##*:}
    if kill -0 "$pid" 2>/dev/null; then
      still+=("$entry")
    else
      rc=0
      wait "$pid" || rc=$?
      status[$t]=$rc
    fi
  done
  running=("${still[@]+"${still[@]}"}")
done

failed=0
printf '\n%-12s %14s %10s %8s  %s\n' target executions "exec/s" corpus result
for t in "${targets[@]}"; do
  log=$build/fuzz-logs/$t.log
  execs=$(awk '/^stat::number_of_executed_units:/ {n = $2} END {print n}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec:/ {n = $2} END {print n}' "$log")
  corpus=$(find "$build/corpus/$t" -type f | wc -l)
  if (( status[$t] == 0 )); then
    result=ok
  else
    result="FOUND SOMETHING (exit ${status[$t]}; $log, $build/findings/$t/)"
    failed=1
  fi
  printf '%-12s %14s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done
if (( failed )); then
  for t in "${targets[@]}"; do
    (( status[$t] == 0 )) && continue
    echo
    echo "==== $t: the end of $build/fuzz-logs/$t.log ===="
    tail -n 60 "$build/fuzz-logs/$t.log"
  done
  exit 1
fi
