#!/usr/bin/python3
"""The PyTorch peer of our zoo's `dcgan` for the sample-quality comparison: trains the same DCGAN on Fashion-MNIST
for the same number of steps, then writes N generated samples as 8-bit grayscale PNGs that `gan eval` measures.

What it matches (models/dcgan.cpp, models/common.cpp conv_generator / conv_discriminator / init_weights,
models/adversarial.cpp, apps/cmd_train.cpp, apps/trainer.cpp, engine/data/*):
  * Networks, layer for layer and with the same parameter names ("G.net.0.weight", ...):
      28 px (a 7x7 start):  G  ConvT(nz, 2ngf, 7, 1, 0) BN ReLU | ConvT(2ngf, ngf, 4, 2, 1) BN ReLU |
                               ConvT(ngf, 1, 4, 2, 1) Tanh
                            D  Conv(1, ndf, 4, 2, 1) LReLU(0.2) | Conv(ndf, 2ndf, 4, 2, 1) BN LReLU(0.2) |
                               Conv(2ndf, 1, 7, 1, 0) Flatten                       -> logits [N, 1]
      32 / 64 px (a 4x4 start): the classic DCGAN, widths ngf*4 / ngf*8 at 4x4 halving up to ngf, and D doubling
                            from ndf, head Conv(., 1, 4, 1, 0).
    No conv has a bias; BatchNorm eps 1e-5, momentum 0.1, affine (our BN fuses the activation after it; the
    arithmetic is the same).
  * Init (Radford 2015, our Init::Dcgan): conv and transposed-conv weights N(0, 0.02); BN weight N(1, 0.02),
    BN bias 0.
  * Loss: BCE with logits (mean). One step: D on a real batch (target 1) and on G(z) detached (target 0), the two
    losses summed, one Adam step; then G through the updated D with the non-saturating loss BCE(D(G(z)), 1) on
    the same fakes, one Adam step. Adam lr 2e-4, betas (0.5, 0.999), eps 1e-8, no weight decay, for both.
  * Defaults of `gan train --model dcgan --data fashion-mnist`: nz 100, ngf 64, ndf 64, batch 64, 5000 steps,
    image size 28 (native), z ~ N(0, 1) of shape [N, nz, 1, 1].
  * Data: the 60000 training images, pixels v / 127.5 - 1 in [-1, 1]; at 32 px padded centred with -1 (black),
    at 64 px resized bilinearly (half-pixel centres, as F.interpolate(align_corners=False)). A fresh random
    order every epoch and the incomplete last batch dropped (our loader's order itself comes from Philox and is
    not reproduced).
  * Samples: like `gan eval --run`, G in eval mode (BN running statistics), z ~ N(0, 1), in chunks of 500.
    Pixels are written as round((x + 1) * 127.5) clamped to [0, 255] (our grids do the same).
  * Float32 everywhere; on CUDA, TF32 is turned off by default (run ours with GAN_TF32=0 to
    compare like with like: ours uses TF32 for float conv and GEMM unless GAN_TF32=0); --tf32 turns it on.

Run on the CPU here (Debian's python3-torch 1.13; 1 thread so it stays off the other work):
    /usr/bin/python3 benchmarks/pytorch_dcgan_reference.py --steps 5000 --threads 1 --out /tmp/peer-dcgan
Smoke test (seconds):
    /usr/bin/python3 benchmarks/pytorch_dcgan_reference.py --steps 20 --n-samples 64 --threads 1 --out /tmp/peer-smoke
On the GPU machine (any python3 with PyTorch 2.x and CUDA; --device defaults to cuda when available):
    python3 benchmarks/pytorch_dcgan_reference.py --steps 5000 --out $OUT/peer-dcgan
Print the networks (names, shapes, parameter counts) without data or training:
    /usr/bin/python3 benchmarks/pytorch_dcgan_reference.py --describe [--image-size 32]
Then measure the samples, and our model's for comparison:
    gan eval --samples /tmp/peer-dcgan
    gan train --model dcgan --data fashion-mnist --steps 5000 --out runs/dcgan && gan eval --run runs/dcgan

Writes FOLDER/00000.png ... and FOLDER/reference.json (settings, parameter counts, last losses, seconds). Needs
torch and numpy; PNGs are written with zlib + struct (no PIL). Exit 2 on a usage or data error, 1 when the
training diverges (a non-finite loss).
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NATIVE = 28
SIZES = (28, 32, 64)
SAMPLE_CHUNK = 500  # as apps/cmd_eval.cpp


def fail(message, code=2):
    print(f"pytorch_dcgan_reference: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


# ---- networks (models/common.cpp conv_generator / conv_discriminator with Norm::Batch) ----
def base_size(image_size):
    return 7 if image_size == 28 else 4


class SequentialNet(nn.Module):
    """`self.net = nn.Sequential(...)`, so parameter names read "net.0.weight" like ours."""

    def __init__(self, layers):
        super().__init__()
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def generator(nz, ngf, nc, image_size):
    base = base_size(image_size)
    mids = 0  # doubling layers between the base and the last layer
    s = base
    while s * 2 < image_size:
        mids += 1
        s *= 2
    width = ngf << mids
    layers = [nn.ConvTranspose2d(nz, width, base, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
    for _ in range(mids):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                   nn.ReLU(True)]
        width //= 2
    layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return SequentialNet(layers)


def discriminator(ndf, nc, image_size):
    base = base_size(image_size)
    width = ndf
    layers = [nn.Conv2d(nc, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    size = image_size // 2
    while size > base:
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                   nn.LeakyReLU(0.2, True)]
        width *= 2
        size //= 2
    layers += [nn.Conv2d(width, 1, base, 1, 0, bias=False), nn.Flatten()]
    return SequentialNet(layers)


def init_dcgan(module):
    """Our Init::Dcgan: conv weights N(0, 0.02), biases 0; batch norm weight N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def describe(prefix, net):
    lines = []
    for name, p in net.named_parameters():
        lines.append(f"  {prefix}.{name:<16} {str(list(p.shape)):<22} {p.numel():>9}")
    lines.append(f"  {prefix} total parameters: {sum(p.numel() for p in net.parameters())}")
    return "\n".join(lines)


