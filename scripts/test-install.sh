#!/usr/bin/env bash
# Checks the installed package the way a user of the library meets it: `cmake --install BUILD_DIR` into a
# temporary prefix, then examples/train_ring, a program outside the tree, built against that prefix twice
# (CMake: find_package(GanEngine); pkg-config: gan-engine.pc) and run for 100 training steps each. Also checks
# that the installed `gan` runs and that the startup object's OpenMP wait policy (kernels/thread_policy.h) reaches
# both programs: libgomp, asked to show its settings, must end up with GOMP_SPINCOUNT 0 (PASSIVE).
#
#   scripts/test-install.sh [BUILD_DIR]       (default: build, already built; CI runs it after scripts/test.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
[[ -f $build/CMakeCache.txt ]] || { echo "test-install.sh: error: $build is not a configured build" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/gan-install-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "test-install.sh: FAILED: $*" >&2; exit 1; }

# run_example NAME PROGRAM: 100 steps with libgomp's settings shown and no wait-policy variable of ours set.
run_example() {
  local out
  out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u GAN_REEXEC -u GAN_REEXEC_ADDED OMP_DISPLAY_ENV=verbose \
        "$2" 100 2>&1) || fail "$1: exit $?: $out"
  grep -q '^step  100 ' <<< "$out" || fail "$1: no line for step 100 in: $out"
  local spin
  spin=$(grep "GOMP_SPINCOUNT = " <<< "$out" | tail -n1 | cut -d"'" -f2)
  [[ $spin == 0 ]] || fail "$1: libgomp ran with GOMP_SPINCOUNT '$spin', not 0 (OMP_WAIT_POLICY=PASSIVE)"
  echo "test-install.sh: $1: $(grep '^step  100 ' <<< "$out"); libgomp GOMP_SPINCOUNT 0"
}

cmake --install "$build" --prefix "$prefix" > "$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
echo "test-install.sh: installed $(find "$prefix" -type f | wc -l) files into a temporary prefix"
"$prefix/bin/gan" info | grep -q '^gan-engine ' || fail "the installed gan does not run"

# CMake consumer.
cmake -S examples/train_ring -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configuring examples/train_ring"; }
cmake --build "$work/cmake-build" -j "$(nproc)" > "$work/build.log" 2>&1 ||
  { cat "$work/build.log"; fail "building examples/train_ring with find_package(GanEngine)"; }
run_example "find_package(GanEngine)" "$work/cmake-build/train_ring"

# pkg-config consumer.
libdir=$(sed -n "s/^CMAKE_INSTALL_LIBDIR:PATH=//p" "$build/CMakeCache.txt")
flags=$(PKG_CONFIG_PATH="$prefix/${libdir:-lib}/pkgconfig" pkg-config --cflags --libs gan-engine) || fail "pkg-config gan-engine"
# shellcheck disable=SC2086  # the flags are meant to split
g++ -O2 examples/train_ring/main.cpp $flags -o "$work/train_ring_pc" || fail "building with pkg-config: $flags"
run_example "pkg-config gan-engine" "$work/train_ring_pc"
