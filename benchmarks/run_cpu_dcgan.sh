#!/usr/bin/env bash
# The CPU DCGAN-32 training step (batch 64), gan-engine (BN + activation fused, and unfused) against Debian's
# PyTorch, side by side: benchmarks/cpu_vs_pytorch.py alternates both in this one invocation with the same
# environment and threads, and writes benchmarks/results/cpu-dcgan32.md (and .jsonl, which
# benchmarks/make_train_step_table.py reads for train-step.md). About 2 minutes on 2 cores with 3 rounds.
#
# usage: benchmarks/run_cpu_dcgan.sh [BUILD_DIR] [extra cpu_vs_pytorch.py arguments]   (default: build)
#   e.g. benchmarks/run_cpu_dcgan.sh build --rounds 5 --threads 2
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
shift || true
exec /usr/bin/python3 benchmarks/cpu_vs_pytorch.py --build "$build" --models dcgan32 \
  --out benchmarks/results/cpu-dcgan32.jsonl --md benchmarks/results/cpu-dcgan32.md \
  --title "CPU training step: DCGAN-32, batch 64, gan-engine vs PyTorch side by side" "$@"
