#!/usr/bin/env bash
# Runs the CPU DCGAN-32 training-step benchmark (ours, then PyTorch with the same thread count) and writes
# benchmarks/results/cpu-dcgan32.md. usage: benchmarks/run_cpu_dcgan.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
threads=${OMP_NUM_THREADS:-$(nproc)}
bin="$build/benchmarks/cpu_dcgan_step"
[[ -x $bin ]] || { echo "error: $bin not found; build first (scripts/test.sh builds it)" >&2; exit 2; }
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "error: Debian's python3-torch is needed for the peer: apt-get install python3-torch" >&2; exit 2; }
out=benchmarks/results/cpu-dcgan32.md
load=$(cut -d' ' -f1-3 /proc/loadavg)  # other work on the machine skews both timings: recorded with them
blas=$(ldd "$bin" | awk '/libopenblas/ {print $3}')
# Ours re-runs itself with OPENBLAS_CORETYPE set when OpenBLAS misreads the CPU (kernels/blas_core.h); PyTorch,
# which also loads OpenBLAS, runs with the same setting so both use the same BLAS kernels.
ours_out=$(OMP_NUM_THREADS=$threads "$bin" --benchmark_format=csv 2>&1)
ours=$(echo "$ours_out" | grep '^"BM_')
blas_core=$(echo "$ours_out" | sed -n 's/^blas_core: //p' | head -n1)
peer=$(OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$blas_core} /usr/bin/python3 benchmarks/pytorch_cpu_dcgan_step.py \
  --threads "$threads" --batch 64 --iters 10)
ms_of() { echo "$ours" | grep "fused_bn:$1/" | cut -d, -f3 | awk '{printf "%.1f", $1}'; }
peer_ms=$(echo "$peer" | sed -E 's/.*ms_per_iter=([0-9.]+).*/\1/')
fused=$(ms_of 1); unfused=$(ms_of 0)
{
  echo "# CPU training step: DCGAN-32, batch 64"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown), date: $(date -u +%Y-%m-%d)"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), threads: $threads"
  echo "- load average before the run: $load; our OpenBLAS: ${blas:-?}, kernels ${blas_core:-?} (PyTorch, which calls the same OpenBLAS, ran with OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$blas_core})"
  echo "- model: nz 100, ngf = ndf = 64, 3 channels, Adam (2e-4, 0.5, 0.999), BCE-with-logits; D on real + fake, then G"
  echo
  echo "| implementation | ms / iteration | images / s | ratio to PyTorch |"
  echo "|---|---|---|---|"
  echo "| gan-engine (BN + activation fused) | $fused | $(awk "BEGIN{printf \"%.1f\", 64000/$fused}") | $(awk "BEGIN{printf \"%.2f\", $fused/$peer_ms}") |"
  echo "| gan-engine (unfused) | $unfused | $(awk "BEGIN{printf \"%.1f\", 64000/$unfused}") | $(awk "BEGIN{printf \"%.2f\", $unfused/$peer_ms}") |"
  echo "| PyTorch $(echo "$peer" | sed -E 's/.*torch=([^ ]+).*/\1/') eager (Debian python3-torch) | $peer_ms | $(awk "BEGIN{printf \"%.1f\", 64000/$peer_ms}") | 1.00 |"
  echo
  echo "Lower ratio is better (< 1: faster than PyTorch). Raw lines:"
  echo
  echo '```'
  echo "$ours"
  echo "$peer"
  echo '```'
} > "$out"
cat "$out"
