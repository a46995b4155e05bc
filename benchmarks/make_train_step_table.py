#!/usr/bin/env python3
"""Makes benchmarks/results/train-step.md: gan-engine's training-step times against PyTorch's, one table.

Inputs (any number of each; a later input replaces an earlier one for the same device kind, model, batch and
precision):
  --ours FILE      train_step_bench output: Google Benchmark JSON (--benchmark_out=FILE --benchmark_out_format=json;
                   device, GPU name, TF32 setting, math mode (gan_precision), date and, when the run passed
                   --benchmark_context=commit=SHA, the commit come from its context) or CSV (--benchmark_format=csv;
                   device from the label column; no context, so its rows count as fp32/tf32: take a bf16 run's JSON).
  --pytorch FILE   benchmarks/pytorch_train_step.py output (its `pytorch_train_step ...` lines; commit= and date=
                   tags are used where present).
Precision: a row pairs ours and PyTorch at the same precision only. Ours in math mode bf16 (GAN_PRECISION=bf16)
pairs with PyTorch precision=bf16 (torch.autocast to bfloat16); ours in fp32 or tf32 (or from before the math mode
existed) with PyTorch precision=default (float32, or lines from before --precision, which have no such field). bf16
rows say so after the model's name; a side measured only at the other precision is left unpaired, with a note.
  --cpu-pairs FILE side-by-side CPU measurements from benchmarks/cpu_vs_pytorch.py (JSON lines; default:
                   benchmarks/results/cpu-dcgan32.jsonl and cpu-train-step.jsonl, those that exist; --no-cpu-pairs
                   leaves them out): a table of their own, ours / PyTorch per round with its median and spread.
  --commit, --date fill in rows whose inputs do not say; --no-gpu-reason says why there are no GPU rows (default:
                   no GPU was lent), when there are none.
Output: --out FILE (default benchmarks/results/train-step.md; '-' for stdout). The "## " sections of the earlier
file that this script does not write (profiles, counter tables) are kept, after the generated ones.

Targets (defined for an H100): ours <= 0.5 x PyTorch eager time, <= 0.8 x torch.compile time, peak memory <= 0.8 x
PyTorch's (eager, torch.cuda.max_memory_allocated vs our caching allocator's peak allocated bytes). They are marked
met / missed on GPU rows; CPU rows say n/a. When no input has GPU rows the file says so: nothing is estimated.

Also importable (scripts/gpu_check.py uses build() for the train-step section of gpu-check.md, and
cpu_vs_pytorch.py uses render_cpu_pairs()). Standard library only.
"""
import argparse
import csv
import io
import json
import os
import re
import sys

TARGET_EAGER, TARGET_COMPILE, TARGET_MEMORY = 0.5, 0.8, 0.8
NAME_RE = re.compile(r"BM_TrainStep/([A-Za-z0-9_]+)/batch:(\d+)")
MODEL_TITLES = {"dcgan64": "DCGAN-64", "wgan_gp64": "WGAN-GP-64 (n_critic 5)", "dcgan32": "DCGAN-32",
                "dcgan32_unfused": "DCGAN-32, BN not fused"}
NO_GPU = "no GPU was lent for these measurements"
PRECISION_NOTE = ("(default: float32; bf16: forwards and losses under torch.autocast to bfloat16, float32 weights "
                  "and Adam state; each row pairs ours in math mode bf16 with PyTorch bf16, fp32 / tf32 with default)")
TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def device_kind(device):
    return "cuda" if str(device).startswith("cuda") else "cpu"


def ours_peer_precision(gan_precision):
    """The pytorch_train_step.py --precision that is the peer of our math mode: bf16 for bf16; default (float32,
    with TF32 as PyTorch's settings say) for fp32, tf32 and runs that do not say."""
    return "bf16" if gan_precision == "bf16" else "default"


