#!/usr/bin/env bash
# Builds the GPU check bundle: gan-engine in Release for sm_90 (H100/H200) with the CUDA backend, then the test
# and benchmark programs, the shared libraries they need that a bare CUDA machine lacks (OpenBLAS, GoogleTest,
# Google Benchmark, libgomp, libgfortran...), the tests' data files and a manifest, packed into gpu-bundle/
# (ignored by git) next to its runner. The GPU machine then needs only a driver, the CUDA 13 runtime libraries
# (cuBLAS) and cuDNN 9, which it has (cuDNN from its Python environment's nvidia-cudnn-cu13 package).
#
# usage:  scripts/gpu-bundle.sh [extra CMake arguments]
#   BUILD_DIR   build folder (default build-gpu)        JOBS  build parallelism (default: nproc)
#   BUNDLE_DIR  output folder (default gpu-bundle)      GAN_BUNDLE_SKIP_BUILD=1  collect what BUILD_DIR holds
#
# Then run it on the GPU machine (the device tool carries gpu-bundle, and runs from the repository root):
#   gpu-bundle/run.sh
# which prints the GPU, driver and library versions, runs every test label, compute-sanitizer memcheck on the gpu
# label and the benchmarks (train_step_bench among them, then its PyTorch peer with the machine's python3), and
# writes the record $OUT/gpu-check.md (plus logs, train_step_bench.json/.csv, pytorch_train_step.txt and
# train-step.md) in about 10 minutes at most; it exits 0 even when tests fail (the record is the result; its first
# line says PASS or FAIL). Commit the record as benchmarks/results/gpu-check.md. A second command,
#   gpu-bundle/run.sh --only-train-step
# gives the training-step comparison (ours vs PyTorch eager and torch.compile) the whole budget; turn its outputs
# into benchmarks/results/train-step.md with benchmarks/make_train_step_table.py. `gpu-bundle/run.sh --help` lists
# the runner's options.
#
# What travels is small: gpu-bundle/ holds run.sh, gpu_check.py (scripts/gpu_check.py), pytorch_train_step.py and
# make_train_step_table.py (from benchmarks/) and payload.tar.xz, the programs and libraries compressed (OpenBLAS
# alone is 36 MiB unpacked, and every program carries the same CUDA kernels); the script refuses to leave a bundle
# over 60 MiB, since a device run carries at most 64 MiB in all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
build=${BUILD_DIR:-build-gpu}
bundle=${BUNDLE_DIR:-gpu-bundle}
jobs=${JOBS:-$(nproc)}
max_bytes=$((60 * 1024 * 1024))

die() { echo "gpu-bundle.sh: error: $*" >&2; exit 1; }
command -v xz >/dev/null || die "xz not found (apt-get install xz-utils)"

# ---- build -------------------------------------------------------------------------------------------------------
if [[ ${GAN_BUNDLE_SKIP_BUILD:-0} != 1 ]]; then
  launcher=()
  command -v ccache >/dev/null &&
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGAN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DGAN_BUILD_BENCHMARKS=ON "${launcher[@]}" "$@" || die "configure failed"
  cmake --build "$build" -j"$jobs" || die "build failed (see above); nothing was bundled"
fi
grep -q '^GAN_CUDA:STRING=ON' "$build/CMakeCache.txt" 2>/dev/null ||
  die "$build is not a GAN_CUDA=ON build; the bundle is for a GPU machine"

