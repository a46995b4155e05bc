#!/usr/bin/python3
"""CPU training step, gan-engine against PyTorch, side by side: both in this one invocation, alternating.

For each model, ROUNDS rounds; each round runs our train_step_bench and then PyTorch's peer
(benchmarks/pytorch_train_step.py, eager, Debian's python3-torch), or the other way round in every other round,
each as a fresh process timing ITERS iterations after WARMUP warm-up ones. Both get the same environment:
OPENBLAS_CORETYPE (the OpenBLAS kernels gan-engine picks on this CPU, `gan info`; PyTorch calls the same
OpenBLAS when it is the system's BLAS), OMP_WAIT_POLICY (PASSIVE, gan-engine's default) and OMP_NUM_THREADS plus
PyTorch's set_num_threads (THREADS, default: every CPU), GAN_DEVICE=cpu. A ratio ours / PyTorch is taken per
round, and the table reports its median with the spread (min-max) over the rounds.

Models: dcgan32 (ours fused and unfused BN + activation, one peer), dcgan64, wgan_gp64 (train_step_bench.cpp's
header says what one iteration is); batch 64 unless --batch.

usage: cpu_vs_pytorch.py [--build build] [--models dcgan32,dcgan64,wgan_gp64] [--rounds 3] [--threads N]
                         [--iters M=N,...] [--warmup N] [--out FILE.jsonl] [--md FILE.md] [--title TEXT]
Writes the measurements as JSON lines to --out (default benchmarks/results/cpu-train-step.jsonl; the first line
holds the conditions) and prints the table (also to --md when given). benchmarks/make_train_step_table.py reads
the JSON lines for the CPU rows of train-step.md. Standard library only; PyTorch runs as /usr/bin/python3.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_train_step_table as table  # noqa: E402  (the renderer of the CPU table)

PYTHON = "/usr/bin/python3"  # Debian's, which has python3-torch; another python on PATH may not
DEFAULT_ITERS = {"dcgan32": 20, "dcgan64": 4, "wgan_gp64": 2}  # about 5-20 s per side on 2 cores
# ours: the train_step_bench flags that select a model; theirs: pytorch_train_step.py's.
OURS_FLAGS = {"dcgan32": ["--train_batches=", "--train_wgan_batches=", "--train_dcgan32_batches={b}"],
              "dcgan64": ["--train_batches={b}", "--train_wgan_batches="],
              "wgan_gp64": ["--train_batches=", "--train_wgan_batches={b}"]}
PEER_FLAGS = {"dcgan32": ["--models", "dcgan32", "--dcgan32-batches", "{b}"],
              "dcgan64": ["--models", "dcgan64", "--batches", "{b}"],
              "wgan_gp64": ["--models", "wgan_gp64", "--wgan-batches", "{b}"]}


def die(msg):
    print(f"cpu_vs_pytorch.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def run(cmd, env):
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        die(f"{shlex.join(cmd)} exited {p.returncode}:\n{p.stderr.strip()[-2000:]}")
    return p.stdout, time.monotonic() - t0


def git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def ours_once(bench, model, batch, iters, warmup, env):
    flags = [f.format(b=batch) for f in OURS_FLAGS[model]]
    cmd = [bench, *flags, f"--benchmark_min_time={iters}x", f"--train_warmup={warmup}", "--benchmark_format=json"]
    out, secs = run(cmd, env)
    data = json.loads(out)
    res = {}
    for b in data["benchmarks"]:
        m = table.NAME_RE.search(b["name"])
        if b.get("error_occurred"):
            die(f"{b['name']}: {b.get('error_message')}")
        res[m.group(1)] = b["real_time"] * table.TO_MS[b.get("time_unit", "ms")]
    return res, data.get("context", {}), cmd, secs


def peer_once(model, batch, iters, warmup, threads, env):
    flags = [f.format(b=batch) for f in PEER_FLAGS[model]]
    cmd = [PYTHON, os.path.join(HERE, "pytorch_train_step.py"), "--device", "cpu", *flags, "--modes", "eager",
           "--iters", str(iters), "--warmup", str(warmup), "--threads", str(threads)]
    out, secs = run(cmd, env)
    for line in out.splitlines():
        if line.startswith("pytorch_train_step "):
            f = table.parse_fields(line)
            if f.get("status") != "ok":
                die(f"PyTorch {model}: {line}")
            return float(f["ms_per_iter"]), f, [l for l in out.splitlines() if l.startswith("#")], cmd, secs
    die(f"PyTorch {model}: no result line in:\n{out[-2000:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--models", default="dcgan32,dcgan64,wgan_gp64")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="alternations (at least 3 for a record)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", default="", help="timed iterations per process, e.g. dcgan64=4,wgan_gp64=2")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "cpu-train-step.jsonl"))
    ap.add_argument("--md", default=None, help="also write the table to this file")
    ap.add_argument("--title", default="CPU training step: gan-engine vs PyTorch, side by side")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in OURS_FLAGS:
            ap.error(f"unknown model {m!r}; known: {', '.join(OURS_FLAGS)}")
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    iters = dict(DEFAULT_ITERS)
    for item in filter(None, args.iters.split(",")):
        k, _, v = item.partition("=")
        if k not in iters or not v.isdigit() or int(v) < 1:
            ap.error(f"--iters: expected MODEL=N with N >= 1, got {item!r}")
        iters[k] = int(v)
    bench = os.path.join(args.build, "benchmarks", "train_step_bench")
    gan = os.path.join(args.build, "apps", "gan")
    for p, what in ((bench, "train_step_bench (configure with -DGAN_BUILD_BENCHMARKS=ON)"), (gan, "gan")):
        if not os.access(p, os.X_OK):
            die(f"{p} not found: build {what} first")
    if subprocess.run([PYTHON, "-c", "import torch"], capture_output=True).returncode != 0:
        die(f"{PYTHON} cannot import torch: apt-get install python3-torch")

    # One environment for both sides. gan-engine would set OPENBLAS_CORETYPE and OMP_WAIT_POLICY itself
    # (kernels/thread_policy.h); setting them here gives PyTorch the same and keeps ours from re-executing.
    env = {k: v for k, v in os.environ.items() if k != "GAN_REEXEC_ADDED"}
    env.update(GAN_DEVICE="cpu", OMP_NUM_THREADS=str(args.threads),
               OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    if not os.environ.get("OPENBLAS_CORETYPE"):
        info = subprocess.run([gan, "info"], capture_output=True, text=True, env=env).stdout
        core = re.search(r"cpu blas kernels: (\S+)", info)
        if core and core.group(1) not in ("unknown", "Prescott"):
            env["OPENBLAS_CORETYPE"] = core.group(1)
    shared = {k: env[k] for k in ("OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GAN_DEVICE") if k in env}

    head = {"kind": "conditions", "commit": git("rev-parse", "--short=12", "HEAD") or "unknown",
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, {cpu_model()}", "kernel": platform.release(),
            "threads": args.threads, "env": shared, "rounds": args.rounds, "warmup": args.warmup,
            "iters": {m: iters[m] for m in models}, "batch": args.batch, "load_before": loadavg()}
    records = [head]
    print(f"cpu_vs_pytorch.py: {', '.join(models)} at batch {args.batch}, {args.rounds} rounds, env {shared}, "
          f"load {head['load_before']}", flush=True)
    for model in models:
        for r in range(args.rounds):
            order = ("ours", "pytorch") if r % 2 == 0 else ("pytorch", "ours")
            for side in order:
                if side == "ours":
                    res, ctx, cmd, secs = ours_once(bench, model, args.batch, iters[model], args.warmup, env)
                    head.setdefault("blas_core", ctx.get("blas_core", "?"))
                    for variant, ms in res.items():
                        records.append({"kind": "run", "model": variant, "peer_model": model, "batch": args.batch,
                                        "round": r, "side": "ours", "first": order[0] == "ours", "ms": ms,
                                        "iters": iters[model]})
                else:
                    ms, fields, notes, cmd, secs = peer_once(model, args.batch, iters[model], args.warmup,
                                                             args.threads, env)
                    head.setdefault("torch", fields.get("torch", "?"))
                    head.setdefault("torch_notes", notes)
                    records.append({"kind": "run", "model": model, "peer_model": model, "batch": args.batch,
                                    "round": r, "side": "pytorch", "first": order[0] == "pytorch", "ms": ms,
                                    "iters": iters[model]})
                shown = ", ".join(f"{rec['model']} {rec['ms']:.1f} ms" for rec in records[1:]
                                  if (rec["round"], rec["side"], rec["peer_model"]) == (r, side, model))
                print(f"  {model} round {r + 1}/{args.rounds} {side}: {shown} ({secs:.0f} s)", flush=True)
    head["load_after"] = loadavg()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    out_rel = os.path.relpath(os.path.abspath(args.out), ROOT)
    md = table.render_cpu_pairs(records, title=args.title,
                                source=os.path.basename(args.out) if out_rel.startswith("..") else out_rel)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    print(md)
    print(f"wrote {args.out}" + (f" and {args.md}" if args.md else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