class Row:
    def __init__(self, kind, model, batch, precision="default"):
        self.kind, self.model, self.batch = kind, model, batch
        self.precision = precision  # pytorch_train_step.py's --precision for both sides of this row
        self.device_name = ""
        self.commit = self.date = ""
        self.ours_ms = self.ours_mem = self.ours_reserved = None
        self.ours_error = ""
        self.ours_tf32 = ""
        self.ours_precision = ""  # gan_precision: fp32 / tf32 / bf16 (absent before the math mode existed)
        self.ours_graph = ""      # "CUDA graph replays" or "eager" (counter cuda_graph_replayed), "" if unknown
        self.eager_ms = self.eager_mem = self.compile_ms = None
        self.eager_note = self.compile_note = ""
        self.torch = ""
        self.torch_tf32 = ""
        self.torch_precision = ""  # as the PyTorch lines say it (default for lines without the field)
        self.compile_scope = ""

    def has_ours(self):
        return self.ours_ms is not None or bool(self.ours_error)

    def has_pytorch(self):
        return any(x is not None for x in (self.eager_ms, self.compile_ms)) or bool(self.eager_note) or \
            bool(self.compile_note)


def get_row(rows, kind, model, batch, precision="default"):
    key = (kind, model, int(batch), precision)
    if key not in rows:
        rows[key] = Row(kind, model, int(batch), precision)
    return rows[key]


# ---- readers -----------------------------------------------------------------------------------------------------

def read_ours(path, rows, raw):
    text = open(path, errors="replace").read()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        ctx = data.get("context", {})
        device = ctx.get("gan_device", "")
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            m = NAME_RE.search(b.get("name", ""))
            if not m:
                continue
            dev = b.get("label") or device or "cpu"
            r = get_row(rows, device_kind(dev), m.group(1), m.group(2),
                        ours_peer_precision(ctx.get("gan_precision", "")))
            r.device_name = ctx.get("gan_device_name", "") if device_kind(dev) == "cuda" else cpu_name(ctx)
            r.commit = ctx.get("commit", r.commit)
            r.date = (ctx.get("date") or "")[:10] or r.date
            r.ours_tf32 = ctx.get("gan_tf32", "")
            r.ours_precision = ctx.get("gan_precision", "")
            if isinstance(b.get("cuda_graph_replayed"), (int, float)):
                r.ours_graph = "CUDA graph replays" if b["cuda_graph_replayed"] else "eager"
            if b.get("error_occurred"):
                r.ours_error = b.get("error_message", "error")
                r.ours_ms = None
            else:
                r.ours_ms = b["real_time"] * TO_MS.get(b.get("time_unit", "ms"), 1.0)
                r.ours_error = ""
            r.ours_mem = b.get("peak_allocated_MiB")
            r.ours_reserved = b.get("peak_reserved_MiB")
            parts = [f"{b.get('real_time', 0):.3f} {b.get('time_unit', '')}"]
            parts += [f"{k}={b[k]:.4g}" for k in ("images_per_s", "peak_allocated_MiB", "peak_reserved_MiB",
                                                   "cuda_graph_replayed")
                      if isinstance(b.get(k), (int, float))]
            if b.get("error_occurred"):
                parts.append(f"error: {b.get('error_message')}")
            raw.append(f"{b['name']} [{dev}]: " + ", ".join(parts))
        return
    # CSV: Google Benchmark's console CSV (a header line starting with "name,", then one line per run).
    lines = [l for l in text.splitlines() if l.startswith("name,") or l.startswith('"BM_TrainStep')]
    for rec in csv.DictReader(io.StringIO("\n".join(lines))):
        m = NAME_RE.search(rec.get("name", ""))
        if not m:
            continue
        dev = rec.get("label") or "cpu"
        r = get_row(rows, device_kind(dev), m.group(1), m.group(2))
        if rec.get("error_occurred") == "true":
            r.ours_error = rec.get("error_message", "error")
        else:
            r.ours_ms = float(rec["real_time"]) * TO_MS.get(rec.get("time_unit", "ms"), 1.0)
        for key, attr in (("peak_allocated_MiB", "ours_mem"), ("peak_reserved_MiB", "ours_reserved")):
            if rec.get(key):
                setattr(r, attr, float(rec[key]))
        raw.append(",".join(f'"{v}"' if k == "name" else (v or "") for k, v in rec.items()))