# ---- collect -----------------------------------------------------------------------------------------------------
stage=$(mktemp -d "${TMPDIR:-/tmp}/gan-gpu-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/bench" "$stage/lib" "$stage/data"

is_program() { [[ -f $1 && -x $1 && $(head -c4 "$1" | tr -d '\0') == $'\x7fELF' ]]; }
# Test binaries: one per label, tests/gan_<label>_tests.
for f in "$build"/tests/gan_*_tests; do is_program "$f" && cp "$f" "$stage/bin/"; done
# Benchmark programs: every executable in the benchmarks folder (cuda_*, train_step_bench, whatever exists), but
# busy_cpu_step: a CPU-only program (benchmarks/run_busy_cpu.py), not a Google Benchmark one.
for f in "$build"/benchmarks/*; do
  is_program "$f" && [[ $(basename "$f") != busy_cpu_step ]] && cp "$f" "$stage/bench/"
done
ls "$stage/bin"/gan_*_tests >/dev/null 2>&1 || die "no test binaries in $build/tests"
strip --strip-unneeded "$stage"/bin/* "$stage"/bench/* 2>/dev/null || true

# Shared libraries a bare CUDA machine lacks: everything ldd resolves except the C/C++ runtime every Linux has and
# the NVIDIA libraries (driver, CUDA runtime, cuBLAS, cuDNN), which must come from the GPU machine's own install
# to match its driver. One that does not resolve here is named in a warning and the manifest; the runner's ldd
# check on the GPU machine then says whether it is there.
system_lib='^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libresolv|libutil)\.so'
nvidia_lib='^lib(cuda|cudart|cublas|cublasLt|cudnn[a-z_]*|nvrtc|nvJitLink|cufft|curand|cusparse|cusolver|nccl|nvidia-[a-z-]*)\.so'
missing=()
while read -r name path; do
  [[ $name =~ $system_lib || $name =~ $nvidia_lib ]] && continue
  if [[ $path == "not found" ]]; then missing+=("$name"); continue; fi
  [[ -e $stage/lib/$name ]] || cp -L "$path" "$stage/lib/$name"
done < <(for f in "$stage"/bin/* "$stage"/bench/*; do
           ldd "$f" | awk '/=>/ { if ($3 == "not") print $1, "not found"; else print $1, $3 }'
         done | sort -u)
(( ${#missing[@]} == 0 )) || echo "gpu-bundle.sh: warning: not found here, left to the GPU machine: ${missing[*]}" >&2

# Test data: every file under tests/ that is not source (tests/golden/data/*.safetensors, ...), at the same
# relative paths; the runner points GAN_TEST_DATA_DIR at data/tests.
mkdir -p "$stage/data/tests"
(cd tests && find . -type f ! -name '*.cpp' ! -name '*.h' ! -name '*.py' ! -name CMakeLists.txt ! -name '*.md' \
  -exec cp --parents {} "$stage/data/tests/" \;)

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo yes || echo no)
nvcc=$(grep '^CMAKE_CUDA_COMPILER:' "$build/CMakeCache.txt" | cut -d= -f2 || true)
python3 - "$stage/manifest.json" "$commit" "$dirty" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "$(uname -srm), $(. /etc/os-release && echo "$PRETTY_NAME")" \
  "$("$nvcc" --version 2>/dev/null | grep -m1 '^Cuda compilation tools' || echo unknown)" \
  "$(grep '^CMAKE_CUDA_ARCHITECTURES:' "$build/CMakeCache.txt" | cut -d= -f2 || true)" \
  "$(awk '/define CUDNN_(MAJOR|MINOR|PATCHLEVEL) /{v = v (v ? "." : "") $3} END{print v}' \
     /usr/local/cuda/include/cudnn_version.h 2>/dev/null)" \
  "${missing[*]}" <<'EOF'
import json, sys
keys = ["commit", "dirty", "built", "build_host", "nvcc", "cuda_architectures", "cudnn_headers", "libs_not_found"]
m = dict(zip(keys, sys.argv[2:]))
m["dirty"] = m["dirty"] == "yes"
m["libs_not_found"] = m["libs_not_found"].split()
json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF

# ---- pack --------------------------------------------------------------------------------------------------------
rm -rf "$bundle"
mkdir -p "$bundle"
tar -C "$stage" -cf - . | xz -T"$jobs" -6 > "$bundle/payload.tar.xz"
cp scripts/gpu_check.py "$bundle/gpu_check.py"
# The training-step benchmark's PyTorch peer and the table maker, run by gpu_check.py with the GPU machine's python3.
cp benchmarks/pytorch_train_step.py benchmarks/make_train_step_table.py "$bundle/"
cat > "$bundle/run.sh" <<'EOF'
#!/usr/bin/env bash
# The GPU check runner (scripts/gpu_check.py; built by scripts/gpu-bundle.sh): writes $OUT/gpu-check.md.
exec python3 "$(dirname "${BASH_SOURCE[0]}")/gpu_check.py" "$@"
EOF
chmod +x "$bundle/run.sh" "$bundle/gpu_check.py" "$bundle/pytorch_train_step.py" "$bundle/make_train_step_table.py"

unpacked=$(du -sb "$stage" | cut -f1)
packed=$(du -sb "$bundle" | cut -f1)
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
echo "gpu-bundle.sh: $bundle/ is $((packed / 1024)) KiB ($((unpacked / 1024)) KiB unpacked): $(ls "$stage/bin" | xargs),"\
     "$(ls "$stage/bench" | wc -l) benchmark programs, libs: $(ls "$stage/lib" | xargs)"
echo "gpu-bundle.sh: commit ${commit:0:12}$([[ $dirty == yes ]] && echo ' (working tree has uncommitted changes)');"\
     "with the tracked tree ($((tracked / 1024)) KiB) a device run carries about $(((packed + tracked) / 1048576)) MiB of 64"
(( packed <= max_bytes )) || die "$bundle/ is over $((max_bytes / 1048576)) MiB"
