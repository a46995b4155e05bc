#!/usr/bin/env python3
"""The PyTorch peer of benchmarks/train_step_bench.cpp: the same GAN training iterations, timed the same way.

Models (the same layers as gan-engine's; initial weights are irrelevant to the timing and are PyTorch's defaults):
  dcgan64    G: ConvT(100->512, 4, 1, 0), BN, ReLU, ConvT(512->256->128->64, 4, 2, 1) each + BN + ReLU,
             ConvT(64->3, 4, 2, 1), Tanh.  D: Conv(3->64, 4, 2, 1), LeakyReLU(0.2), Conv(64->128->256->512, 4, 2, 1)
             each + BN + LeakyReLU(0.2), Conv(512->1, 4, 1, 0), Flatten. No conv biases; in-place activations as
             in PyTorch's DCGAN example. One iteration: D on real (BCE-with-logits vs 1) and fake (detached, vs 0),
             Adam step; then G through the updated D (vs 1), Adam step. Adam (2e-4, 0.5, 0.999).
  dcgan32    The same at 32 px: G ConvT(100->256, 4, 1, 0), then 256->128->64 (4, 2, 1) each + BN + ReLU,
             ConvT(64->3, 4, 2, 1), Tanh; D the mirror image (3->64->128->256, then Conv(256->1, 4, 1, 0)).
             The peer of train_step_bench's dcgan32 and dcgan32_unfused (only with --models dcgan32).
  wgan_gp64  G: the DCGAN-64 generator above. Critic: the DCGAN-64 discriminator layout with LayerNorm([C, H, W])
             (elementwise affine) instead of BatchNorm after convs 2-4. One iteration: 5 critic steps (fake from G
             under no_grad; loss mean(D(fake)) - mean(D(real)) + 10 * mean((||grad_x D(x_hat)||_2 - 1)^2) with
             x_hat = eps real + (1 - eps) fake, one eps ~ U(0, 1) per sample, the norm as sqrt(sum g^2 + 1e-12)),
             then one generator step (loss -mean(D(G(z)))). Adam 1e-4, betas (0, 0.9) for both.
Real data is one random tensor on the device; latent noise is drawn on the device every step.

Precision (--precision): default runs everything in float32 (TF32 as --tf32 leaves it), the peer of train_step_bench
with GAN_PRECISION=fp32 or tf32. bf16 is the peer of GAN_PRECISION=bf16: every model forward and loss of a step runs
under torch.autocast(device_type=dev.type, dtype=torch.bfloat16); backward passes (the penalty's autograd.grad too)
and optimizer steps run outside it, as PyTorch's AMP examples do. Weights and Adam state stay float32 and there is
no GradScaler (bf16 has float32's exponent range). Which ops autocast runs in bf16 is PyTorch's per-device policy:
on CUDA convolutions, transposed convolutions and matmuls, with layer_norm and BCE-with-logits in float32 (other
ops run in their input's dtype); torch 1.13's CPU policy leaves conv_transpose2d in float32. The critic's
LayerNorms take a float32 input explicitly (what CUDA autocast does anyway; torch 1.13's CPU LayerNorm refuses a
bf16 input with float32 weights).

Modes: eager (torch.backends.cudnn.benchmark = True), and compile: torch.compile(G) and torch.compile(D) with
dynamic=False (default inductor mode unless --compile-mode), optimizers eager. If the gradient penalty cannot run
through the compiled critic (double backward through AOTAutograd), the compile run is repeated with the penalty's
critic pass in eager mode (the same parameters) and says so in compile_scope. torch < 2 has no torch.compile: the
compile rows are printed as skipped with the reason.

Timing: warm-up iterations (default 5 on CUDA, 1 on the CPU) are excluded; then iterations run until --min-time
seconds have passed (default 3 on CUDA, 1 on the CPU) or exactly --iters of them, each ending with
torch.cuda.synchronize(); ms_per_iter is the mean. On CUDA the peaks of torch.cuda.max_memory_allocated /
max_memory_reserved are taken over the timed loop (torch.cuda.empty_cache() before each configuration's models
are built, reset_peak_memory_stats() after its warm-up), as train_step_bench does with its caching allocator.

Output, one line per (model, batch, mode), machine-readable (key=value; `reason=` runs to the end of the line):
  pytorch_train_step model=dcgan64 batch=64 mode=eager device=cuda precision=default status=ok ms_per_iter=..
      images_per_s=.. iters=.. peak_alloc_mib=.. peak_reserved_mib=.. torch=.. tf32_matmul=.. tf32_cudnn=..
      cudnn_benchmark=.. gpu=.. [compile_scope=.. compile_mode=..]
  pytorch_train_step model=.. batch=.. mode=compile device=.. precision=.. status=skipped torch=.. reason=...
(precision=: default or bf16, as --precision; outputs from before the option have no such field and are default.)
Lines starting with '#' are notes for people.

usage: pytorch_train_step.py [--device auto|cpu|cuda] [--models dcgan64,wgan_gp64] [--batches 64,128,256]
                             [--wgan-batches 64] [--dcgan32-batches 64] [--modes eager,compile] [--iters N | --min-time S] [--warmup N]
                             [--tf32 default|on|off] [--precision default|bf16] [--compile-mode MODE] [--budget S]
                             [--threads N] [--tag KEY=VALUE]
CPU smoke test: pytorch_train_step.py --device cpu --batches 8 --wgan-batches 4 --iters 1 --warmup 1 [--precision bf16]
"""
import argparse
import contextlib
import gc
import importlib
import os
import sys
import time
import warnings

