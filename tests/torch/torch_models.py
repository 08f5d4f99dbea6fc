"""Small models and independent references for the qdsl.torch tests.

The references use only PyTorch's own tools — `torch.nn.utils.prune.global_unstructured` for the
paper's pruning, `torch.autograd.functional.hessian`/`hvp` on a function of the flat parameter
vector for derivatives, `torch.optim.SGD` for training — never qdsl.torch's code.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils import prune

U64 = float(np.finfo(np.float64).eps)


def tanh_mlp(sizes, seed=0, dtype=torch.float64) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers).to(dtype)


def classification_data(n, d, classes, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y


def paper_pruned_copy(model, sparsity, keep_last=True):
    """A deep copy pruned by prune.global_unstructured (L1) over every Linear weight, the last one
    left dense when `keep_last` (the reference paper); returns (copy, {param name: keep-mask}) in
    the original model's named_parameters() order."""
    m = copy.deepcopy(model)
    linears = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
    targets = [(mod, "weight") for mod in (linears[:-1] if keep_last else linears)]
    if sparsity > 0 and targets:
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=sparsity)
    found = {}
    for name, mod in m.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            key = f"{name}.{pname}" if name else pname
            if pname.endswith("_orig"):
                found[key[:-5]] = getattr(mod, pname[:-5] + "_mask").bool()
            else:
                found[key] = torch.ones_like(p, dtype=torch.bool)
    return m, {name: found[name] for name, _ in model.named_parameters()}


def flat_reference(model, masks):
    """(names, shapes, flat full parameter vector with pruned entries zero, keep-index into it)."""
    names, shapes, parts, keep = [], [], [], []
    off = 0
    for name, p in model.named_parameters():
        names.append(name)
        shapes.append(p.shape)
        m = masks[name].reshape(-1)
        parts.append(p.detach().reshape(-1) * m)
        keep.append(torch.nonzero(m).reshape(-1) + off)
        off += p.numel()
    return names, shapes, torch.cat(parts), torch.cat(keep)


def loss_of_flat(model, loss_fn, x, y, names, shapes):
    """L as a function of the full flat parameter vector (the model's own forward)."""
    def f(theta):
        params, off = {}, 0
        for n, s in zip(names, shapes):
            k = int(np.prod(s))
            params[n] = theta[off:off + k].view(s)
            off += k
        return loss_fn(functional_call(model, params, (x,)), y)
    return f


def support_function(model, loss_fn, x, y, masks):
    """(f on the surviving entries only, θ_S): f(θ_S) = L(model with those entries, pruned = 0)."""
    names, shapes, full, keep = flat_reference(model, masks)
    f_full = loss_of_flat(model, loss_fn, x, y, names, shapes)

    def f(theta_s):
        return f_full(full.index_put((keep,), theta_s))
    return f, full[keep].clone()


def dense_hessian(model, loss_fn, x, y):
    """The Hessian over every parameter by torch.autograd.functional.hessian, as numpy."""
    masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters()}
    f, theta = support_function(model, loss_fn, x, y, masks)
    return torch.autograd.functional.hessian(f, theta).numpy()


class _Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        h = torch.relu(self.b1(self.c1(x)))
        return torch.relu(x + self.b2(self.c2(h)))


def small_resnet(channels=4, classes=3, seed=0, dtype=torch.float64) -> nn.Module:
    """conv–BN–ReLU, one residual block (two conv–BN), global average pooling, a linear classifier:
    a ResNet in miniature, with BatchNorm (used in train mode by the tests)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
                         _Block(channels), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(channels, classes)).to(dtype)
