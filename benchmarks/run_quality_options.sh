#!/usr/bin/env bash
# The issue-15 quality comparisons on Fashion-MNIST at equal steps, measured with `gan eval` (10000 samples vs the
# test set, as benchmarks/run_quality.sh), written as a section at the end of benchmarks/results/quality.md:
#   sngan vs dcgan (full training set); dcgan with vs without --r1 (full set); dcgan with vs without
#   --diffaugment color,translation,cutout on the first 6000 training images (--data-limit 6000, 10%); and (issue
#   11) dcgan in strict fp32 vs bf16 math (--precision; the CPU rounds conv and GEMM operands as a BF16 tensor
#   core does, kernels/math_mode.h), rows dcgan-fp32 and dcgan-bf16, not in the default ROWS.
# Every row: the same steps, batch 64, seed $SEED (0), --ngf 32 --ndf 32, one thread per run, two runs at a time.
#
# usage: benchmarks/run_quality_options.sh [BUILD_DIR]     (default: build; needs BUILD_DIR/apps/gan)
#   STEPS  training steps per row (default 200)   RUNS_DIR  where the runs go (default runs/quality-options)
#   N      samples per evaluation (default 10000) ROWS      which rows (default: all; names as below)
#   PARALLEL  runs at a time (default 2)          TABLE_ONLY=1  only write the section from finished rows
#   APPEND=1  add this budget's table to the section already there (another STEPS and RUNS_DIR)
#   SEED      the training seed (default 0; with APPEND=1, e.g. a second seed's table)
# A row whose run already has eval.json is not trained again, so slots may be run by separate invocations
# (e.g. ROWS=sngan PARALLEL=1 next to ROWS="dcgan dcgan-r1 ..." PARALLEL=1), then TABLE_ONLY=1 with every row.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
gan="$build/apps/gan"
[[ -x $gan ]] || { echo "run_quality_options.sh: error: $gan not found; build first" >&2; exit 2; }
steps=${STEPS:-200}
runs=${RUNS_DIR:-runs/quality-options}
n=${N:-10000}
py=/usr/bin/python3
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE  # two runs share the machine's cores
mkdir -p "$runs"

seed=${SEED:-0}
common="--data fashion-mnist --batch 64 --seed $seed --ngf 32 --ndf 32"
declare -A flags=(
  [dcgan]="--model dcgan"
  [sngan]="--model sngan"
  [dcgan-r1]="--model dcgan --r1 10 --r1-every 16"
  [dcgan-6000]="--model dcgan --data-limit 6000"
  [dcgan-6000-diffaugment]="--model dcgan --data-limit 6000 --diffaugment color,translation,cutout"
  [dcgan-fp32]="--model dcgan --precision fp32"
  [dcgan-bf16]="--model dcgan --precision bf16"
)
rows=${ROWS:-dcgan sngan dcgan-r1 dcgan-6000 dcgan-6000-diffaugment}

# train_eval ROW: trains the row's run (unless it already reached $steps), then evaluates it.
train_eval() {
  local row=$1 dir="$runs/$1"
  local cmd="$gan train ${flags[$row]} $common --steps $steps --sample-every 1000000 --checkpoint-every 1000000"
  cmd+=" --progress-every 60 --out $dir"
  if [[ ! -f $dir/eval.json ]]; then
    rm -rf "$dir"
    local start=$SECONDS
    # shellcheck disable=SC2086  # the command's words
    $cmd > "$runs/$row.log" 2>&1
    echo $((SECONDS - start)) > "$runs/$row.train_s"
    "$gan" eval --run "$dir" --n "$n" --seed 0 >> "$runs/$row.log" 2>&1
  fi
  echo "${cmd#"$gan" }" > "$runs/$row.cmd"
  echo "run_quality_options.sh: $row done"
}

if [[ ${TABLE_ONLY:-0} != 1 ]]; then
  # shellcheck disable=SC2086  # one word per row
  set -- $rows
  while (( $# > 0 )); do
    train_eval "$1" &
    first=$!
    second=
    if (( $# > 1 && ${PARALLEL:-2} > 1 )); then
      train_eval "$2" &
      second=$!
    fi
    wait "$first"
    if [[ -n $second ]]; then wait "$second"; shift 2; else shift 1; fi
  done
fi

# ---- the section of quality.md ----
"$py" - "$runs" "$steps" "$n" "$seed" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" $rows <<'EOF'
import datetime, json, os, sys
runs, steps, n, seed, commit, machine = sys.argv[1:7]
rows = sys.argv[7:]
marker = "<!-- benchmarks/run_quality_options.sh writes everything below -->"
out = [marker, "", "## sngan, R1, DiffAugment (issue 15) and bf16 math (issue 11) at equal steps", "",
       f"- commit {commit}, {datetime.date.today()}, device cpu, machine: {machine} (shared with other jobs: "
       "the train seconds are not comparable between rows, the steps are)",
       f"- every row {steps} steps, batch 64, seed {seed}, --ngf 32 --ndf 32, OMP_NUM_THREADS=1, two runs at a time; "
       f"gan eval --n {n} --seed 0 on the final checkpoint (FD against the 10000 test images, as above)",
       "- produced by benchmarks/run_quality_options.sh; lower FD is better", "",
       "| row | steps | train s | FD | precision | recall | command |", "|---|---|---|---|---|---|---|"]
for r in rows:
    d = os.path.join(runs, r)
    e = json.load(open(os.path.join(d, "eval.json")))["eval"]
    secs = open(os.path.join(runs, r + ".train_s")).read().strip()
    cmd = open(os.path.join(runs, r + ".cmd")).read().strip()
    cmd = cmd.split(" --sample-every")[0]
    out.append(f"| {r} | {e.get('step', '')} | {secs} | {e['fd']:.2f} | {e['precision']:.3f} | {e['recall']:.3f} "
               f"| `gan {cmd}` |")
path = "benchmarks/results/quality.md"
text = open(path).read()
if os.environ.get("APPEND") == "1" and marker in text:
    table = out[out.index("| row | steps | train s | FD | precision | recall | command |"):]
    out = [f"### {steps} steps, seed {seed} ({runs})", ""] + table
elif marker in text:
    text = text[:text.index(marker)]
open(path, "w").write(text.rstrip("\n") + "\n\n" + "\n".join(out) + "\n")
EOF
echo "run_quality_options.sh: wrote its section of benchmarks/results/quality.md"
