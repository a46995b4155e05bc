#!/usr/bin/python3
"""Dump golden values from PyTorch for the engine's golden tests (tests/core/test_golden.cpp).

Regenerate (only needed when a case is added or changed; the files are committed):

    /usr/bin/python3 tests/golden/make_golden.py        # Debian's python3-torch (CPU), run from anywhere
    /usr/bin/python3 tests/golden/make_golden.py second_order gan_ops   # only the files named

It writes tests/golden/data/{conv,batchnorm,losses,optim,dcgan_tiny,second_order,conv_ext,gan_ops}.safetensors. CI and the C++ tests only read
those files: they need neither torch nor Python. Everything is seeded (torch.manual_seed) and computed in float32
(second_order and conv_ext in float64) on the CPU, so a rerun with the same PyTorch gives the same bytes (up to PyTorch's own
kernel changes).

The safetensors files are written by hand below (no safetensors package needed): an 8-byte little-endian header
length, a JSON header {name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}} padded with spaces to
a multiple of 8, then the raw little-endian row-major data. Scalars are stored with shape [] (one element).
Hyper-parameters are in "__metadata__" (for readers) and, where a test needs them, as I64/F64 tensors too.
"""

import json
import os
import random
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "data")

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> torch.Tensor or numpy array (float32, float64 or int64)."""
    header = {}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous().numpy()
        arr = np.array(value, order="C")  # (np.ascontiguousarray would turn a 0-d scalar into shape [1])
        if arr.dtype not in _DTYPES:
            raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        header[name] = {"dtype": _DTYPES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    return os.path.getsize(path)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def i64(*values):
    return torch.tensor(list(values), dtype=torch.int64)


# ---------------------------------------------------------------------------------------------------------------
# a. convolution and transposed convolution: forward and the three gradients for a random grad_out
# ---------------------------------------------------------------------------------------------------------------
def make_conv():
    torch.manual_seed(1)
    out, meta = {}, {}
    cases = [
        # name, transposed, x shape, w shape, stride, padding, output_padding, bias
        ("c1", False, [2, 3, 7, 5], [4, 3, 3, 3], 2, 1, 0, True),     # odd spatial sizes, stride 2, pad 1
        ("c2", False, [2, 3, 9, 8], [5, 3, 4, 4], 2, 1, 0, False),    # DCGAN-like k4 s2 p1, no bias, odd H
        ("t1", True, [2, 4, 3, 4], [4, 3, 4, 4], 2, 1, 1, True),      # transposed, output_padding 1
        ("t2", True, [2, 6, 1, 1], [6, 5, 4, 4], 1, 0, 0, False),     # DCGAN's first layer: 1x1 -> 4x4
    ]
    for name, transposed, xs, ws, s, p, op, has_bias in cases:
        x = leaf(torch.randn(xs))
        w = leaf(torch.randn(ws) * 0.5)
        b = leaf(torch.randn(ws[1] if transposed else ws[0])) if has_bias else None
        if transposed:
            y = F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op)
        else:
            y = F.conv2d(x, w, b, stride=s, padding=p)
        g = torch.randn_like(y)
        y.backward(g)
        out[f"{name}.x"] = x
        out[f"{name}.w"] = w
        if has_bias:
            out[f"{name}.b"] = b
            out[f"{name}.grad_b"] = b.grad
        out[f"{name}.y"] = y
        out[f"{name}.grad_y"] = g
        out[f"{name}.grad_x"] = x.grad
        out[f"{name}.grad_w"] = w.grad
        # [stride, padding, output_padding, has_bias, transposed]
        out[f"{name}.args"] = i64(s, p, op, int(has_bias), int(transposed))
        meta[name] = (f"{'conv_transpose2d' if transposed else 'conv2d'} x{xs} w{ws} stride={s} padding={p} "
                      f"output_padding={op} bias={has_bias}")
    meta["args"] = "<case>.args = [stride, padding, output_padding, has_bias, transposed]"
    return out, meta


# ---------------------------------------------------------------------------------------------------------------
# b. batch norm
# ---------------------------------------------------------------------------------------------------------------
def make_batchnorm():
    torch.manual_seed(2)
    out, meta = {}, {}
    C = 3
    x1 = torch.randn(4, C, 5, 5) * 1.5 + 0.3
    x2 = torch.randn(4, C, 5, 5) * 0.7 - 0.2
    x3 = torch.randn(4, C, 5, 5)
    w0 = torch.randn(C) * 0.5 + 1.0
    b0 = torch.randn(C) * 0.5

    # BatchNorm2d, train mode, two steps; gradients of the second call.
    bn = nn.BatchNorm2d(C)
    with torch.no_grad():
        bn.weight.copy_(w0)
        bn.bias.copy_(b0)
    bn.train()
    y1 = bn(x1)
    out["bn2d.running_mean1"] = bn.running_mean.clone()
    out["bn2d.running_var1"] = bn.running_var.clone()
    x2l = leaf(x2)
    y2 = bn(x2l)
    g2 = torch.randn_like(y2)
    y2.backward(g2)
    out.update({
        "bn2d.weight": w0, "bn2d.bias": b0, "bn2d.x1": x1, "bn2d.y1": y1.detach(),
        "bn2d.x2": x2, "bn2d.y2": y2.detach(), "bn2d.grad_y2": g2,
        "bn2d.running_mean2": bn.running_mean.clone(), "bn2d.running_var2": bn.running_var.clone(),
        "bn2d.num_batches_tracked": bn.num_batches_tracked.clone(),
        "bn2d.grad_x2": x2l.grad, "bn2d.grad_weight": bn.weight.grad, "bn2d.grad_bias": bn.bias.grad,
    })
    bn.eval()
    with torch.no_grad():
        out["bn2d.x3"] = x3
        out["bn2d.y3_eval"] = bn(x3)
    meta["bn2d"] = ("BatchNorm2d(3) eps=1e-5 momentum=0.1, running stats start 0/1; train: y1=bn(x1), "
                    "y2=bn(x2), grads of <grad_y2, y2>; eval: y3_eval=bn(x3) with running stats after step 2")

    # BN + activation, unfused as PyTorch computes it: one train step from fresh running stats on x1.
    for act_name, act in (("relu", nn.ReLU()), ("lrelu", nn.LeakyReLU(0.2))):
        bn = nn.BatchNorm2d(C)
        with torch.no_grad():
            bn.weight.copy_(w0)
            bn.bias.copy_(b0)
        xl = leaf(x1)
        y = act(bn(xl))
        g = torch.randn_like(y)
        y.backward(g)
        p = f"bn2d_{act_name}"
        out.update({
            f"{p}.y": y.detach(), f"{p}.grad_y": g, f"{p}.grad_x": xl.grad,
            f"{p}.grad_weight": bn.weight.grad, f"{p}.grad_bias": bn.bias.grad,
            f"{p}.running_mean": bn.running_mean.clone(), f"{p}.running_var": bn.running_var.clone(),
        })
        meta[p] = (f"{act} after BatchNorm2d(3) (weight/bias = bn2d.weight/bias), train, one step on bn2d.x1 "
                   "from fresh running stats")

    # BatchNorm1d, train, one step.
    bn = nn.BatchNorm1d(4)
    w = torch.randn(4) * 0.5 + 1.0
    b = torch.randn(4) * 0.5
    with torch.no_grad():
        bn.weight.copy_(w)
        bn.bias.copy_(b)
    x = leaf(torch.randn(6, 4) * 2.0 + 0.5)
    y = bn(x)
    g = torch.randn_like(y)
    y.backward(g)
    out.update({
        "bn1d.weight": w, "bn1d.bias": b, "bn1d.x": x, "bn1d.y": y.detach(), "bn1d.grad_y": g,
        "bn1d.grad_x": x.grad, "bn1d.grad_weight": bn.weight.grad, "bn1d.grad_bias": bn.bias.grad,
        "bn1d.running_mean": bn.running_mean.clone(), "bn1d.running_var": bn.running_var.clone(),
    })
    meta["bn1d"] = "BatchNorm1d(4) train, one step on x [6,4] from running stats 0/1"
    meta["eps"] = "1e-5"
    meta["momentum"] = "0.1"
    return out, meta


# ---------------------------------------------------------------------------------------------------------------
# c. losses
# ---------------------------------------------------------------------------------------------------------------
def make_losses():
    torch.manual_seed(3)
    out, meta = {}, {}

    # BCE with logits, hard targets.
    x = leaf(torch.randn(8) * 3.0)
    t = (torch.rand(8) > 0.5).float()
    v = F.binary_cross_entropy_with_logits(x, t)
    v.backward()
    out.update({"bce_hard.logits": x, "bce_hard.targets": t, "bce_hard.value": v.detach(),
                "bce_hard.grad_logits": x.grad})

    # BCE with logits, soft targets (label smoothing), gradient w.r.t. the targets too. A few large logits test
    # the stable form.
    x = leaf(torch.cat([torch.randn(18) * 2.0, torch.tensor([30.0, -30.0])]).reshape(4, 5))
    t = leaf(torch.rand(4, 5))
    v = F.binary_cross_entropy_with_logits(x, t)
    v.backward()
    out.update({"bce_soft.logits": x, "bce_soft.targets": t, "bce_soft.value": v.detach(),
                "bce_soft.grad_logits": x.grad, "bce_soft.grad_targets": t.grad})

    # MSE.
    x = leaf(torch.randn(3, 4))
    t = leaf(torch.randn(3, 4))
    v = F.mse_loss(x, t)
    v.backward()
    out.update({"mse.x": x, "mse.target": t, "mse.value": v.detach(), "mse.grad_x": x.grad,
                "mse.grad_target": t.grad})

    # Gaussian NLL (full=False, eps=1e-6, mean).
    x = leaf(torch.randn(5, 3))
    t = leaf(torch.randn(5, 3))
    var = leaf(torch.rand(5, 3) * 2.0 + 0.05)
    v = F.gaussian_nll_loss(x, t, var, full=False, eps=1e-6, reduction="mean")
    v.backward()
    out.update({"gnll.input": x, "gnll.target": t, "gnll.var": var, "gnll.value": v.detach(),
                "gnll.grad_input": x.grad, "gnll.grad_target": t.grad, "gnll.grad_var": var.grad})

    # KL(N(mu, exp(logvar)) || N(0, 1)): mean over batch of the sum over the other dims.
    mu = leaf(torch.randn(4, 6))
    logvar = leaf(torch.randn(4, 6) * 0.5)
    v = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(dim=1).mean()
    v.backward()
    out.update({"kl.mu": mu, "kl.logvar": logvar, "kl.value": v.detach(), "kl.grad_mu": mu.grad,
                "kl.grad_logvar": logvar.grad})

    # Cross entropy.
    x = leaf(torch.randn(5, 7) * 2.0)
    t = torch.randint(0, 7, (5,), dtype=torch.int64)
    v = F.cross_entropy(x, t)
    v.backward()
    out.update({"ce.logits": x, "ce.targets": t, "ce.value": v.detach(), "ce.grad_logits": x.grad})

    # log_softmax along the last dim, gradient for a random grad_out.
    x = leaf(torch.randn(4, 6) * 3.0)
    y = F.log_softmax(x, dim=1)
    g = torch.randn_like(y)
    y.backward(g)
    out.update({"log_softmax.x": x, "log_softmax.y": y.detach(), "log_softmax.grad_y": g,
                "log_softmax.grad_x": x.grad})

    # Wasserstein critic mean(fake) - mean(real) and generator -mean(fake).
    real = leaf(torch.randn(6))
    fake = leaf(torch.randn(6))
    v = fake.mean() - real.mean()
    v.backward()
    out.update({"wgan.real": real, "wgan.fake": fake, "wgan.critic_value": v.detach(),
                "wgan.critic_grad_real": real.grad, "wgan.critic_grad_fake": fake.grad})
    fake2 = leaf(fake)
    v = -fake2.mean()
    v.backward()
    out.update({"wgan.generator_value": v.detach(), "wgan.generator_grad_fake": fake2.grad})

    meta["reduction"] = "mean everywhere"
    meta["gnll"] = "gaussian_nll_loss full=False eps=1e-6"
    meta["kl"] = "mean over dim 0 of sum over dim 1 of -0.5(1 + logvar - mu^2 - exp(logvar))"
    meta["log_softmax"] = "dim=1"
    return out, meta


# ---------------------------------------------------------------------------------------------------------------
# d. optimizers: fixed gradients (independent of the parameters), three steps each
# ---------------------------------------------------------------------------------------------------------------
def make_optim():
    torch.manual_seed(4)
    out, meta = {}, {}
    p0 = torch.randn(3, 4)
    grads = [torch.randn(3, 4) for _ in range(3)]
    out["param0"] = p0
    for k, g in enumerate(grads, 1):
        out[f"grad{k}"] = g
    configs = {
        "sgd_nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
        "sgd": (torch.optim.SGD, dict(lr=0.1)),
        "adam": (torch.optim.Adam, dict(lr=1e-2, betas=(0.5, 0.999), weight_decay=1e-2)),
        "rmsprop": (torch.optim.RMSprop, dict(lr=1e-2, alpha=0.99, momentum=0.9)),
    }
    for name, (cls, kw) in configs.items():
        p = nn.Parameter(p0.clone())
        opt = cls([p], **kw)
        for k, g in enumerate(grads, 1):
            opt.zero_grad()
            p.grad = g.clone()
            opt.step()
            out[f"{name}.step{k}"] = p.detach().clone()
        full = {key: val for key, val in opt.param_groups[0].items() if key != "params"}
        meta[name] = f"{cls.__name__}({json.dumps(full, default=str)})"
    meta["layout"] = "param0 [3,4]; grad<k> is the gradient fed at step k; <opt>.step<k> the parameter after it"
    return out, meta


# ---------------------------------------------------------------------------------------------------------------
# e. tiny DCGAN, two full training iterations
# ---------------------------------------------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def dcgan_init(m):
    for mod in m.modules():
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(mod.weight, 0.0, 0.02)
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.normal_(mod.weight, 1.0, 0.02)
            nn.init.zeros_(mod.bias)


def state(prefix, module):
    return {f"{prefix}.{k}": v.detach().clone() for k, v in module.state_dict().items()}


def grads(prefix, module):
    return {f"{prefix}.{k}": p.grad.detach().clone() for k, p in module.named_parameters()}


def make_dcgan():
    torch.manual_seed(5)
    nz, ngf, ndf, nc, batch = 16, 8, 8, 1, 4
    G = Net([
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
    ])
    D = Net([
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
    ])
    dcgan_init(G)
    dcgan_init(D)
    G.train()
    D.train()
    out = {}
    out.update(state("init.G", G))
    out.update(state("init.D", D))
    real = torch.rand(batch, nc, 32, 32) * 2.0 - 1.0
    out["real"] = real
    zs = [torch.randn(batch, nz, 1, 1) for _ in range(2)]
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()

    def d_logits(x):
        return D(x).view(-1)

    for it, z in enumerate(zs, 1):
        out[f"iter{it}.z"] = z
        # D step.
        optD.zero_grad()
        out_real = d_logits(real)
        loss_real = bce(out_real, torch.ones(batch))
        fake = G(z)
        out_fake = d_logits(fake.detach())
        loss_fake = bce(out_fake, torch.zeros(batch))
        (loss_real + loss_fake).backward()
        if it == 1:
            out.update(grads("iter1.D.grad", D))
        optD.step()
        # G step.
        optG.zero_grad()
        out_g = d_logits(fake)
        loss_g = bce(out_g, torch.ones(batch))
        loss_g.backward()
        if it == 1:
            out.update(grads("iter1.G.grad", G))
        optG.step()
        out.update({
            f"iter{it}.loss_real": loss_real.detach(), f"iter{it}.loss_fake": loss_fake.detach(),
            f"iter{it}.loss_G": loss_g.detach(), f"iter{it}.fake": fake.detach(),
            f"iter{it}.D_real": out_real.detach(), f"iter{it}.D_fake": out_fake.detach(),
            f"iter{it}.D_fake_for_G": out_g.detach(),
        })
    out.update(state("final.G", G))
    out.update(state("final.D", D))
    meta = {
        "config": "nc=1 nz=16 ngf=8 ndf=8 image 32x32 batch 4, bias-free convs, both nets in train mode throughout",
        "optim": "Adam(lr=2e-4, betas=(0.5, 0.999)) for G and D; BCEWithLogitsLoss (mean)",
        "iteration": ("optD.zero_grad; loss_real = bce(D(real), 1); fake = G(z); loss_fake = bce(D(fake.detach()), "
                      "0); (loss_real + loss_fake).backward; optD.step; optG.zero_grad; loss_G = bce(D(fake), 1); "
                      "loss_G.backward; optG.step"),
        "G": repr(G.net).replace("\n", " "),
        "D": repr(D.net).replace("\n", " ") + " -> flattened to [N]",
        "names": ("init.{G,D}.<state_dict key>, final.{G,D}.<key> after iteration 2; iter1.{D,G}.grad.<param> after "
                  "that net's backward in iteration 1; iter<k>.{z,fake,loss_real,loss_fake,loss_G,D_real,D_fake,"
                  "D_fake_for_G}"),
    }
    return out, meta


# ---------------------------------------------------------------------------------------------------------------
# f. second order (float64): Hessian-vector products through the fused losses and batch norm, and which ops keep
#    the edge to their input in a gradient taken with create_graph (tests/core/test_second_order.cpp)
# ---------------------------------------------------------------------------------------------------------------
def hvp_case(out, meta, name, fn, inputs, consts, desc):
    """fn(**inputs, **consts) -> scalar. Stores the inputs, the loss, its gradient w.r.t. every input (taken with
    create_graph) and the Hessian-vector product d<grad, v>/dinput for a random direction v."""
    leaves = {k: leaf(v) for k, v in inputs.items()}
    loss = fn(**leaves, **consts)
    keys = list(leaves)
    grads = torch.autograd.grad(loss, [leaves[k] for k in keys], create_graph=True)
    vs = {k: torch.randn_like(leaves[k]) for k in keys}
    dot = sum((g * vs[k]).sum() for g, k in zip(grads, keys))
    hvps = torch.autograd.grad(dot, [leaves[k] for k in keys], allow_unused=True)
    out[f"{name}.loss"] = loss.detach()
    for k, g, h in zip(keys, grads, hvps):
        out[f"{name}.in.{k}"] = leaves[k]
        out[f"{name}.v.{k}"] = vs[k]
        out[f"{name}.grad.{k}"] = g
        out[f"{name}.hvp.{k}"] = torch.zeros_like(leaves[k]) if h is None else h + 0.0  # materialize zero tensors
    for k, c in consts.items():
        out[f"{name}.const.{k}"] = c
    meta[name] = desc


def second_order_semantics(out, meta):
    """For each op, 1 where PyTorch returns a (zero) Hessian-vector product through the op alone and 0 where it
    raises because the gradient does not require grad; for the activations, 1 where the gradient of a gradient
    penalty w.r.t. a bias that only reaches the penalty through the activation's derivative is returned (zeros)
    and 0 where PyTorch calls the bias unused."""
    y2 = torch.randn(5, dtype=torch.float64)
    ops = {
        "relu": torch.relu, "leaky_relu": lambda x: F.leaky_relu(x, 0.2), "abs": torch.abs,
        "clamp": lambda x: torch.clamp(x, -0.5, 0.5), "maximum": lambda x: torch.maximum(x, y2),
        "minimum": lambda x: torch.minimum(x, y2), "where": lambda x: torch.where(y2 > 0, x, -x),
        "max_dim": lambda x: x.view(1, 5).max(1)[0], "max_all": lambda x: x.max(),
    }
    for name, f in ops.items():
        x = leaf(torch.randn(5, dtype=torch.float64))
        (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        try:
            (h,) = torch.autograd.grad(g, x, torch.ones_like(g))
            assert float((h + 0.0).abs().max()) == 0.0
            out[f"semantics.{name}.hvp"] = i64(1)
        except RuntimeError:
            out[f"semantics.{name}.hvp"] = i64(0)
    for name in ("relu", "leaky_relu", "abs", "clamp"):
        f = ops[name]
        x = leaf(torch.randn(2, 3, dtype=torch.float64))
        w1 = leaf(torch.randn(3, 4, dtype=torch.float64))
        b1 = leaf(torch.randn(4, dtype=torch.float64))
        w2 = leaf(torch.randn(4, 1, dtype=torch.float64))
        (gx,) = torch.autograd.grad(f(x @ w1 + b1) @ w2, x, torch.ones(2, 1, dtype=torch.float64),
                                    create_graph=True)
        penalty = (gx.pow(2).sum(1) - 1).pow(2).mean()
        try:
            gb = torch.autograd.grad(penalty, [w1, b1, w2])[1]
            assert float(gb.abs().max()) == 0.0
            out[f"semantics.{name}.penalty"] = i64(1)
        except RuntimeError:
            out[f"semantics.{name}.penalty"] = i64(0)
    meta["semantics"] = ("<op>.hvp: 1 = grad(grad(f(x).sum(), x, create_graph=True), x, ones) returns zeros, "
                         "0 = it raises (the gradient does not require grad); <op>.penalty: 1 = the gradient of "
                         "(|d(f(x w1 + b1) w2)/dx|^2 - 1)^2 w.r.t. b1 is returned (zeros), 0 = b1 is 'unused'")


def make_second_order():
    torch.manual_seed(6)
    out, meta = {}, {}
    d = torch.float64

    def rnd(*shape, scale=1.0):
        return torch.randn(*shape, dtype=d) * scale

    def pos(*shape):
        return torch.rand(*shape, dtype=d) * 1.5 + 0.5

    def weighted(loss):  # reduction 'none': a weighted sum of the terms makes a scalar
        return lambda w, **kw: (loss(**kw) * w).sum()

    x, t = rnd(3, 4, scale=2.0), torch.rand(3, 4, dtype=d)
    for red in ("mean", "sum"):
        hvp_case(out, meta, f"bce_{red}", lambda x, t, red=red: F.binary_cross_entropy_with_logits(x, t, reduction=red),
                 {"x": x, "t": t}, {}, f"binary_cross_entropy_with_logits(x, t, reduction='{red}')")
        hvp_case(out, meta, f"mse_{red}", lambda x, t, red=red: F.mse_loss(x, t, reduction=red),
                 {"x": x, "t": rnd(3, 4)}, {}, f"mse_loss(x, t, reduction='{red}')")
    hvp_case(out, meta, "bce_none", weighted(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none")),
             {"x": x, "t": t}, {"w": rnd(3, 4)}, "sum(w * bce_with_logits(x, t, reduction='none'))")
    hvp_case(out, meta, "mse_none", weighted(lambda x, t: F.mse_loss(x, t, reduction="none")),
             {"x": rnd(2, 3), "t": rnd(2, 3)}, {"w": rnd(2, 3)}, "sum(w * mse_loss(x, t, reduction='none'))")

    hvp_case(out, meta, "gnll_mean", lambda x, t, var: F.gaussian_nll_loss(x, t, var),
             {"x": rnd(4, 3), "t": rnd(4, 3), "var": pos(4, 3)}, {}, "gaussian_nll_loss(x, t, var [4, 3])")
    hvp_case(out, meta, "gnll_sum_full",
             lambda x, t, var: F.gaussian_nll_loss(x, t, var, full=True, reduction="sum"),
             {"x": rnd(4, 3), "t": rnd(4, 3), "var": pos(4)}, {},
             "gaussian_nll_loss(x, t, var [4] (homoscedastic), full=True, reduction='sum')")
    hvp_case(out, meta, "gnll_none",
             weighted(lambda x, t, var: F.gaussian_nll_loss(x, t, var, reduction="none")),
             {"x": rnd(4, 3), "t": rnd(4, 3), "var": pos(4, 1)}, {"w": rnd(4, 3)},
             "sum(w * gaussian_nll_loss(x, t, var [4, 1], reduction='none'))")

    def kl_terms(mu, lv):
        return -0.5 * (1 + lv - mu.pow(2) - lv.exp())
    mu, lv = rnd(3, 4), rnd(3, 4, scale=0.5)
    hvp_case(out, meta, "kl_mean", lambda mu, lv: kl_terms(mu, lv).sum(1).mean(), {"mu": mu, "lv": lv}, {},
             "kl_normal: mean over dim 0 of the sum over dim 1 of -0.5 (1 + lv - mu^2 - exp(lv))")
    hvp_case(out, meta, "kl_sum", lambda mu, lv: kl_terms(mu, lv).sum(), {"mu": mu, "lv": lv}, {}, "kl_normal, sum")
    hvp_case(out, meta, "kl_none", weighted(kl_terms), {"mu": mu, "lv": lv}, {"w": rnd(3, 4)},
             "sum(w * kl terms)")

    # Critic losses on the scores of a small critic 3 tanh(x w), so the Hessian is not zero.
    xr, xf, w = rnd(4, 3), rnd(5, 3), rnd(3, 1)
    def scores(x, w):
        return 3.0 * torch.tanh(x @ w)
    with torch.no_grad():  # the hinge's kinks (real = 1, fake = -1) must be far from the test point
        assert (scores(xr, w) - 1).abs().min() > 1e-3 and (scores(xf, w) + 1).abs().min() > 1e-3
    hvp_case(out, meta, "hinge_mean",
             lambda xr, xf, w: F.relu(1 - scores(xr, w)).mean() + F.relu(1 + scores(xf, w)).mean(),
             {"xr": xr, "xf": xf, "w": w}, {}, "mean(relu(1 - D(xr))) + mean(relu(1 + D(xf))), D(x) = 3 tanh(x w)")
    hvp_case(out, meta, "hinge_sum",
             lambda xr, xf, w: F.relu(1 - scores(xr, w)).sum() + F.relu(1 + scores(xf, w)).sum(),
             {"xr": xr, "xf": xf, "w": w}, {}, "hinge critic loss, reduction sum")
    hvp_case(out, meta, "wasserstein_mean", lambda xr, xf, w: scores(xf, w).mean() - scores(xr, w).mean(),
             {"xr": xr, "xf": xf, "w": w}, {}, "mean(D(xf)) - mean(D(xr))")
    hvp_case(out, meta, "hinge_generator", lambda xf, w: -scores(xf, w).mean(), {"xf": xf, "w": w}, {},
             "-mean(D(xf))")

    # Batch norm (training: batch statistics; eval: running statistics), with its activation, weighted by c.
    def bn(act, training, x, weight, bias, c, rm=None, rv=None):
        y = F.batch_norm(x, rm, rv, weight, bias, training=training)
        return (act(y) * c).sum()
    x4 = rnd(4, 3, 2, 2, scale=1.5) + 0.3
    wb, bb, c4 = rnd(3) * 0.5 + 1.0, rnd(3) * 0.3, rnd(4, 3, 2, 2)
    for nm, act in (("identity", lambda y: y), ("relu", F.relu), ("leaky", lambda y: F.leaky_relu(y, 0.2))):
        hvp_case(out, meta, f"bn_train_{nm}", lambda x, weight, bias, c, act=act: bn(act, True, x, weight, bias, c),
                 {"x": x4, "weight": wb, "bias": bb}, {"c": c4},
                 f"sum(c * {nm}(batch_norm(x, weight, bias, training=True)))")
    rm, rv = rnd(3) * 0.2, pos(3)
    hvp_case(out, meta, "bn_eval_leaky",
             lambda x, weight, bias, c, rm, rv: bn(lambda y: F.leaky_relu(y, 0.2), False, x, weight, bias, c, rm, rv),
             {"x": x4, "weight": wb, "bias": bb}, {"c": c4, "rm": rm, "rv": rv},
             "sum(c * leaky_relu(batch_norm(x, rm, rv, weight, bias, training=False), 0.2))")
    hvp_case(out, meta, "bn1d_train_relu", lambda x, weight, bias, c: bn(F.relu, True, x, weight, bias, c),
             {"x": rnd(6, 3), "weight": wb, "bias": bb}, {"c": rnd(6, 3)},
             "sum(c * relu(batch_norm(x [6, 3], weight, bias, training=True)))")

    hvp_case(out, meta, "ce_sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"), {"x": rnd(4, 5)},
             {"t": torch.tensor([1, 4, 0, 2], dtype=torch.int64)}, "cross_entropy(x, t, reduction='sum')")

    second_order_semantics(out, meta)
    meta["cases"] = ("<case>.in.<k>: inputs (differentiated), <case>.const.<k>: constants, <case>.loss, "
                     "<case>.grad.<k>: dloss/dk (create_graph=True), <case>.v.<k>: direction, "
                     "<case>.hvp.<k>: d(sum_j <grad_j, v_j>)/dk; float64")
    return out, meta


# ---------------------------------------------------------------------------------------------------------------
# g. convolution with dilation, groups (depthwise too), per-axis stride, padding and output padding (float64):
#    forward, the three gradients of <grad_y, y>, and the gradient w.r.t. x and w of a WGAN-GP-style penalty
#    sum((d<grad_y, tanh(y)>/dx)^2) (tests/core/test_conv_ext_golden.cpp)
# ---------------------------------------------------------------------------------------------------------------
def make_conv_ext():
    torch.manual_seed(7)
    out, meta = {}, {}
    d = torch.float64
    cases = [
        # name, transposed, x shape, w shape, stride, padding, output_padding, dilation, groups, bias
        ("dil2", False, [2, 3, 7, 6], [4, 3, 3, 3], (1, 1), (2, 2), (0, 0), (2, 2), 1, True),
        ("axes", False, [1, 2, 9, 7], [3, 2, 3, 2], (2, 1), (0, 2), (0, 0), (1, 2), 1, False),
        ("groups2", False, [2, 4, 6, 5], [6, 2, 3, 3], (2, 2), (1, 1), (0, 0), (1, 1), 2, True),
        ("depthwise", False, [2, 3, 6, 6], [6, 1, 3, 3], (1, 2), (1, 1), (0, 0), (1, 1), 3, True),
        ("t_groups2", True, [2, 4, 3, 4], [4, 3, 3, 3], (2, 2), (1, 1), (1, 1), (1, 1), 2, True),
        ("t_axes", True, [1, 2, 3, 2], [2, 3, 2, 3], (2, 3), (1, 0), (1, 2), (2, 1), 1, False),
        ("t_depthwise", True, [2, 3, 4, 3], [3, 1, 4, 4], (2, 2), (1, 1), (0, 0), (1, 1), 3, True),
        ("t_outpad_dil", True, [1, 2, 3, 3], [2, 2, 2, 2], (1, 1), (0, 0), (1, 1), (2, 2), 1, True),
    ]
    for name, transposed, xs, ws, s, p, op, dil, g, has_bias in cases:
        x = leaf(torch.randn(xs, dtype=d))
        w = leaf(torch.randn(ws, dtype=d) * 0.5)
        cout = ws[1] * g if transposed else ws[0]
        b = leaf(torch.randn(cout, dtype=d)) if has_bias else None
        if transposed:
            y = F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op, groups=g, dilation=dil)
        else:
            y = F.conv2d(x, w, b, stride=s, padding=p, dilation=dil, groups=g)
        gy = torch.randn_like(y)
        grads = torch.autograd.grad(y, [x, w] + ([b] if has_bias else []), gy, retain_graph=True)
        # A penalty on the input gradient of <gy, tanh(y)> (tanh: so it depends on x as well as on w).
        (gx_t,) = torch.autograd.grad(torch.tanh(y), x, gy, create_graph=True)
        pen_x, pen_w = torch.autograd.grad(gx_t.pow(2).sum(), [x, w])
        out.update({f"{name}.x": x, f"{name}.w": w, f"{name}.y": y.detach(), f"{name}.grad_y": gy,
                    f"{name}.grad_x": grads[0], f"{name}.grad_w": grads[1],
                    f"{name}.penalty_grad_x": pen_x, f"{name}.penalty_grad_w": pen_w})
        if has_bias:
            out[f"{name}.b"] = b
            out[f"{name}.grad_b"] = grads[2]
        out[f"{name}.args"] = i64(*s, *p, *op, *dil, g, int(has_bias), int(transposed))
        meta[name] = (f"{'conv_transpose2d' if transposed else 'conv2d'} x{xs} w{ws} stride={s} padding={p} "
                      f"output_padding={op} dilation={dil} groups={g} bias={has_bias}")

    # The modules, built with PyTorch's constructor arguments: their weight shapes and outputs.
    conv = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2).double()
    tconv = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=1).double()
    x = torch.randn(2, 4, 7, 6, dtype=d)
    with torch.no_grad():
        out.update({"module_conv.x": x, "module_conv.weight": conv.weight.clone(), "module_conv.bias": conv.bias.clone(),
                    "module_conv.y": conv(x), "module_tconv.weight": tconv.weight.clone(),
                    "module_tconv.bias": tconv.bias.clone(), "module_tconv.y": tconv(x)})
    meta["module_conv"] = str(conv)
    meta["module_tconv"] = str(tconv)
    meta["args"] = ("<case>.args = [stride_h, stride_w, pad_h, pad_w, output_padding_h, output_padding_w, "
                    "dilation_h, dilation_w, groups, has_bias, transposed]; penalty_grad_* = d sum(g^2)/d*, g = "
                    "d<grad_y, tanh(y)>/dx taken with create_graph; float64")
    return out, meta


# h. GAN-field ops (tests/core/test_golden_gan_ops.cpp): spectral norm, R1/R2, interpolate, avg_pool2d,
#    instance norm, conditional batch norm, AdamW and per-group optimizer settings
# ---------------------------------------------------------------------------------------------------------------
def make_gan_ops():
    torch.manual_seed(6)
    out, meta = {}, {}

    # Spectral norm (torch.nn.utils.parametrizations.spectral_norm) on Linear, Conv2d, ConvTranspose2d: the state
    # dict as PyTorch writes it after construction, two training forwards (power iteration each), the gradients of
    # the first, and an eval forward.
    sn_cases = [
        ("sn_linear", lambda: nn.Linear(5, 4), [3, 5], 1),
        ("sn_conv", lambda: nn.Conv2d(3, 4, 3, 1, 1), [2, 3, 5, 4], 2),
        ("sn_convt", lambda: nn.ConvTranspose2d(4, 3, 4, 2, 1), [2, 4, 3, 3], 1),
    ]
    for name, make, xs, iters in sn_cases:
        m = torch.nn.utils.parametrizations.spectral_norm(make(), n_power_iterations=iters)
        m.train()
        for k, v in m.state_dict().items():
            out[f"{name}.init.{k}"] = v.detach().clone()
        x1 = leaf(torch.randn(xs))
        y1 = m(x1)
        g1 = torch.randn_like(y1)
        y1.backward(g1)
        out.update({f"{name}.x1": x1, f"{name}.y1": y1.detach(), f"{name}.grad_y1": g1, f"{name}.grad_x1": x1.grad,
                    f"{name}.grad_original": m.parametrizations.weight.original.grad,
                    f"{name}.grad_bias": m.bias.grad,
                    f"{name}.u1": m.parametrizations.weight[0]._u.clone(),
                    f"{name}.v1": m.parametrizations.weight[0]._v.clone()})
        x2 = torch.randn(xs)
        out[f"{name}.x2"] = x2
        out[f"{name}.y2"] = m(x2).detach()
        m.eval()
        x3 = torch.randn(xs)
        with torch.no_grad():
            out[f"{name}.x3"] = x3
            out[f"{name}.y3_eval"] = m(x3)
            out[f"{name}.weight_eval"] = m.weight
        out[f"{name}.u3"] = m.parametrizations.weight[0]._u.clone()
        meta[name] = (f"spectral_norm({make()}, n_power_iterations={iters}); init.<state_dict key> after construction; "
                      "train: y1 = m(x1), grads of <grad_y1, y1>, u1/v1 after it; y2 = m(x2); eval: y3_eval = m(x3), "
                      "weight_eval, u3 (unchanged by eval)")
        out[f"{name}.iters"] = i64(iters)

    # R1 / R2 penalties: gamma / 2 * mean_n ||grad_x D(x)_n||^2, and its gradients w.r.t. D's parameters.
    gamma = 10.0
    d_cases = [
        ("r1_mlp", lambda: nn.Sequential(nn.Linear(6, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)), [5, 6]),
        ("r1_conv", lambda: nn.Sequential(nn.Conv2d(2, 3, 3, 1, 1), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 4 * 4, 1)),
         [3, 2, 4, 4]),
    ]
    for name, make, xs in d_cases:
        D = make()
        for k, v in D.state_dict().items():
            out[f"{name}.D.{k}"] = v.detach().clone()
        for which in ("real", "fake"):
            x = torch.randn(xs)
            xl = leaf(x)
            scores = D(xl)
            (g,) = torch.autograd.grad(scores.sum(), xl, create_graph=True)
            penalty = g.pow(2).reshape(g.shape[0], -1).sum(1).mean() * (gamma / 2)
            D.zero_grad()
            penalty.backward()
            out[f"{name}.{which}.x"] = x
            out[f"{name}.{which}.penalty"] = penalty.detach()
            for k, p in D.named_parameters():  # None (no path, e.g. a bias before leaky_relu) stored as zeros
                out[f"{name}.{which}.grad.{k}"] = torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
        meta[name] = f"D = {D}; penalty = gamma/2 * mean_n sum (dD(x)/dx)^2, gamma = {gamma}; grad.<param>"
    out["r1.gamma"] = torch.tensor(gamma, dtype=torch.float64)

    # interpolate: nearest and bilinear, sizes and scale factors; output and the gradient for a random grad_out.
    x = torch.randn(2, 3, 5, 4)
    out["interp.x"] = x
    interp_cases = [
        ("nearest_x2", dict(scale_factor=2, mode="nearest")),
        ("nearest_size", dict(size=(7, 9), mode="nearest")),
        ("nearest_scale", dict(scale_factor=(1.5, 2.25), mode="nearest")),
        ("nearest_down", dict(size=(3, 2), mode="nearest")),
        ("bilinear_x2", dict(scale_factor=2, mode="bilinear", align_corners=False)),
        ("bilinear_align", dict(size=(7, 9), mode="bilinear", align_corners=True)),
        ("bilinear_scale", dict(scale_factor=(1.7, 0.8), mode="bilinear", align_corners=False)),
        ("bilinear_down", dict(size=(3, 3), mode="bilinear", align_corners=False)),
        ("bilinear_align_one", dict(size=(1, 6), mode="bilinear", align_corners=True)),
    ]
    for name, kw in interp_cases:
        xl = leaf(x)
        y = F.interpolate(xl, **kw)
        g = torch.randn_like(y)
        y.backward(g)
        out.update({f"interp.{name}.y": y.detach(), f"interp.{name}.grad_y": g, f"interp.{name}.grad_x": xl.grad})
        meta[f"interp.{name}"] = f"F.interpolate(x, {kw})"

    # PyTorch 1.13's nearest forward on NCHW input with C > 1 reads floor(o / factor); its backward (and its
    # channels-last forward, taken for C = 1) first maps out == in to o and out == 2 in to o >> 1, which differs
    # for a factor that is not exactly 1 or 2 yet gives such a size. The engine keeps the NCHW forward (and its true
    # adjoint): only the forward is compared here.
    x = torch.randn(1, 2, 2, 4)
    out.update({"interp_edge.x": x, "interp_edge.y": F.interpolate(x, scale_factor=(1.1, 2.1), mode="nearest")})
    meta["interp_edge"] = "F.interpolate(x [1,2,2,4], scale_factor=(1.1, 2.1), mode='nearest'): forward only"

    # Random resampling configurations, float64 (as a fuzz run of 1405 such cases did before this file): output
    # and input gradient. C = 2, so PyTorch takes its NCHW kernels; nearest configurations where its forward and
    # backward index rules differ (above) are skipped.
    rng = random.Random(7)
    fuzz = []
    while len(fuzz) < 48:
        H, W = rng.randint(1, 6), rng.randint(1, 6)
        kind = ("nearest", "bilinear", "pool")[len(fuzz) % 3]
        if kind == "pool":
            k = [rng.randint(1, 4), rng.randint(1, 4)]
            args = dict(kernel_size=k, stride=[rng.randint(1, 3), rng.randint(1, 3)],
                        padding=[rng.randint(0, k[0] // 2), rng.randint(0, k[1] // 2)], ceil_mode=rng.random() < 0.5,
                        count_include_pad=rng.random() < 0.5, divisor_override=rng.choice([None, None, 3]))
            fn = lambda t, a=args: F.avg_pool2d(t, **a)
        else:
            args = dict(mode=kind)
            if kind == "bilinear":
                args["align_corners"] = rng.random() < 0.5
            if rng.random() < 0.5:
                args["size"] = [rng.randint(1, 10), rng.randint(1, 10)]
            else:
                args["scale_factor"] = [round(rng.uniform(0.4, 2.5), 3), round(rng.uniform(0.4, 2.5), 3)]
                sizes = [int(n * f) for n, f in zip((H, W), args["scale_factor"])]
                if min(sizes) < 1 or max(sizes) > 10:
                    continue
                if kind == "nearest" and any(o in (n, 2 * n) and f not in (1.0, 2.0)
                                             for o, n, f in zip(sizes, (H, W), args["scale_factor"])):
                    continue
            fn = lambda t, a=args: F.interpolate(t, **a)
        xl = leaf(torch.randn(1, 2, H, W, dtype=torch.float64))
        try:
            y = fn(xl)
        except RuntimeError:  # e.g. an output size PyTorch refuses
            continue
        g = torch.randn_like(y)
        y.backward(g)
        n = len(fuzz)
        out.update({f"fuzz.{n}.x": xl, f"fuzz.{n}.y": y.detach(), f"fuzz.{n}.grad_y": g, f"fuzz.{n}.grad_x": xl.grad})
        fuzz.append(dict(kind=kind, **{k: v for k, v in args.items() if k != "mode"}))
    meta["fuzz"] = json.dumps(fuzz)

    # avg_pool2d.
    x = torch.randn(2, 3, 7, 6)
    out["pool.x"] = x
    pool_cases = [
        ("k2", dict(kernel_size=2)),
        ("k3s2p1", dict(kernel_size=3, stride=2, padding=1)),
        ("k3s2p1_nopad", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
        ("k3s2p1_ceil", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
        ("k3s2_ceil_nopad", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
        ("rect", dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
        ("divisor", dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    ]
    for name, kw in pool_cases:
        xl = leaf(x)
        y = F.avg_pool2d(xl, **kw)
        g = torch.randn_like(y)
        y.backward(g)
        out.update({f"pool.{name}.y": y.detach(), f"pool.{name}.grad_y": g, f"pool.{name}.grad_x": xl.grad})
        meta[f"pool.{name}"] = f"F.avg_pool2d(x, {kw})"

    # InstanceNorm2d: PyTorch's defaults (no affine, no running stats), then affine + track_running_stats: one
    # training step and an eval forward.
    x = leaf(torch.randn(2, 3, 4, 5) * 1.5 + 0.5)
    m = nn.InstanceNorm2d(3)
    y = m(x)
    g = torch.randn_like(y)
    y.backward(g)
    out.update({"inorm.x": x, "inorm.y": y.detach(), "inorm.grad_y": g, "inorm.grad_x": x.grad})
    m = nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    with torch.no_grad():
        m.weight.copy_(torch.randn(3) * 0.5 + 1.0)
        m.bias.copy_(torch.randn(3) * 0.5)
    out.update({"inorm_affine.weight": m.weight.detach().clone(), "inorm_affine.bias": m.bias.detach().clone()})
    x = leaf(torch.randn(2, 3, 4, 5) * 0.7 - 0.3)
    y = m(x)
    g = torch.randn_like(y)
    y.backward(g)
    out.update({"inorm_affine.x": x, "inorm_affine.y": y.detach(), "inorm_affine.grad_y": g,
                "inorm_affine.grad_x": x.grad, "inorm_affine.grad_weight": m.weight.grad,
                "inorm_affine.grad_bias": m.bias.grad, "inorm_affine.running_mean": m.running_mean.clone(),
                "inorm_affine.running_var": m.running_var.clone()})
    m.eval()
    with torch.no_grad():
        x3 = torch.randn(2, 3, 4, 5)
        out.update({"inorm_affine.x3": x3, "inorm_affine.y3_eval": m(x3)})
    meta["inorm"] = "InstanceNorm2d(3) (eps 1e-5, no affine, no running stats): y, grads of <grad_y, y>"
    meta["inorm_affine"] = ("InstanceNorm2d(3, affine=True, track_running_stats=True), momentum 0.1: one train step "
                            "(running stats after it), then eval on x3")

    # Conditional batch norm: BatchNorm2d(C, affine=False) then gain/bias rows of Embedding(K, 2C), the common
    # PyTorch ConditionalBatchNorm2d layout (embed.weight[:, :C] gains, [:, C:] biases).
    C, K = 3, 4
    bn = nn.BatchNorm2d(C, affine=False)
    embed = nn.Embedding(K, 2 * C)
    with torch.no_grad():
        embed.weight[:, :C].normal_(1.0, 0.3)
        embed.weight[:, C:].normal_(0.0, 0.3)
    out["cbn.embed.weight"] = embed.weight.detach().clone()
    x = leaf(torch.randn(4, C, 3, 3) * 1.2 + 0.2)
    labels = torch.tensor([0, 2, 3, 2], dtype=torch.int64)
    gain, beta = embed(labels).chunk(2, dim=1)
    y = gain.view(-1, C, 1, 1) * bn(x) + beta.view(-1, C, 1, 1)
    g = torch.randn_like(y)
    y.backward(g)
    out.update({"cbn.x": x, "cbn.labels": labels, "cbn.y": y.detach(), "cbn.grad_y": g, "cbn.grad_x": x.grad,
                "cbn.grad_embed": embed.weight.grad, "cbn.running_mean": bn.running_mean.clone(),
                "cbn.running_var": bn.running_var.clone()})
    bn.eval()
    with torch.no_grad():
        x3 = torch.randn(4, C, 3, 3)
        gain, beta = embed(labels).chunk(2, dim=1)
        out.update({"cbn.x3": x3, "cbn.y3_eval": gain.view(-1, C, 1, 1) * bn(x3) + beta.view(-1, C, 1, 1)})
    meta["cbn"] = ("y = embed(labels)[:, :C] * BatchNorm2d(C, affine=False)(x) + embed(labels)[:, C:], C=3, K=4; one "
                   "train step (running stats after it), then eval on x3")

    # Optimizers: AdamW, and parameter groups with their own settings for every optimizer; fixed gradients fed for
    # three steps (as make_optim).
    pa0, pb0 = torch.randn(3, 4), torch.randn(5)
    grads = [(torch.randn(3, 4), torch.randn(5)) for _ in range(3)]
    out.update({"opt.a0": pa0, "opt.b0": pb0})
    for k, (ga, gb) in enumerate(grads, 1):
        out[f"opt.grad_a{k}"] = ga
        out[f"opt.grad_b{k}"] = gb
    opt_cases = {
        "adamw": (torch.optim.AdamW, [dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1)]),
        "adamw_default": (torch.optim.AdamW, [dict()]),
        "adamw_groups": (torch.optim.AdamW, [dict(lr=1e-2, weight_decay=0.05), dict(lr=3e-2, betas=(0.5, 0.9),
                                                                                 eps=1e-6, weight_decay=0.0)]),
        "adam_groups": (torch.optim.Adam, [dict(lr=1e-2, betas=(0.5, 0.999)), dict(lr=2e-3, weight_decay=0.1)]),
        "sgd_groups": (torch.optim.SGD, [dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.05, momentum=0.0,
                                                                                       weight_decay=1e-2)]),
        "rmsprop_groups": (torch.optim.RMSprop, [dict(lr=1e-2, momentum=0.9), dict(lr=3e-3, alpha=0.9,
                                                                                  centered=True)]),
    }
    for name, (cls, groups) in opt_cases.items():
        a, b = nn.Parameter(pa0.clone()), nn.Parameter(pb0.clone())
        if len(groups) == 1:
            opt = cls([a, b], **groups[0])
        else:
            opt = cls([{"params": [a], **groups[0]}, {"params": [b], **groups[1]}])
        for k, (ga, gb) in enumerate(grads, 1):
            opt.zero_grad()
            a.grad, b.grad = ga.clone(), gb.clone()
            opt.step()
            out[f"opt.{name}.a{k}"] = a.detach().clone()
            out[f"opt.{name}.b{k}"] = b.detach().clone()
        settings = [{key: val for key, val in g.items() if key != "params"} for g in opt.param_groups]
        meta[f"opt.{name}"] = f"{cls.__name__} param_groups {json.dumps(settings, default=str)}"
    meta["opt.layout"] = ("params a [3,4], b [5]; one group [a, b], or group 0 = [a], group 1 = [b]; "
                          "grad_a<k>/grad_b<k> fed at step k; opt.<case>.a<k>/b<k> after it")
    return out, meta


GENERATORS = (("conv", make_conv), ("batchnorm", make_batchnorm), ("losses", make_losses), ("optim", make_optim),
              ("dcgan_tiny", make_dcgan), ("second_order", make_second_order), ("conv_ext", make_conv_ext),
              ("gan_ops", make_gan_ops))


def main(argv):
    """Writes every file, or only the ones named on the command line (e.g. `make_golden.py second_order`)."""
    known = [name for name, _ in GENERATORS]
    unknown = [a for a in argv if a not in known]
    if unknown:
        print(f"make_golden.py: unknown file(s) {unknown}; known: {known}", file=sys.stderr)
        return 2
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.set_num_threads(1)  # the same summation order on every machine
    common = {"generator": "tests/golden/make_golden.py", "torch": torch.__version__}
    total = 0
    for name, fn in GENERATORS:
        if argv and name not in argv:
            continue
        tensors, meta = fn()
        size = write_safetensors(os.path.join(OUT_DIR, f"{name}.safetensors"), tensors, {**common, **meta})
        total += size
        print(f"{name}.safetensors: {len(tensors)} tensors, {size} bytes")
    print(f"total: {total} bytes ({total / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