def cpu_name(ctx):
    n = ctx.get("num_cpus")
    return f"CPU, {n} cores" if n else "CPU"


def parse_fields(line):
    """key=value fields of a pytorch_train_step line; reason= runs to the end."""
    fields = {}
    body, _, reason = line.partition(" reason=")
    for tok in body.split()[1:]:
        k, sep, v = tok.partition("=")
        if sep:
            fields[k] = v
    if reason:
        fields["reason"] = reason.strip()
    return fields


def read_pytorch(path, rows, raw):
    for line in open(path, errors="replace"):
        line = line.strip()
        if not line.startswith("pytorch_train_step "):
            continue
        raw.append(line)
        f = parse_fields(line)
        precision = f.get("precision") or "default"  # lines from before --precision ran in float32
        try:
            r = get_row(rows, device_kind(f.get("device", "cpu")), f["model"], f["batch"], precision)
        except (KeyError, ValueError):
            continue
        r.torch_precision = precision
        if f.get("gpu") and f.get("gpu") != "none" and not r.device_name:
            r.device_name = f["gpu"].replace("_", " ")
        r.commit = r.commit or f.get("commit", "")
        r.date = r.date or f.get("date", "")
        r.torch = f.get("torch", r.torch)
        if "tf32_matmul" in f or "tf32_cudnn" in f:
            r.torch_tf32 = f"matmul {f.get('tf32_matmul', '?')}, cudnn {f.get('tf32_cudnn', '?')}"
        ok = f.get("status") == "ok"
        note = "" if ok else f"{f.get('status', '?')}: {f.get('reason', '')}".strip()
        ms = float(f["ms_per_iter"]) if ok and "ms_per_iter" in f else None
        if f.get("mode") == "eager":
            r.eager_ms, r.eager_note = ms, note
            mem = f.get("peak_alloc_mib")
            r.eager_mem = float(mem) if ok and mem not in (None, "na") else None
        elif f.get("mode") == "compile":
            r.compile_ms, r.compile_note = ms, note
            r.compile_scope = f.get("compile_scope", "").replace("_", " ") if ok else ""


def load_pairs(path):
    """The JSON lines cpu_vs_pytorch.py writes: a "conditions" record, then one "run" record per process."""
    return [json.loads(line) for line in open(path) if line.strip()]


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if n == 0 else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)


def spread(xs, digits):
    """'median (min-max)' of xs."""
    return f"{median(xs):.{digits}f} ({min(xs):.{digits}f}-{max(xs):.{digits}f})"


