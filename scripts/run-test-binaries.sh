#!/usr/bin/env bash
# Runs whole GoogleTest binaries of a build, each split into shards that run in parallel, instead of one process per
# test as ctest does. For the sanitizer build in CI: there a process start (ASan's shadow memory, the binary's
# static initializers) costs about 0.2 CPU-seconds, more than most tests, so ctest's 1,500 processes spent most of
# their time starting (measured: the io label took 10.8 s under ctest -j1 and 2.3 s as one process).
#
#   scripts/run-test-binaries.sh [--jobs N] [--no-skips] BUILD_DIR LABEL...
#
# Each LABEL names the binary BUILD_DIR/tests/gan_LABEL_tests (tests/CMakeLists.txt: one binary per CTest label).
# Every binary is cut into N shards (GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX), and N shards run at a time
# (default: the number of cores). --no-skips fails when any test skips itself (the emulator's gpu label must run
# everything). Prints each shard's result and, for a failed shard, its output; exits 1 when anything failed.
#
# What this gives up against ctest: a test runs after the others of its shard in one process, so a test that passes
# only in a fresh process fails here (and one that corrupts the process takes its shard down); ctest's per-test
# runs stay the README command's (scripts/test.sh) and stage 1 of CI's.
set -euo pipefail

jobs=$(nproc 2>/dev/null || echo 2)
no_skips=0
while (( $# > 0 )); do
  case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --no-skips) no_skips=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run-test-binaries.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $jobs =~ ^[0-9]+$ && $jobs -ge 1 ]] || { echo "run-test-binaries.sh: --jobs wants a positive integer" >&2; exit 2; }
(( $# >= 2 )) || { echo "usage: run-test-binaries.sh [--jobs N] [--no-skips] BUILD_DIR LABEL... (see --help)" >&2; exit 2; }
build=$1; shift

binaries=()
for label in "$@"; do
  bin="$build/tests/gan_${label}_tests"
  [[ -x $bin ]] || { echo "run-test-binaries.sh: no test binary $bin (build $build first)" >&2; exit 2; }
  binaries+=("$bin")
done

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# run_shard BIN INDEX: one shard of one binary, output to its log; prints its result (under a lock, so that the
# reports of shards ending together do not interleave) and returns 1 when it failed.
run_shard() {
  local bin=$1 index=$2 name log rc=0 start=$SECONDS
  name="$(basename "$bin") shard $((index + 1))/$jobs"
  log="$logs/$(basename "$bin").$index.log"
  GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$index "$bin" >"$log" 2>&1 || rc=$?
  local summary skipped report="$log.report" ok=1
  summary=$(grep -E '^\[  (PASSED|FAILED) +\]' "$log" | head -n1 | sed 's/\.$//' || true)
  # gtest's closing summary: "[  SKIPPED ] 3 tests, listed below:", then one "[  SKIPPED ] Suite.Test" line each.
  skipped=$(sed -nE 's/^\[  SKIPPED \] ([0-9]+) tests?, listed below:$/\1/p' "$log" | tail -n1)
  skipped=${skipped:-0}
  if (( rc != 0 )); then
    ok=0
    {
      echo "FAILED  $name (exit $rc, $((SECONDS - start)) s): ${summary:-no summary: the process died}"
      echo "---- output of $name ----"
      grep -vE '^\[ +(RUN|OK) +\]' "$log" | tail -n 200 || true  # the failures, without the passed tests' lines
      echo "---- end of $name ----"
    } >"$report"
  elif (( no_skips && skipped > 0 )); then
    ok=0
    {
      echo "FAILED  $name: $skipped tests skipped (--no-skips: every test must run here)"
      grep -E '^\[  SKIPPED \] [^ ]+\.[^ ]+$' "$log" | sort -u | head -n 50 || true
    } >"$report"
  else
    local note=""
    (( skipped > 0 )) && note=", $skipped skipped"
    echo "ok      $name ($((SECONDS - start)) s): $summary$note" >"$report"
  fi
  flock "$logs/print.lock" cat "$report"
  (( ok ))
}

# A pool of $jobs workers over every (binary, shard) pair, in the order given.
failed=0 running=0
for bin in "${binaries[@]}"; do
  for (( i = 0; i < jobs; ++i )); do
    if (( running >= jobs )); then
      wait -n || failed=1
      running=$((running - 1))
    fi
    run_shard "$bin" "$i" &
    running=$((running + 1))
  done
done
while (( running > 0 )); do
  wait -n || failed=1
  running=$((running - 1))
done

if (( failed )); then
  echo "run-test-binaries.sh: some shards failed (above)" >&2
  exit 1
fi
echo "run-test-binaries.sh: all shards of ${*} passed"
