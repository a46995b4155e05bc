#!/usr/bin/python3
"""The CPU demo's training step next to a competing CPU-bound process: gan-engine's default threading policy
against OMP_WAIT_POLICY=PASSIVE set by hand, and against libgomp's own default (spin-waiting, what `gan` did
before the policy), alternating, in one invocation. Writes benchmarks/results/busy-cpu.md.

The program timed is benchmarks/busy_cpu_step.cpp, a plain program linking gan-engine that sets nothing itself
(the zoo's dcgan with widths 32, batch 64, Fashion-MNIST through the data loader). Arms, each a fresh process,
in rotating order within every round:
  default   no OMP_WAIT_POLICY / GOMP_SPINCOUNT: whatever the library does (kernels/thread_policy.h)
  passive   OMP_WAIT_POLICY=PASSIVE
  spin      GOMP_SPINCOUNT=300000: libgomp's default when OMP_WAIT_POLICY is unset, i.e. the old behaviour
The busy part runs COMPETITORS CPU-bound processes (a Python busy loop each, default 1) for its whole length; an
idle part (IDLE rounds, no competitor) then times default against spin, which is what the policy costs on a
CPU with nothing else to do (meaningful only when the machine is otherwise quiet: the load average is recorded).
The ratios are per round (default / passive, spin / passive; idle: default / spin), reported as median and range.

usage: run_busy_cpu.py [--build build] [--rounds 5] [--idle-rounds 3] [--steps 30] [--warmup 3]
                       [--competitors 1] [--data fashion-mnist] [--out benchmarks/results/busy-cpu.md]
Takes about (rounds * (2 + spin slowdown) + idle_rounds * 2) * steps * step time: some 3-5 minutes on 2 cores.
"""
import argparse
import datetime
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "GAN_REEXEC", "GAN_REEXEC_ADDED")
ARMS = {"default": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}, "spin": {"GOMP_SPINCOUNT": "300000"}}


def die(msg):
    print(f"run_busy_cpu.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def spread(xs, digits=2):
    return f"{median(xs):.{digits}f} ({min(xs):.{digits}f}-{max(xs):.{digits}f})"


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def git(*args):
    return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True).stdout.strip()


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def measure(program, arm, args):
    env = {k: v for k, v in os.environ.items() if k not in POLICY_VARS}
    env.update(ARMS[arm])
    cmd = [program, "--steps", str(args.steps), "--warmup", str(args.warmup), "--data", args.data]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    line = next((l for l in p.stdout.splitlines() if l.startswith("busy_cpu_step ")), None)
    if p.returncode != 0 or line is None:
        die(f"{' '.join(cmd)} ({arm}) exited {p.returncode}: {p.stderr.strip()[-1500:]}")
    body, _, policy = line.partition(" policy=")
    fields = dict(tok.split("=", 1) for tok in body.split()[1:])
    return {"ms": float(fields["ms_per_step"]), "median_ms": float(fields["median_ms"]),
            "threads": fields["threads"], "policy": policy, "wall_s": time.monotonic() - t0, "line": line}