try:
    import torch
    import torch.nn as nn
except ImportError as e:  # the runner checks this too; say it plainly
    print(f"# pytorch_train_step: PyTorch is not importable ({e}); nothing measured", flush=True)
    sys.exit(3)

NZ, NGF, NDF, NC, SIZE = 100, 64, 64, 3, 64
MIB = 1024.0 * 1024.0


# ---- models ------------------------------------------------------------------------------------------------------

def dcgan_generator(size=64):
    # 4x4 from the noise, then one doubling per block: widths NGF * 8 (64 px) or NGF * 4 (32 px) down to NGF.
    mult = 8 if size == 64 else 4
    layers = [nn.ConvTranspose2d(NZ, NGF * mult, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * mult), nn.ReLU(True)]
    while mult > 1:
        layers += [nn.ConvTranspose2d(NGF * mult, NGF * mult // 2, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(NGF * mult // 2), nn.ReLU(True)]
        mult //= 2
    return nn.Sequential(*layers, nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False), nn.Tanh())


def dcgan_discriminator(size=64):
    top = 8 if size == 64 else 4
    layers = [nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    mult = 1
    while mult < top:
        layers += [nn.Conv2d(NDF * mult, NDF * mult * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * mult * 2),
                   nn.LeakyReLU(0.2, inplace=True)]
        mult *= 2
    return nn.Sequential(*layers, nn.Conv2d(NDF * top, 1, 4, 1, 0, bias=False), nn.Flatten())


class LayerNorm32(nn.LayerNorm):
    """LayerNorm on a float32 input. Under CUDA autocast this is what layer_norm does anyway (it is on the float32
    list); torch 1.13's CPU autocast leaves layer_norm out, and its CPU kernel then refuses the bf16 output of the
    conv before it with float32 weights. Without autocast x.float() returns x itself: nothing changes."""

    def forward(self, x):
        return super().forward(x.float())


def wgan_gp_critic():
    # Not in place: the penalty differentiates through these activations twice.
    return nn.Sequential(
        nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), LayerNorm32([NDF * 2, 16, 16]), nn.LeakyReLU(0.2),
        nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), LayerNorm32([NDF * 4, 8, 8]), nn.LeakyReLU(0.2),
        nn.Conv2d(NDF * 4, NDF * 8, 4, 2, 1, bias=False), LayerNorm32([NDF * 8, 4, 4]), nn.LeakyReLU(0.2),
        nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False), nn.Flatten())


