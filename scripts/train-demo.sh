#!/usr/bin/env bash
# The main job on a fresh machine: install the packages, build `gan` (Release), train DCGAN on Fashion-MNIST and
# print where the run's report is.
#
#   scripts/train-demo.sh [extra cmake args...]      e.g. scripts/train-demo.sh -DGAN_CUDA=OFF
#
# What it trains depends on the device `gan` picks (CUDA when built with it and a GPU is present, else the CPU;
# GAN_DEVICE=cpu forces the CPU):
#   GPU: DCGAN as in the paper (widths 64, batch 128) for 5 epochs of Fashion-MNIST at its native 28 pixels.
#   CPU: DCGAN with widths 32 (G 347k, D 37k parameters), batch 64, 3000 steps (3.2 epochs): meant to finish
#        within about 10 minutes on 2 cores and already show recognizable clothing (see the report's grids).
#
# Environment:
#   BUILD_DIR        build directory (default: build)
#   RUN_DIR          run directory to write (default: runs/demo-<model>-<date>)
#   DEMO_STEPS       override the number of training steps
#   GAN_SKIP_SETUP=1 skip scripts/setup.sh (non-Debian machines)
#   GAN_SKIP_BUILD=1 use the `gan` already built in BUILD_DIR
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
build_dir=${BUILD_DIR:-build}
jobs=$(nproc 2>/dev/null || echo 2)

if [[ "${GAN_SKIP_SETUP:-0}" != 1 ]]; then
  scripts/setup.sh  # also installs the data: Debian's dataset-fashion-mnist
fi

if [[ "${GAN_SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@"
  cmake --build "$build_dir" -j "$jobs" --target gan
fi
gan="$build_dir/apps/gan"
[[ -x "$gan" ]] || { echo "train-demo.sh: error: $gan was not built" >&2; exit 1; }


device=$("$gan" info | sed -n 's/^default device: //p')
if [[ "$device" == cuda* ]]; then
  args=(--model dcgan --data fashion-mnist --batch 128 --epochs 5 --sample-every 250 --checkpoint-every 1000)
  [[ -n "${DEMO_STEPS:-}" ]] && args=(--model dcgan --data fashion-mnist --batch 128 --steps "$DEMO_STEPS")
else
  args=(--model dcgan --data fashion-mnist --batch 64 --ngf 32 --ndf 32 --steps "${DEMO_STEPS:-3000}"
        --sample-every 250 --checkpoint-every 1000)
fi
run_dir=${RUN_DIR:-runs/demo-dcgan-$(date +%Y%m%d-%H%M%S)}

echo "train-demo.sh: training on $device: gan train ${args[*]} --out $run_dir"
status=0
"$gan" train "${args[@]}" --out "$run_dir" || status=$?
if [[ -f "$run_dir/report.html" ]]; then
  echo
  echo "Report:  $(cd "$run_dir" && pwd)/report.html"
  echo "Samples: $gan sample --run $run_dir --n 64 --out samples.png"
  (( status == 130 )) && echo "Interrupted; continue with: $gan train --resume $run_dir"
fi
exit "$status"