def run_rounds(program, arms, rounds, args, label, raw):
    results = {a: [] for a in arms}
    for r in range(rounds):
        order = arms[r % len(arms):] + arms[:r % len(arms)]  # rotate who goes first
        for arm in order:
            m = measure(program, arm, args)
            results[arm].append(m)
            raw.append(f"{label} round {r + 1} {arm}: {m['line']}")
            print(f"  {label} round {r + 1}/{rounds} {arm}: {m['ms']:.1f} ms/step ({m['wall_s']:.0f} s)", flush=True)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--idle-rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--competitors", type=int, default=1)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "busy-cpu.md"))
    args = ap.parse_args()
    if args.rounds < 1 or args.steps < 1 or args.competitors < 1:
        ap.error("--rounds, --steps and --competitors must be at least 1")
    program = os.path.join(args.build, "benchmarks", "busy_cpu_step")
    if not os.access(program, os.X_OK):
        die(f"{program} not found: build it (configure with -DGAN_BUILD_BENCHMARKS=ON)")

    load_before = loadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    raw = []
    print(f"run_busy_cpu.py: {args.competitors} competing process(es), {args.rounds} rounds of "
          f"{', '.join(ARMS)}, {args.steps} steps each; load {load_before}", flush=True)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.competitors)]
    try:
        time.sleep(1.0)  # let the competitors get going
        busy = run_rounds(program, list(ARMS), args.rounds, args, "busy", raw)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    load_mid = loadavg()
    idle = run_rounds(program, ["default", "spin"], args.idle_rounds, args, "idle", raw) if args.idle_rounds else {}
    load_after = loadavg()

    def ratios(res, a, b):
        return [x["ms"] / y["ms"] for x, y in zip(res[a], res[b])]

    rounds_note = "" if args.rounds >= 3 else \
        f"\n**{args.rounds} round(s) only: a check that the script runs, not a measurement to quote.**\n"
    md = [
        "# Training step on a busy CPU: gan-engine's threading policy",
        "",
        "The CPU demo's step (the zoo's dcgan, widths 32, batch 64, Fashion-MNIST at 28 px through the data loader) "
        "timed by benchmarks/busy_cpu_step.cpp, a plain program that links gan-engine and sets nothing itself, "
        f"while {args.competitors} CPU-bound process(es) (a Python busy loop) run beside it. Arms, each a fresh "
        "process timing "
        f"{args.steps} steps after {args.warmup} warm-up, in rotating order every round (benchmarks/run_busy_cpu.py):"
        " **default**: no wait-policy variable, so whatever the library does (kernels/thread_policy.h); "
        "**passive**: OMP_WAIT_POLICY=PASSIVE set by hand; **spin**: GOMP_SPINCOUNT=300000, libgomp's default "
        "when OMP_WAIT_POLICY is unset, which is how `gan` ran before the policy. Ratios are taken within a round "
        "and given as median (min-max) over the rounds. Target: default / passive <= 1.2.",
        "",
        f"- commit {git('rev-parse', '--short=12', 'HEAD') or '?'}"
        f"{' (uncommitted changes)' if git('status', '--porcelain', '--untracked-files=no') else ''}, "
        f"{started.strftime('%Y-%m-%d %H:%M UTC')}; machine: {os.cpu_count()} cores, {cpu_model()}, "
        f"Linux {platform.release()}",
        f"- OpenMP threads: {busy['default'][0]['threads']}; the default arm reported: "
        f"`{busy['default'][0]['policy']}`",
        f"- load average (1, 5, 15 min): before {load_before}, after the busy part {load_mid}, at the end "
        f"{load_after} (the competitors count in it)",
        rounds_note,
        "| part | rounds | default ms/step | passive ms/step | spin ms/step | default / passive | spin / passive "
        "| default / spin |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| busy ({args.competitors} competitor) | {args.rounds} | "
        f"{spread([x['ms'] for x in busy['default']], 1)} | {spread([x['ms'] for x in busy['passive']], 1)} | "
        f"{spread([x['ms'] for x in busy['spin']], 1)} | {spread(ratios(busy, 'default', 'passive'))} | "
        f"{spread(ratios(busy, 'spin', 'passive'))} | {spread(ratios(busy, 'default', 'spin'))} |",
    ]
    if idle:
        md.append(f"| idle (no competitor) | {args.idle_rounds} | {spread([x['ms'] for x in idle['default']], 1)} | "
                  f"- | {spread([x['ms'] for x in idle['spin']], 1)} | - | - | "
                  f"{spread(ratios(idle, 'default', 'spin'))} |")
    md += ["", "ms/step: the mean over a process's timed steps; cells: median (min-max) over the rounds.", "",
           "Raw lines:", "", "```", *raw, "```", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