# ---- one iteration per model -------------------------------------------------------------------------------------
# amp() opens the region of forwards and losses: contextlib.nullcontext() (float32), or torch.autocast to bf16.

def autocast_region(dev, precision):
    if precision == "bf16":
        return lambda: torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def make_dcgan(batch, dev, compiled, compile_kwargs, size=SIZE, amp=contextlib.nullcontext):
    torch.manual_seed(0)
    G, D = dcgan_generator(size).to(dev), dcgan_discriminator(size).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    Gr, Dr = (torch.compile(G, **compile_kwargs), torch.compile(D, **compile_kwargs)) if compiled else (G, D)
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, NC, size, size, device=dev) * 2 - 1

    def step():
        opt_d.zero_grad(set_to_none=True)
        with amp():
            real_logits = Dr(real)
            loss_real = bce(real_logits, torch.ones_like(real_logits))
            fake = Gr(torch.randn(batch, NZ, 1, 1, device=dev))
            fake_logits = Dr(fake.detach())
            loss_fake = bce(fake_logits, torch.zeros_like(fake_logits))
        (loss_real + loss_fake).backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        with amp():
            logits = Dr(fake)
            loss_g = bce(logits, torch.ones_like(logits))
        loss_g.backward()
        opt_g.step()

    return step, "G,D" if compiled else ""


def make_wgan_gp(batch, dev, compiled, compile_kwargs, penalty_eager=False, amp=contextlib.nullcontext):
    torch.manual_seed(0)
    G, D = dcgan_generator().to(dev), wgan_gp_critic().to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.0, 0.9))
    Gr, Dr = (torch.compile(G, **compile_kwargs), torch.compile(D, **compile_kwargs)) if compiled else (G, D)
    Dp = D if penalty_eager else Dr  # the critic for the penalty's pass (double backward)
    real = torch.rand(batch, NC, SIZE, SIZE, device=dev) * 2 - 1
    n_critic, lam = 5, 10.0

    def step():
        for _ in range(n_critic):
            with torch.no_grad(), amp():
                fake = Gr(torch.randn(batch, NZ, 1, 1, device=dev))
            opt_d.zero_grad(set_to_none=True)
            with amp():
                wloss = Dr(fake).mean() - Dr(real).mean()
                eps = torch.rand(batch, 1, 1, 1, device=dev)
                # float32 (real and eps are): the penalty's input and so its gradient g, whatever fake's dtype.
                x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
                scores = Dp(x_hat)
            # A backward pass (kept for the double backward), so outside autocast as in PyTorch's AMP
            # gradient-penalty example; the penalty computed from it is a loss again, so inside.
            (g,) = torch.autograd.grad(scores, x_hat, torch.ones_like(scores), create_graph=True)
            with amp():
                norm = torch.sqrt(g.pow(2).sum(dim=(1, 2, 3)) + 1e-12)
                gp = (norm - 1).pow(2).mean() * lam
            (wloss + gp).backward()
            opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        with amp():
            loss_g = -Dr(Gr(torch.randn(batch, NZ, 1, 1, device=dev))).mean()
        loss_g.backward()
        opt_g.step()

    scope = ("G,D (penalty pass through eager D)" if penalty_eager else "G,D") if compiled else ""
    return step, scope


MODELS = {"dcgan64": make_dcgan, "wgan_gp64": make_wgan_gp,
          "dcgan32": lambda *a, **k: make_dcgan(*a, size=32, **k)}


# ---- timing ------------------------------------------------------------------------------------------------------

def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def free_memory(dev):
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.empty_cache()


def measure(step, dev, warmup, min_time, iters):
    for _ in range(warmup):
        step()
        sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    n = 0
    start = time.perf_counter()
    while True:
        step()
        sync(dev)
        n += 1
        elapsed = time.perf_counter() - start
        if (iters and n >= iters) or (not iters and elapsed >= min_time):
            break
    res = {"ms": elapsed * 1000.0 / n, "iters": n}
    if dev.type == "cuda":
        res["alloc"] = torch.cuda.max_memory_allocated(dev) / MIB
        res["reserved"] = torch.cuda.max_memory_reserved(dev) / MIB
    return res