# ---- data (engine/data/fashion_mnist.cpp, image_array.cpp) ----
def data_dir(explicit):
    if explicit:
        return explicit
    root = os.environ.get("GAN_DATA_DIR") or (os.path.join(os.environ["HOME"], ".cache", "gan-engine")
                                              if os.environ.get("HOME") else "/tmp/gan-engine")
    local = os.path.join(root, "fashion-mnist")
    return local if os.path.isdir(local) else "/usr/share/datasets/fashion-mnist"


def read_idx_images(path):
    if not os.path.isfile(path):
        fail(f"Fashion-MNIST training images not found at {path}; install them with "
             f"`apt-get install -y dataset-fashion-mnist`, or pass --data DIR (a folder holding "
             f"train-images-idx3-ubyte.gz)")
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        fail(f"cannot read {path} ({e}); it should be a gzip'd IDX file: reinstall dataset-fashion-mnist")
    if len(data) < 16:
        fail(f"{path} is too short for an IDX header ({len(data)} bytes); reinstall dataset-fashion-mnist")
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051 or rows != NATIVE or cols != NATIVE or len(data) != 16 + count * rows * cols:
        fail(f"{path} is not an IDX file of 28x28 images (magic {magic}, {count}x{rows}x{cols}, {len(data)} "
             f"bytes); reinstall dataset-fashion-mnist")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, 1, NATIVE, NATIVE)


def to_model_size(x, image_size):
    """[N, 1, 28, 28] in [-1, 1] -> [N, 1, S, S] as our dataset gives it."""
    if image_size == NATIVE:
        return x
    if image_size == 32:
        return F.pad(x, (2, 2, 2, 2), value=-1.0)
    return F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)


