#!/usr/bin/python3
"""The PyTorch peer of benchmarks/cpu_dcgan_step.cpp: the same DCGAN-32 training iteration on the CPU.

nz 100, ngf = ndf = 64, 3 channels, batch 64, Adam (2e-4, 0.5, 0.999), BCEWithLogitsLoss; D on real + fake,
then G. Runs with Debian's python3-torch (`/usr/bin/python3`), never needed to build or test gan-engine.

usage: pytorch_cpu_dcgan_step.py [--threads N] [--batch 64] [--iters 10] [--warmup 2]
Prints one line: "pytorch_cpu_dcgan32 batch=B threads=N ms_per_iter=X images_per_s=Y torch=VERSION".
"""
import argparse
import time

import torch
import torch.nn as nn


def generator(nz=100, ngf=64, nc=3):
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())


def discriminator(ndf=64, nc=3):
    return nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Flatten())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    G, D = generator(), discriminator()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(args.batch, 3, 32, 32) * 2 - 1

    def step():
        opt_d.zero_grad()
        real_logits = D(real)
        loss_real = bce(real_logits, torch.ones_like(real_logits))
        fake = G(torch.randn(args.batch, 100, 1, 1))
        fake_logits = D(fake.detach())
        loss_fake = bce(fake_logits, torch.zeros_like(fake_logits))
        (loss_real + loss_fake).backward()
        opt_d.step()
        opt_g.zero_grad()
        logits = D(fake)
        loss_g = bce(logits, torch.ones_like(logits))
        loss_g.backward()
        opt_g.step()

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    ms = (time.perf_counter() - start) * 1000 / args.iters
    print(f"pytorch_cpu_dcgan32 batch={args.batch} threads={args.threads} ms_per_iter={ms:.1f} "
          f"images_per_s={args.batch * 1000 / ms:.1f} torch={torch.__version__}")


if __name__ == "__main__":
    main()
