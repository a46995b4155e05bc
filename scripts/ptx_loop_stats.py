#!/usr/bin/env python3
"""Instructions per tensor-core instruction in the main loop of each convolution GEMM kernel, read from PTX.

A measure that costs no GPU: the tensor-core kernels are only as fast as the SM can issue the instructions that
feed the mma.sync (one instruction per cycle per scheduler), so the count of PTX instructions in the innermost loop
that holds the mma, per mma, says how far the loop is from keeping the tensor cores busy (about 4-8 per mma is the
budget on Hopper for m16n8k8 TF32 and m16n8k16 BF16). PTX is before ptxas's optimisation, so the counts are a
guide, not SASS; compare versions with each other, not with a datasheet.

    scripts/ptx_loop_stats.py [--build-dir build-cuda] [--ptx FILE] [--filter REGEX]

Without --ptx it compiles kernels/cuda/conv.cu to PTX for sm_90 with nvcc (the flags of --build-dir's CUDA
configuration) into a temporary file. Prints one row per kernel: family, tile, arithmetic, K order, instructions,
mma count, instructions per mma, and the most frequent opcodes. The variant column: the gather kernel's K order
(tap or channel major), the weight kernel's B loads (one tap per step, or per column).
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compile_ptx(build_dir, out):
    nvcc = os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")
    if not os.path.exists(nvcc):
        sys.exit(f"ptx_loop_stats.py: no nvcc at {nvcc}; set CUDA_HOME or pass --ptx")
    includes = os.path.join(build_dir, "kernels", "CMakeFiles", "gan_kernels.dir", "includes_CUDA.rsp")
    if not os.path.exists(includes):
        sys.exit(f"ptx_loop_stats.py: {includes} is missing; configure a CUDA build there first "
                 f"(cmake -B {build_dir} -DGAN_CUDA=AUTO) or pass --ptx")
    cmd = [nvcc, "-O3", "-DNDEBUG", "-DGAN_WITH_CUDA=1", "--options-file", includes, "-arch=sm_90", "-std=c++20",
           "-ptx", os.path.join(ROOT, "kernels", "cuda", "conv.cu"), "-o", out]
    subprocess.run(cmd, check=True, cwd=os.path.join(build_dir, "kernels"))


def describe(name):
    """gather/weight, tile, arithmetic, K order from a mangled kernel name."""
    family = "gather" if "gather_gemm_kernel" in name else "weight"
    tile = re.search(r"TileCfgILi(\d+)ELi(\d+)", name)
    math = re.search(r"(MmaMath|BfMath|SimtMath)", name)
    order = re.search(r"KOrderE(\d)", name)
    shared_tap = re.search(r"Lb([01])EEEv", name)  # the weight kernel's SharedTap
    if order:
        variant = {"0": "channel", "1": "tap"}.get(order.group(1), "?")
    elif shared_tap:
        variant = "1 tap" if shared_tap.group(1) == "1" else "per col"
    else:
        variant = "-"
    return (family, f"{tile.group(1)}x{tile.group(2)}" if tile else "?",
            {"MmaMath": "tf32", "BfMath": "bf16", "SimtMath": "simt"}.get(math.group(1) if math else "", "?"), variant)


def innermost_mma_loop(lines):
    """The shortest backward-branch region that holds an mma.sync (the K loop after unrolling)."""
    labels = {l.strip()[:-1]: i for i, l in enumerate(lines) if re.match(r"^\$L__\w+:$", l.strip())}
    best = None
    for i, line in enumerate(lines):
        b = re.search(r"bra(?:\.uni)?\s+(\$L__\w+);", line)
        if b and b.group(1) in labels and labels[b.group(1)] < i:
            body = lines[labels[b.group(1)]:i + 1]
            if any("mma.sync" in x for x in body) and (best is None or len(body) < len(best)):
                best = body
    return best


def opcodes(body):
    ops = collections.Counter()
    for x in body:
        x = x.strip()
        if not x or x.endswith(":") or x.startswith(("//", "{", "}", ".")):
            continue
        op = re.sub(r"^@!?%p\d+\s+", "", x).split()[0].rstrip(";")
        ops[op.split(".")[0]] += 1
    return ops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-cuda"))
    ap.add_argument("--ptx", help="read this PTX file instead of compiling conv.cu")
    ap.add_argument("--filter", default="", help="only kernels whose row matches this regex")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ptx = args.ptx
        if not ptx:
            ptx = os.path.join(tmp, "conv.ptx")
            compile_ptx(os.path.abspath(args.build_dir), ptx)
        text = open(ptx).read()
    print(f"{'family':7} {'tile':8} {'math':5} {'variant':8} {'instr':>6} {'mma':>4} {'/mma':>6}  top opcodes")
    for entry in re.split(r"\n(?=\.(?:visible )?\.?entry )", text):
        m = re.match(r"\.(?:visible )?\.?entry (\S+)\(", entry)
        if not m or "gemm_kernel" not in m.group(1):
            continue
        body = innermost_mma_loop(entry.split("\n"))
        if body is None:
            continue
        ops = opcodes(body)
        total = sum(ops.values())
        family, tile, math, order = describe(m.group(1))
        row = (f"{family:7} {tile:8} {math:5} {order:8} {total:6d} {ops['mma']:4d} {total / ops['mma']:6.1f}  " +
               ", ".join(f"{k} {v}" for k, v in ops.most_common(6)))
        if re.search(args.filter, row):
            print(row)


if __name__ == "__main__":
    main()