def render_cpu_pairs(records, title=None, source="", level="#"):
    """The side-by-side CPU table: per model, ours and PyTorch per round, ratio median and min-max over rounds."""
    head = next((r for r in records if r.get("kind") == "conditions"), {})
    runs = [r for r in records if r.get("kind") == "run"]
    md = [f"{level} {title}", ""] if title else []
    env = ", ".join(f"{k}={v}" for k, v in sorted(head.get("env", {}).items()))
    iters = ", ".join(f"{MODEL_TITLES.get(m, m)} {n}" for m, n in head.get("iters", {}).items())
    md += [f"Both sides measured in one invocation of benchmarks/cpu_vs_pytorch.py, alternating: in each round our "
           f"train_step_bench and PyTorch's pytorch_train_step.py (eager) run one after the other as fresh "
           f"processes (ours first in rounds 1, 3, ..., PyTorch first in the others), each timing whole training "
           f"iterations after {head.get('warmup', '?')} warm-up (timed iterations per process: {iters or '?'}). "
           f"Both with the same environment: {env or '?'}; PyTorch also with torch.set_num_threads("
           f"{head.get('threads', '?')}). The ratio is ours / PyTorch within a round (below 1: ours faster); the "
           "table gives its median and its range over the rounds.", ""]
    md += [f"- commit {head.get('commit', '?')}{' (uncommitted changes)' if head.get('dirty') else ''}, "
           f"{head.get('date', '?')}; machine: {head.get('machine', '?')}, Linux {head.get('kernel', '?')}",
           f"- ours: OpenBLAS kernels {head.get('blas_core', '?')}; PyTorch {head.get('torch', '?')}"
           + "".join(f"; {n.lstrip('# ').strip()}" for n in head.get("torch_notes", []) if "blas" in n.lower()),
           f"- load average (1, 5, 15 min) before: {head.get('load_before', '?')}, after: "
           f"{head.get('load_after', '?')}"]
    rounds = head.get("rounds", 0)
    if rounds < 3:
        md += ["", f"**{rounds} round(s) only: a check that the scripts run, not a measurement to quote.**"]
    md += ["", "| model | batch | rounds | ours ms, median (min-max) | PyTorch ms, median (min-max) | "
           "ours / PyTorch, median (min-max) |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    order = {"dcgan32": 0, "dcgan32_unfused": 1, "dcgan64": 2, "wgan_gp64": 3}
    keys = sorted({(r["model"], r["peer_model"], r["batch"]) for r in runs if r["side"] == "ours"},
                  key=lambda k: (order.get(k[0], 9), k[2]))
    for model, peer, batch in keys:
        ours = {r["round"]: r["ms"] for r in runs if r["side"] == "ours" and r["model"] == model
                and r["batch"] == batch}
        theirs = {r["round"]: r["ms"] for r in runs if r["side"] == "pytorch" and r["model"] == peer
                  and r["batch"] == batch}
        both = sorted(set(ours) & set(theirs))
        if not both:
            continue
        ratios = [ours[i] / theirs[i] for i in both]
        digits = 1 if median(list(ours.values())) >= 100 else 2
        md.append(f"| {MODEL_TITLES.get(model, model)} | {batch} | {len(both)} | "
                  f"{spread([ours[i] for i in both], digits)} | {spread([theirs[i] for i in both], digits)} | "
                  f"{spread(ratios, 2)} |")
    if not keys:
        md.append("| (no measurements) | | | | | |")
    md += ["", "Per round (ms, ours / PyTorch):", "", "```"]
    for model, peer, batch in keys:
        for r in sorted({x["round"] for x in runs if x["model"] == model}):
            o = [x for x in runs if x["side"] == "ours" and x["model"] == model and x["round"] == r]
            t = [x for x in runs if x["side"] == "pytorch" and x["model"] == peer and x["round"] == r]
            if o and t:
                first = "ours" if o[0].get("first") else "PyTorch"
                md.append(f"{model} batch {batch} round {r + 1} ({first} first): {o[0]['ms']:.1f} / "
                          f"{t[0]['ms']:.1f} = {o[0]['ms'] / t[0]['ms']:.3f}")
    md += ["```", ""]
    if source:
        md += [f"Source: `{source}`.", ""]
    return "\n".join(md)


# ---- rendering ---------------------------------------------------------------------------------------------------

def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def target(kind, value, limit):
    if kind != "cuda":
        return "n/a"
    if value is None:
        return "?"
    return f"{'met' if value <= limit else 'missed'} ({value:.2f})"


def render(rows, raw, title="Training step: gan-engine vs PyTorch", sources=(), no_gpu_reason=NO_GPU):
    order = {"dcgan64": 0, "wgan_gp64": 1, "dcgan32": 2, "dcgan32_unfused": 3}
    ordered = sorted(rows.values(), key=lambda r: (r.kind != "cuda", r.device_name, r.precision != "default",
                                                   r.precision, order.get(r.model, 9), r.batch))
    gpu_rows = [r for r in ordered if r.kind == "cuda"]
    notes, note_ids = [], {}

    def note(text):
        if text not in note_ids:
            notes.append(text)
            note_ids[text] = len(notes)
        return f"[{note_ids[text]}]"

    md = []
    if title:
        md += [f"# {title}", ""]
    md += ["Whole training iterations, warm-up excluded, each ending with a device sync; ms per iteration "
           "(lower is better). Ours: benchmarks/train_step_bench.cpp (Google Benchmark); PyTorch: "
           "benchmarks/pytorch_train_step.py (the same layers, losses, Adam settings and iteration; eager with "
           "cudnn.benchmark, and torch.compile of G and D). DCGAN-64: nz 100, ngf = ndf = 64, 3 channels, D on real "
           "+ fake then G, BCE-with-logits, Adam (2e-4, 0.5, 0.999). WGAN-GP-64: the zoo's critic (DCGAN-64 layout "
           "with layer norm) and generator, one iteration = 5 critic steps with gradient penalty 10 + 1 generator "
           "step, Adam 1e-4 (0, 0.9).", ""]
    if not gpu_rows:
        md += [f"**No GPU rows: {no_gpu_reason.rstrip('.')}. The GPU rows (H100: DCGAN-64 at batch 64, 128 and "
               "256, WGAN-GP-64 at batch 64, against PyTorch eager and torch.compile, with peak memory) are "
               "missing. Nothing here is estimated; every row below was measured on a CPU.**", ""]
    elif not any("H100" in r.device_name for r in gpu_rows):
        md += [f"The GPU rows were measured on {', '.join(sorted({r.device_name or '?' for r in gpu_rows}))}, "
               "not an H100, for which the targets are defined: their met / missed marks are indicative only.", ""]
    if not ordered:  # CPU side-by-side tables only (they follow)
        return "\n".join(md)
    md += [f"Targets (H100): ours <= {TARGET_EAGER} x PyTorch eager, <= {TARGET_COMPILE} x torch.compile, peak "
           f"memory <= {TARGET_MEMORY} x PyTorch eager's (peak allocated: our caching allocator's rounded blocks vs "
           "torch.cuda.max_memory_allocated, over the timed loop). Ratios are ours / PyTorch: below 1 is better.", ""]
    md += ["| device | commit | date | model | batch | ours ms | PyTorch eager ms | torch.compile ms | ours / eager "
           "| ours / compile | peak MiB ours | peak MiB PyTorch | memory ratio | target vs eager | target vs "
           "compile | target memory |",
           "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]
    for r in ordered:
        # The same model and batch measured at another precision: say why it is not compared with this row.
        others = [o for o in rows.values() if (o.kind, o.model, o.batch) == (r.kind, r.model, r.batch)
                  and o.precision != r.precision]
        unpaired = ""
        if (r.has_ours() and not r.has_pytorch() and any(o.has_pytorch() for o in others)) or \
                (r.has_pytorch() and not r.has_ours() and any(o.has_ours() for o in others)):
            sides = {"ours": sorted({o.precision for o in [r] + others if o.has_ours()}),
                     "PyTorch": sorted({o.precision for o in [r] + others if o.has_pytorch()})}
            unpaired = note(f"{r.model} batch {r.batch}: ours measured at precision "
                            f"{' and '.join(sides['ours'])}, PyTorch at {' and '.join(sides['PyTorch'])}; a row "
                            "compares the same precision only "
                            "(GAN_PRECISION=bf16 pairs with pytorch_train_step.py --precision bf16, fp32 and tf32 "
                            "with --precision default)")
        ours = fmt(r.ours_ms, 2 if (r.ours_ms or 0) < 100 else 1)
        if r.ours_error:
            ours = "error " + note(f"ours, {r.model} batch {r.batch}: {r.ours_error}")
        elif unpaired and not r.has_ours():
            ours = "- " + unpaired
        eager = fmt(r.eager_ms, 2 if (r.eager_ms or 0) < 100 else 1)
        if r.eager_ms is None:
            eager = "- " + note(r.eager_note) if r.eager_note else ("not run " + unpaired if unpaired else "not run")
        comp = fmt(r.compile_ms, 2 if (r.compile_ms or 0) < 100 else 1)
        if r.compile_ms is None:
            comp = "- " + note(r.compile_note) if r.compile_note else "not run"
        elif r.compile_scope and r.compile_scope != "G,D":
            comp += " " + note(f"torch.compile scope: {r.compile_scope}")
        re_, rc_ = ratio(r.ours_ms, r.eager_ms), ratio(r.ours_ms, r.compile_ms)
        rm = ratio(r.ours_mem, r.eager_mem)
        mem_ours = fmt(r.ours_mem) if r.kind == "cuda" else "n/a"
        if r.kind == "cuda" and r.ours_graph == "CUDA graph replays" and r.ours_mem is not None:
            # A replay allocates nothing: the captured step's memory is the graph's private pool, which the
            # allocator counts as reserved, not allocated. Its peak_allocated would flatter us; no ratio.
            rm = None
            mem_ours += " " + note("ours timed as CUDA graph replays: peak allocated leaves out the graph's private "
                                   f"pool (reserved; peak reserved {fmt(r.ours_reserved)} MiB), so no memory ratio; "
                                   "an eager run of ours gives a comparable figure")
        mem_pt = fmt(r.eager_mem) if r.kind == "cuda" else "n/a"
        if r.kind == "cpu":
            ours += " " + note("CPU row from one run of each side, not alternated; the side-by-side CPU figures "
                               "are benchmarks/cpu_vs_pytorch.py's")
        title = MODEL_TITLES.get(r.model, r.model) + ("" if r.precision == "default" else f", {r.precision}")
        md.append(f"| {r.device_name or r.kind} | {r.commit or '?'} | {r.date or '?'} | "
                  f"{title} | {r.batch} | {ours} | {eager} | {comp} | "
                  f"{fmt(re_, 2)} | {fmt(rc_, 2)} | {mem_ours} | {mem_pt} | "
                  f"{fmt(rm, 2) if r.kind == 'cuda' else 'n/a'} | {target(r.kind, re_, TARGET_EAGER)} | "
                  f"{target(r.kind, rc_, TARGET_COMPILE)} | {target(r.kind, rm, TARGET_MEMORY)} |")
    md.append("")
    if notes:
        md += [f"[{i}] {t}" + "  " for i, t in enumerate(notes, 1)] + [""]
    for dev in sorted({r.device_name for r in gpu_rows}):
        def seen(attr):
            return " / ".join(sorted({getattr(r, attr) for r in gpu_rows if r.device_name == dev
                                      and getattr(r, attr)})) or "?"
        md.append(f"- {dev or 'GPU'}: ours with GAN_TF32 {seen('ours_tf32')} (float conv and GEMM on TF32 tensor cores when on, strict FP32 when off), "
                  f"math mode {seen('ours_precision')}, iterations timed as {seen('ours_graph')}; "
                  f"PyTorch {seen('torch')} with allow_tf32 {seen('torch_tf32')} (PyTorch's defaults unless "
                  f"pytorch_train_step.py ran with --tf32), precision {seen('torch_precision')} {PRECISION_NOTE}.")
    cpu_rows = [r for r in ordered if r.kind == "cpu"]
    cpu_torch = sorted({r.torch for r in cpu_rows if r.torch})
    if cpu_torch:
        cpu_modes = sorted({r.ours_precision for r in cpu_rows if r.ours_precision})
        cpu_prec = sorted({r.torch_precision for r in cpu_rows if r.torch_precision})
        md.append(f"- CPU rows: " + (f"ours in math mode {' / '.join(cpu_modes)}; " if cpu_modes else "")
                  + f"PyTorch {', '.join(cpu_torch)}, precision {' / '.join(cpu_prec) or '?'} {PRECISION_NOTE} "
                  "(eager only; PyTorch gives no memory figure on the CPU, ours is the host tensor bytes' peak).")
    if sources:
        md.append("- inputs: " + ", ".join(f"`{s}`" for s in sources))
    md.append("")
    if raw:
        md += ["Raw lines:", "", "```"] + raw + ["```", ""]
    return "\n".join(md)


def build(ours=(), pytorch=(), cpu_pairs=None, commit="", date="", title="Training step: gan-engine vs PyTorch",
          no_gpu_reason=NO_GPU):
    rows, raw, sources = {}, [], []
    for p in ours:
        read_ours(p, rows, raw)
        sources.append(p)
    for p in pytorch:
        read_pytorch(p, rows, raw)
        sources.append(p)
    for r in rows.values():
        r.commit = r.commit or commit
        r.date = r.date or date
    text = render(rows, raw, title=title, sources=[os.path.basename(s) for s in sources],
                  no_gpu_reason=no_gpu_reason)
    for p in cpu_pairs or ():
        text += "\n" + render_cpu_pairs(load_pairs(p), title=f"CPU, side by side ({os.path.basename(p)})",
                                        source=os.path.basename(p), level="##")
    return text


REGENERATE_TITLE = "## How to regenerate"
REGENERATE = f"""{REGENERATE_TITLE}

On a quiet machine (`uptime` below 1), about 10 minutes on 2 cores after the build:

```sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j"$(nproc)"
benchmarks/run_cpu_dcgan.sh build --rounds 3                  # DCGAN-32 -> cpu-dcgan32.md / .jsonl (~2 min)
benchmarks/cpu_vs_pytorch.py --build build --models dcgan64,wgan_gp64 --rounds 3   # -> cpu-train-step.jsonl
benchmarks/make_train_step_table.py                           # -> this file, from both .jsonl files
```

The GPU rows: `scripts/gpu-bundle.sh`, then `gpu-bundle/run.sh --only-train-step` on the GPU machine, and
`benchmarks/make_train_step_table.py --ours train_step_bench.json --pytorch pytorch_train_step.txt` with its
outputs (the CPU tables are added from the .jsonl files). Sections of this file that the script does not write
(profiles, counters) are kept as they are, after the ones it writes.
"""


def kept_sections(old_text):
    """The "## " sections of an earlier output that this script does not write (hand-written profiles, tables
    from other tools), so that regenerating the file keeps them."""
    sections, current = [], None
    for line in old_text.splitlines(keepends=True):
        if line.startswith("## "):
            current = [line]
            sections.append(current)
        elif current is not None:
            current.append(line)
    generated = ("## CPU, side by side", REGENERATE_TITLE)
    kept = ["".join(sec).rstrip("\n") + "\n" for sec in sections if not sec[0].startswith(generated)]
    return "".join("\n" + sec for sec in kept)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", action="append", default=[], help="train_step_bench JSON or CSV (repeatable)")
    ap.add_argument("--pytorch", action="append", default=[], help="pytorch_train_step.py output (repeatable)")
    ap.add_argument("--cpu-pairs", action="append", default=None,
                    help="cpu_vs_pytorch.py JSON lines (repeatable; default: benchmarks/results/cpu-dcgan32.jsonl "
                         "and cpu-train-step.jsonl where present)")
    ap.add_argument("--no-cpu-pairs", action="store_true")
    ap.add_argument("--commit", default="")
    ap.add_argument("--date", default="")
    ap.add_argument("--no-gpu-reason", default=NO_GPU, help=f"why there are no GPU rows, if there are none "
                    f"(default: '{NO_GPU}')")
    ap.add_argument("--out", default=None, help="output file (default benchmarks/results/train-step.md; - = stdout)")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pairs = args.cpu_pairs
    if pairs is None:
        pairs = [p for p in (os.path.join(root, "benchmarks", "results", f) for f in
                             ("cpu-dcgan32.jsonl", "cpu-train-step.jsonl")) if os.path.exists(p)]
    if args.no_cpu_pairs:
        pairs = []
    for p in args.ours + args.pytorch + pairs:
        if not os.path.exists(p):
            ap.error(f"{p}: not found")
    text = build(args.ours, args.pytorch, pairs, args.commit, args.date, no_gpu_reason=args.no_gpu_reason)
    out = args.out or os.path.join(root, "benchmarks", "results", "train-step.md")
    text += "\n" + REGENERATE
    if out != "-" and os.path.exists(out):
        with open(out) as f:
            text += kept_sections(f.read())
    if out == "-":
        sys.stdout.write(text)
    else:
        with open(out, "w") as f:
            f.write(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