def tf32_state():
    """(matmul, cudnn) allow_tf32 as PyTorch reports them ('?' where it will not say)."""
    out = []
    for get in (lambda: torch.backends.cuda.matmul.allow_tf32, lambda: torch.backends.cudnn.allow_tf32):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(str(bool(get())))
        except Exception:  # newer PyTorch may refuse the legacy flag after the new API was used
            out.append("?")
    return out


def emit(fields, reason=None):
    line = "pytorch_train_step " + " ".join(f"{k}={v}" for k, v in fields.items())
    if reason is not None:
        line += " reason=" + " ".join(str(reason).split())[:300]
    print(line, flush=True)


def first_line(exc):
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--models", default="dcgan64,wgan_gp64")
    ap.add_argument("--batches", default="64,128,256", help="DCGAN-64 batch sizes")
    ap.add_argument("--wgan-batches", default="64", help="WGAN-GP batch sizes")
    ap.add_argument("--dcgan32-batches", default="64", help="DCGAN-32 batch sizes (with --models dcgan32)")
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--iters", type=int, default=0, help="timed iterations (0: run for --min-time)")
    ap.add_argument("--min-time", type=float, default=None, help="seconds per configuration (3 CUDA, 1 CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up iterations (5 CUDA, 1 CPU)")
    ap.add_argument("--tf32", default="default", choices=["default", "on", "off"],
                    help="TF32 for matmul and cuDNN: PyTorch's defaults, or both on / off")
    ap.add_argument("--precision", default="default", choices=["default", "bf16"],
                    help="default: float32 (TF32 as --tf32 says); bf16: forwards and losses under torch.autocast "
                         "to bfloat16, float32 weights and Adam state (the peer of GAN_PRECISION=bf16)")
    ap.add_argument("--compile-mode", default="", help="torch.compile mode (default: inductor's default)")
    ap.add_argument("--budget", type=float, default=0.0,
                    help="seconds for everything; configurations that no longer fit are printed as skipped")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    ap.add_argument("--tag", action="append", default=[], help="KEY=VALUE added to every line (e.g. commit=abc)")
    args = ap.parse_args()
    t0 = time.monotonic()

    if args.device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif args.device == "cuda" and not torch.cuda.is_available():
        print("# pytorch_train_step: --device cuda but torch.cuda.is_available() is False", flush=True)
        return 2
    else:
        dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    min_time = args.min_time if args.min_time is not None else (3.0 if cuda else 1.0)

    torch.backends.cudnn.benchmark = True
    if args.tf32 != "default":
        on = args.tf32 == "on"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.backends.cuda.matmul.allow_tf32 = on
            torch.backends.cudnn.allow_tf32 = on
    tf32_matmul, tf32_cudnn = tf32_state()
    gpu = torch.cuda.get_device_name(dev).replace(" ", "_") if cuda else "none"
    version = "_".join(torch.__version__.split())
    print(f"# pytorch_train_step: torch {torch.__version__}, device {dev} ({gpu}), "
          f"cudnn {torch.backends.cudnn.version() if cuda else '-'}, cudnn.benchmark=True, "
          f"allow_tf32: matmul={tf32_matmul} cudnn={tf32_cudnn}, precision {args.precision} ("
          + ("torch.autocast bfloat16 around forwards and losses, float32 weights and Adam state"
             if args.precision == "bf16" else "float32") + f"), threads {torch.get_num_threads()}, "
          f"warm-up {warmup}, " + (f"{args.iters} timed iterations" if args.iters else f"min time {min_time} s"),
          flush=True)
    if not cuda:  # which CPU libraries do the work (compared runs must say whose OpenBLAS kernels they share)
        a = torch.randn(64, 64)
        (a @ a).sum().item()
        libs = sorted({os.path.basename(l.split()[-1]) for l in open("/proc/self/maps")
                       if any(k in l for k in ("blas", "mkl", "gomp"))})
        print(f"# pytorch_train_step: cpu blas libraries {', '.join(libs) or 'none found'}; convolutions through "
              f"oneDNN (mkldnn): {torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled}",
              flush=True)

    tags = {}
    for t in args.tag:
        k, _, v = t.partition("=")
        tags[k.strip()] = "_".join(v.split()) or "-"

    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            ap.error(f"unknown model {m!r}; known: {', '.join(MODELS)}")
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in ("eager", "compile"):
            ap.error(f"unknown mode {m!r}; known: eager, compile")
    configs = []
    dcgan_b = [int(b) for b in args.batches.split(",") if b]
    wgan_b = [int(b) for b in args.wgan_batches.split(",") if b]
    dcgan32_b = [int(b) for b in args.dcgan32_batches.split(",") if b]
    # The first batch of each model first, so a cut-short run still has every model.
    for i in range(max(len(dcgan_b), len(wgan_b), len(dcgan32_b))):
        for name, batches in (("dcgan64", dcgan_b), ("wgan_gp64", wgan_b), ("dcgan32", dcgan32_b)):
            if name in models and i < len(batches):
                configs.append((name, batches[i]))

    compile_reason = None
    if not hasattr(torch, "compile"):
        compile_reason = f"torch {torch.__version__} has no torch.compile (it needs PyTorch >= 2.0)"
    compile_kwargs = {"dynamic": False}
    if args.compile_mode:
        compile_kwargs["mode"] = args.compile_mode
    amp = autocast_region(dev, args.precision)

    for mode in modes:
        for model, batch in configs:
            base = {"model": model, "batch": batch, "mode": mode, "device": dev.type, "precision": args.precision}
            common = {"torch": version, "tf32_matmul": tf32_matmul, "tf32_cudnn": tf32_cudnn,
                      "cudnn_benchmark": "True", "gpu": gpu, **tags}
            if mode == "compile" and compile_reason:
                emit({**base, "status": "skipped", **common}, compile_reason)
                continue
            need = min_time + (60.0 if mode == "compile" else 5.0)
            if args.budget and time.monotonic() - t0 + need > args.budget:
                emit({**base, "status": "skipped", **common},
                     f"out of time: {args.budget - (time.monotonic() - t0):.0f} s of the {args.budget:.0f} s "
                     f"budget left, about {need:.0f} s needed")
                continue
            compiled = mode == "compile"
            attempts = [{}]
            if compiled and model == "wgan_gp64":
                attempts.append({"penalty_eager": True})
            failure = None
            for extra in attempts:
                free_memory(dev)
                try:
                    if compiled:
                        # Fresh caches: no recompile limit carried over from other sizes.
                        importlib.import_module("torch._dynamo").reset()
                    step, scope = MODELS[model](batch, dev, compiled, compile_kwargs, amp=amp, **extra)
                    res = measure(step, dev, warmup, min_time, args.iters)
                except Exception as e:  # noqa: BLE001 - report any failure as a row, go on with the rest
                    failure = first_line(e)
                    if extra == {} and len(attempts) > 1:
                        print(f"# {model} batch {batch} compile: the penalty through the compiled critic failed "
                              f"({failure}); retrying with that pass in eager mode", flush=True)
                    step = None
                    continue
                fields = {**base, "status": "ok", "ms_per_iter": f"{res['ms']:.3f}",
                          "images_per_s": f"{batch * 1000.0 / res['ms']:.1f}", "iters": res["iters"],
                          "peak_alloc_mib": f"{res['alloc']:.1f}" if cuda else "na",
                          "peak_reserved_mib": f"{res['reserved']:.1f}" if cuda else "na", **common}
                if compiled:
                    fields["compile_scope"] = scope.replace(" ", "_")
                    fields["compile_mode"] = args.compile_mode or "default"
                emit(fields)
                failure = None
                break
            if failure is not None:
                emit({**base, "status": "failed", **common}, failure)
            step = None
            free_memory(dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