# ---- PNG without PIL ----
def png_gray(path, pixels):
    """pixels: uint8 array [H, W] -> 8-bit grayscale PNG (filter type 0 on every row)."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def fmt_duration(s):
    if not math.isfinite(s) or s < 0:
        return "?"
    t = int(round(s))
    if t < 60:
        return f"{t}s"
    if t < 3600:
        return f"{t // 60}m{t % 60:02d}s"
    return f"{t // 3600}h{(t % 3600) // 60:02d}m"


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="See the header of this file for what it matches and how to run it.")
    ap.add_argument("--steps", type=int, default=5000, help="training iterations (D step + G step) [5000]")
    ap.add_argument("--batch", type=int, default=64, help="batch size [64]")
    ap.add_argument("--image-size", type=int, default=28, choices=SIZES, help="model image size [28]")
    ap.add_argument("--nz", type=int, default=100, help="latent size [100]")
    ap.add_argument("--ngf", type=int, default=64, help="generator width [64]")
    ap.add_argument("--ndf", type=int, default=64, help="discriminator width [64]")
    ap.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of G and D [2e-4]")
    ap.add_argument("--seed", type=int, default=0, help="seed of weights, data order and noise [0]")
    ap.add_argument("--n-samples", type=int, default=10000, help="PNG samples to write [10000]")
    ap.add_argument("--out", help="folder for the PNGs (created; must hold no PNGs unless --force)")
    ap.add_argument("--force", action="store_true", help="delete the *.png already in --out first")
    ap.add_argument("--data", help="folder with train-images-idx3-ubyte.gz [$GAN_DATA_DIR/fashion-mnist if it "
                                   "exists, else /usr/share/datasets/fashion-mnist]")
    ap.add_argument("--device", help="cpu, cuda or cuda:N [cuda when available, else cpu]")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (CPU); 0 = torch's default")
    ap.add_argument("--log-every", type=int, default=100, help="progress line every N steps [100]")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA (off by default; ours is TF32 unless GAN_TF32=0)")
    ap.add_argument("--describe", action="store_true", help="print the networks' parameters and exit")
    a = ap.parse_args()
    for name in ("steps", "batch", "nz", "ngf", "ndf", "n_samples", "log_every"):
        if getattr(a, name) <= 0:
            fail(f"--{name.replace('_', '-')} must be positive, got {getattr(a, name)}")
    if a.threads < 0:
        fail(f"--threads must be >= 0, got {a.threads}")
    if not a.describe and not a.out:
        fail("--out FOLDER is required (where the PNG samples go)")
    return a


def pick_device(text):
    if not text:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(text)
    except RuntimeError as e:
        fail(f"--device: {e} (use cpu, cuda or cuda:N)")
    if dev.type == "cuda" and not torch.cuda.is_available():
        fail(f"--device {text}: this PyTorch ({torch.__version__}) sees no CUDA device; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        fail(f"--device {text}: only cpu and cuda are supported")
    return dev


def prepare_out(a):
    if os.path.exists(a.out) and not os.path.isdir(a.out):
        fail(f"--out {a.out} exists and is not a folder; pick another --out")
    os.makedirs(a.out, exist_ok=True)
    old = sorted(f for f in os.listdir(a.out) if f.lower().endswith(".png"))
    if old:
        if not a.force:
            fail(f"--out {a.out} already holds {len(old)} PNG files, which `gan eval --samples` would mix in; "
                 f"pick an empty folder or pass --force to delete them")
        for f in old:
            os.remove(os.path.join(a.out, f))
    if not os.access(a.out, os.W_OK):
        fail(f"--out {a.out} is not writable")


def main():
    a = parse_args()
    nc = 1
    torch.manual_seed(a.seed)
    G = generator(a.nz, a.ngf, nc, a.image_size)
    D = discriminator(a.ndf, nc, a.image_size)
    init_dcgan(G)
    init_dcgan(D)
    g_params = sum(p.numel() for p in G.parameters())
    d_params = sum(p.numel() for p in D.parameters())
    print(f"dcgan {a.image_size}px nz {a.nz} ngf {a.ngf} ndf {a.ndf}: G {g_params} parameters, D {d_params}",
          flush=True)
    if a.describe:
        print(describe("G", G))
        print(describe("D", D))
        return

    device = pick_device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cudnn.benchmark = True
    images_path = os.path.join(data_dir(a.data), "train-images-idx3-ubyte.gz")
    pixels = read_idx_images(images_path)  # uint8 [60000, 1, 28, 28]
    n_data = pixels.shape[0]
    per_epoch = n_data // a.batch
    if per_epoch < 1:
        fail(f"{images_path} holds {n_data} images, fewer than --batch {a.batch}; use a smaller --batch")
    prepare_out(a)  # only once everything is checked
    data = torch.from_numpy(pixels.copy()).to(device)  # kept as uint8; scaled per batch

    G.to(device).train()
    D.to(device).train()
    opt_g = torch.optim.Adam(G.parameters(), lr=a.lr, betas=(0.5, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr=a.lr, betas=(0.5, 0.999), eps=1e-8)
    bce = nn.BCEWithLogitsLoss()
    order_gen = torch.Generator().manual_seed(a.seed)

    print(f"training on {device} (torch {torch.__version__}, {torch.get_num_threads()} CPU threads): {a.steps} "
          f"steps of batch {a.batch} on {n_data} x 1x{a.image_size}x{a.image_size} Fashion-MNIST ({per_epoch} "
          f"batches an epoch); samples to {a.out}", flush=True)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    perm, position, epoch = None, per_epoch, -1
    last = {}
    sync()
    start = time.perf_counter()
    for step in range(1, a.steps + 1):
        if position >= per_epoch:  # a new epoch: a fresh order, the incomplete last batch dropped
            epoch += 1
            perm = torch.randperm(n_data, generator=order_gen).to(device)
            position = 0
        idx = perm[position * a.batch:(position + 1) * a.batch]
        position += 1
        real = to_model_size(data[idx].float() / 127.5 - 1.0, a.image_size)
        z = torch.randn(a.batch, a.nz, 1, 1, device=device)

        # Discriminator: real -> 1, fake -> 0; the fakes are detached.
        opt_d.zero_grad(set_to_none=False)
        real_logits = D(real)
        fake = G(z)
        fake_logits = D(fake.detach())
        loss_d = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
        loss_d.backward()
        opt_d.step()
        # Generator: make the updated D call the fakes real.
        opt_g.zero_grad(set_to_none=False)
        logits = D(fake)
        loss_g = bce(logits, torch.ones_like(logits))
        loss_g.backward()
        opt_g.step()

        if step % a.log_every == 0 or step == a.steps:
            last = {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                    "d_real": torch.sigmoid(real_logits.detach()).mean().item(),
                    "d_fake": torch.sigmoid(fake_logits.detach()).mean().item()}
            bad = [k for k, v in last.items() if not math.isfinite(v)]
            if bad:
                fail(f"{bad[0]} is {last[bad[0]]} at step {step}; training diverged (try another --seed or a "
                     f"smaller --lr)", code=1)
            elapsed = time.perf_counter() - start
            per_step = elapsed / step
            print(f"step {step}/{a.steps}  epoch {epoch}  " + "  ".join(f"{k} {v:.4f}" for k, v in last.items()) +
                  f"  {1 / per_step:.2f} steps/s  {a.batch / per_step:.0f} img/s  {per_step:.3f} s/step"
                  f"  ETA {fmt_duration((a.steps - step) * per_step)}", flush=True)
    sync()
    train_s = time.perf_counter() - start

    # Samples, as `gan eval --run` draws them: G in eval mode, z ~ N(0, 1), chunks of 500.
    t0 = time.perf_counter()
    G.eval()
    sample_gen = torch.Generator().manual_seed(a.seed + 1)  # on the CPU: the same noise on every device
    width = max(5, len(str(a.n_samples - 1)))
    written = 0
    with torch.no_grad():
        while written < a.n_samples:
            n = min(SAMPLE_CHUNK, a.n_samples - written)
            z = torch.randn(n, a.nz, 1, 1, generator=sample_gen).to(device)
            x = G(z).float().cpu()
            if not torch.isfinite(x).all():
                fail("the trained generator produced non-finite pixels", code=1)
            px = torch.round((x.clamp(-1.0, 1.0) + 1.0) * 127.5).to(torch.uint8).numpy()
            for i in range(n):
                png_gray(os.path.join(a.out, f"{written:0{width}d}.png"), px[i, 0])
                written += 1
    sample_s = time.perf_counter() - t0

    info = {
        "what": "PyTorch peer of gan-engine's dcgan (benchmarks/pytorch_dcgan_reference.py)",
        "torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(),
        "tf32": bool(a.tf32 and device.type == "cuda"),
        "steps": a.steps, "batch": a.batch, "image_size": a.image_size, "nz": a.nz, "ngf": a.ngf, "ndf": a.ndf,
        "lr": a.lr, "betas": [0.5, 0.999], "seed": a.seed, "n_samples": written,
        "parameters": {"G": g_params, "D": d_params}, "last_losses": last,
        "train_seconds": round(train_s, 3), "seconds_per_step": round(train_s / a.steps, 5),
        "sample_seconds": round(sample_s, 3),
    }
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print(f"wrote {written} PNGs ({a.image_size}x{a.image_size} gray) and reference.json to {a.out}; measure "
          f"them with: gan eval --samples {a.out}")
    print(f"total seconds: {train_s + sample_s:.1f} (training {train_s:.1f}, {train_s / a.steps:.4f} s/step; "
          f"sampling {sample_s:.1f})", flush=True)


if __name__ == "__main__":
    main()
