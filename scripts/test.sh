#!/usr/bin/env bash
# The one command that builds gan-engine and runs its tests on a fresh machine:
#   setup (Debian packages) -> configure -> build -> ctest.
#
#   scripts/test.sh [extra cmake args...]      e.g. scripts/test.sh -DGAN_CUDA=OFF
#
# Environment:
#   BUILD_DIR        build directory, relative to the repository root or absolute (default: build)
#   CTEST_ARGS       extra ctest arguments, e.g. CTEST_ARGS="-L gradcheck"
#   GAN_SKIP_SETUP=1 skip scripts/setup.sh (non-Debian machines, packages installed by other means)
# Extra cmake args come after -DCMAKE_BUILD_TYPE=Release, so they can override it.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

build_dir=${BUILD_DIR:-build}
jobs=$(nproc 2>/dev/null || echo 2)

if [[ "${GAN_SKIP_SETUP:-0}" != 1 ]]; then
  scripts/setup.sh
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" -j "$jobs"

# Word-split CTEST_ARGS on purpose: it holds several arguments ("-L gradcheck -R Conv").
read -r -a ctest_args <<< "${CTEST_ARGS:-}"
# --no-tests=error: a build that silently produced no tests is a failure, not a pass.
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j "$jobs" "${ctest_args[@]}"
