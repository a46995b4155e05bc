#!/usr/bin/env python3
"""Writes the reference image folders that benchmarks/results/quality.md measures with `gan eval --samples`:

  train   N Fashion-MNIST *training* images (a seeded random subset). Their Frechet distance to the test set is
          the floor: what a perfect generator of the training distribution would score with N samples.
  noise   N images of independent uniform pixel noise: a generator that learned nothing.

Plain Python (gzip, zlib, struct, random): no NumPy or PIL needed.

usage: benchmarks/export_reference_pngs.py {train|noise} OUT_FOLDER [--n 10000] [--seed 0]
       [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import gzip
import os
import random
import struct
import sys
import zlib

SIDE = 28


def png_gray(path, pixels, side):
    """8-bit grayscale PNG, one zlib stream, filter type 0 on every row."""
    raw = b"".join(b"\x00" + bytes(pixels[y * side:(y + 1) * side]) for y in range(side))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) +
                chunk(b"IEND", b""))


def read_idx_images(path):
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        sys.exit(f"error: cannot read {path}: {e}; install the data set with: apt-get install dataset-fashion-mnist")
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051 or rows != SIDE or cols != SIDE or len(data) != 16 + count * rows * cols:
        sys.exit(f"error: {path} is not a 28x28 IDX image file (magic {magic}, {count}x{rows}x{cols}, "
                 f"{len(data)} bytes); reinstall dataset-fashion-mnist")
    return data[16:], count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["train", "noise"])
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    if a.n <= 0:
        sys.exit("error: --n must be positive")
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    per = SIDE * SIDE
    if a.kind == "train":
        pixels, count = read_idx_images(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
        if a.n > count:
            sys.exit(f"error: --n {a.n} is more than the {count} training images")
        for i, index in enumerate(sorted(rng.sample(range(count), a.n))):
            png_gray(os.path.join(a.out, f"{i:05d}.png"), pixels[index * per:(index + 1) * per], SIDE)
    else:
        for i in range(a.n):
            png_gray(os.path.join(a.out, f"{i:05d}.png"), rng.randbytes(per), SIDE)
    print(f"wrote {a.n} {a.kind} PNGs ({SIDE}x{SIDE}) to {a.out}")


if __name__ == "__main__":
    main()
