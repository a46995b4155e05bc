#!/usr/bin/env bash
# Sample quality of the zoo on Fashion-MNIST, measured with `gan eval`, written to benchmarks/results/quality.md:
#   1. reference rows: FD(training images, test set), the floor, and FD(uniform noise, test set);
#   2. every zoo model trained for the same wall-clock budget (BUDGET_S seconds, interrupted with SIGINT, which
#      checkpoints), then evaluated on 10000 samples;
#   3. the peer: PyTorch's DCGAN with our dcgan's architecture and settings, trained for as many steps as ours
#      reached (benchmarks/pytorch_dcgan_reference.py), its samples evaluated the same way: FD(ours) / FD(PyTorch).
# The first `gan eval` trains the Fashion-MNIST classifier when its cached weights are missing (minutes).
#
# usage: benchmarks/run_quality.sh [BUILD_DIR]        (default: build; needs BUILD_DIR/apps/gan)
#   BUDGET_S   training seconds per model (default 180)     MODELS  which models (default: the whole zoo)
#   RUNS_DIR   where the runs go (default runs/quality)      N       samples per evaluation (default 10000)
#   GAN_DEVICE as for gan (cpu or cuda)                      SKIP_PEER=1  leave out the PyTorch row
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
gan="$build/apps/gan"
[[ -x $gan ]] || { echo "run_quality.sh: error: $gan not found; build first (scripts/test.sh)" >&2; exit 2; }
budget=${BUDGET_S:-180}
runs=${RUNS_DIR:-runs/quality}
n=${N:-10000}
models=${MODELS:-gan dcgan cgan wgan wgan-gp lsgan infogan unrolled vae ae}
py=/usr/bin/python3  # Debian's python3 (python3-torch for the peer); other pythons on PATH may lack it
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # gan's own default (kernels/thread_policy.h); the peer too
mkdir -p "$runs"
results="$runs/results.jsonl"  # one JSON object per row, turned into the table at the end
: > "$results"

device=$("$gan" info | sed -n 's/^default device: //p')
echo "run_quality.sh: device $device, budget ${budget} s per model, $n samples per evaluation, runs in $runs"

# row NAME KIND DETAIL EVAL_JSON [TRAIN_SECONDS]: appends the eval figures of one row to results.jsonl.
row() {
  "$py" - "$@" >> "$results" <<'EOF'
import json, sys
name, kind, detail, path = sys.argv[1:5]
train_s = float(sys.argv[5]) if len(sys.argv) > 5 else None
e = json.load(open(path))["eval"]
print(json.dumps({"name": name, "kind": kind, "detail": detail, "train_s": train_s, **e}))
EOF
}

# eval_folder NAME DETAIL FOLDER: gan eval --samples, its figures kept next to the folder.
eval_folder() {
  local name=$1 detail=$2 folder=$3
  "$gan" eval --samples "$folder" --n "$n" --json "$folder.eval.json"
  row "$name" reference "$detail" "$folder.eval.json"
}

# ---- references ----
ref="$runs/reference"
[[ -d $ref/train ]] || "$py" benchmarks/export_reference_pngs.py train "$ref/train" --n "$n" --seed 0
[[ -d $ref/noise ]] || "$py" benchmarks/export_reference_pngs.py noise "$ref/noise" --n "$n" --seed 0
eval_folder "training images" "$n random Fashion-MNIST training images (the floor)" "$ref/train"
eval_folder "uniform noise" "$n images of independent uniform pixel noise" "$ref/noise"

# ---- the zoo, same budget each ----
flags_of() {
  case $1 in
    gan) echo "--hidden 256" ;;
    vae | ae) echo "" ;;
    *) echo "--ngf 32 --ndf 32" ;;
  esac
}
for m in $models; do
  dir="$runs/$m"
  rm -rf "$dir"
  # shellcheck disable=SC2046  # flags_of's words are separate arguments
  cmd=("$gan" train --model "$m" $(flags_of "$m") --data fashion-mnist --batch 64 --seed 0 --steps 100000000
       --sample-every 500 --checkpoint-every 1000000 --progress-every 30 --out "$dir")
  echo "run_quality.sh: $m: ${cmd[*]:1} (stopped after ${budget} s)"
  start=$SECONDS
  status=0
  timeout --preserve-status -s INT "$budget" "${cmd[@]}" || status=$?
  (( status == 0 || status == 130 )) || { echo "run_quality.sh: $m: gan train failed (exit $status)" >&2; exit 1; }
  secs=$((SECONDS - start))
  "$gan" eval --run "$dir" --n "$n" --seed 0
  "$gan" sample --run "$dir" --n 64 --seed 0 --out "$dir/eval-samples.png" > /dev/null
  detail="gan train --model $m $(flags_of "$m")"
  row "$m" model "${detail% } --batch 64" "$dir/eval.json" "$secs"
