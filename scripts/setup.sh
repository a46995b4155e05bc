#!/usr/bin/env bash
# Installs the Debian packages gan-engine needs to build and test. Idempotent: prints nothing and exits 0 when
# everything is already installed; otherwise runs `apt-get update` once and installs only what is missing.
# (The CUDA toolkit is not a Debian package here; CMake finds it in /usr/local/cuda when present.)
set -euo pipefail

packages=(
  cmake make g++ pkg-config         # build tools (make: CMake's default generator; not pulled in by cmake
                                    # itself without recommends)
  libopenblas-dev                   # BLAS for CPU GEMM (and its LAPACK: dsyevd for the Frechet distance)
  libopenblas-openmp-dev            # its OpenMP flavour, which CMake prefers: one thread pool with our kernels'
                                    # (installs beside the default pthread flavour; the system default stays).
                                    # OpenMP itself is GCC's libgomp, which g++ brings (no libomp-dev).
  libgtest-dev libbenchmark-dev     # tests and benchmarks
  zlib1g-dev                        # gzip'd IDX datasets
  nlohmann-json3-dev                # configs, metrics, safetensors headers
  libcli11-dev                      # the `gan` command line
  libstb-dev                        # PNG writing (stb_image_write)
  libpng-dev libturbojpeg0-dev      # PNG and JPEG decoding (libpng, libjpeg-turbo)
  clang libclang-rt-14-dev          # scripts/fuzz.sh: libFuzzer targets under ASan+UBSan (tests/fuzz)
  dataset-fashion-mnist             # the fashion-mnist dataset (/usr/share/datasets/fashion-mnist)
  librsvg2-bin                      # rsvg-convert, for scripts/fetch-pokemon.sh
  chromium                          # headless browser for the report.html test (tests/apps/test_report_browser.cpp)
  libboost-context-dev              # fibers (fcontext) of the SIMT emulator build, GAN_CUDA=EMU
)
# npm (scripts/fetch-pokemon.sh): Debian's package, unless an npm is already there (NodeSource's nodejs bundles one
# and conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || packages+=(npm)

die() { echo "setup.sh: error: $*" >&2; exit 1; }

command -v dpkg-query >/dev/null 2>&1 ||
  die "dpkg-query not found: this script supports Debian/Ubuntu only. Install the equivalents of: ${packages[*]}
       by hand, then run scripts/test.sh with GAN_SKIP_SETUP=1."

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$pkg")
done
(( ${#missing[@]} == 0 )) && exit 0

command -v apt-get >/dev/null 2>&1 ||
  die "apt-get not found; cannot install the missing packages: ${missing[*]}"

sudo=()
if (( EUID != 0 )); then
  command -v sudo >/dev/null 2>&1 ||
    die "not root and sudo not found; as root run: apt-get install -y ${missing[*]}"
  sudo=(sudo)
  # With no terminal (CI), fail instead of hanging on a password prompt.
  [[ -t 0 ]] || sudo+=(-n)
fi

echo "setup.sh: installing missing packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update ||
  die "apt-get update failed"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
  die "apt-get install failed for: ${missing[*]}"