done

# ---- the PyTorch peer ----
if [[ ${SKIP_PEER:-0} != 1 && -f $runs/dcgan/eval.json ]]; then
  if "$py" -c 'import torch' 2>/dev/null; then
    steps=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["eval"]["step"])' "$runs/dcgan/eval.json")
    peer="$runs/pytorch-dcgan"
    rm -rf "$peer"
    start=$SECONDS
    "$py" benchmarks/pytorch_dcgan_reference.py --steps "$steps" --batch 64 --ngf 32 --ndf 32 --seed 0 \
      --n-samples "$n" --threads "$(nproc)" --out "$peer"
    secs=$((SECONDS - start))
    eval_folder "PyTorch dcgan" "benchmarks/pytorch_dcgan_reference.py, $steps steps (as many as ours reached)" "$peer"
    "$py" - "$results" "$secs" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows[-1]["kind"] = "peer"; rows[-1]["train_s"] = float(sys.argv[2])
open(sys.argv[1], "w").write("".join(json.dumps(r) + "\n" for r in rows))
EOF
  else
    echo "run_quality.sh: no torch in $py (apt-get install python3-torch): PyTorch peer left out" >&2
  fi
fi

# ---- the table ----
"$py" - "$results" "$budget" "$device" "$n" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  > benchmarks/results/quality.md <<'EOF'
import datetime, json, sys
path, budget, device, n, commit, machine = sys.argv[1:7]
rows = [json.loads(l) for l in open(path)]
acc = next((r["classifier_test_accuracy"] for r in rows if "classifier_test_accuracy" in r), None)
print("# Sample quality on Fashion-MNIST (`gan eval`)\n")
print(f"- commit {commit}, {datetime.date.today()}, device {device}, machine: {machine}")
print(f"- measure: Frechet distance between the penultimate features (128-d) of our own Fashion-MNIST classifier"
      f" on {n} generated images and on the 10000 test images; precision/recall with k = 3 (Kynkaanniemi 2019)")
if acc is not None:
    print(f"- classifier test accuracy: {acc:.4f}")
print(f"- zoo budget: {budget} s of training each on this machine (batch 64, seed 0, stopped with SIGINT, which"
      " checkpoints), so faster models take more steps; widths: --ngf 32 --ndf 32 for the conv GANs,"
      " --hidden 256 for gan, defaults for vae/ae")
print("- produced by benchmarks/run_quality.sh; lower FD is better\n")
print("| samples | steps | train s | FD | precision | recall | cgan class acc. / infogan NMI | what |")
print("|---|---|---|---|---|---|---|---|")
peer = next((r for r in rows if r["kind"] == "peer"), None)
ours = next((r for r in rows if r["name"] == "dcgan"), None)
for r in rows:
    extra = r.get("class_accuracy", r.get("code_class_nmi"))
    f = lambda k, d: f"{r[k]:.{d}f}" if r.get(k) is not None else ""
    print(f"| {r['name']} | {r.get('step', '')} | {f('train_s', 0)} | {f('fd', 2)} | {f('precision', 3)} "
          f"| {f('recall', 3)} | {'' if extra is None else f'{extra:.3f}'} | {r['detail']} |")
if peer and ours:
    print(f"\nFD(ours dcgan) / FD(PyTorch dcgan), same architecture, settings and {ours.get('step')} steps: "
          f"**{ours['fd'] / peer['fd']:.2f}** (< 1: ours is closer to the test set).")
EOF
echo "run_quality.sh: wrote benchmarks/results/quality.md"
