"""qdsl.torch — the PyTorch bridge (docs/torch.md; optional: `pip install 'qdsl-compiler[torch]'`).

    import qdsl, qdsl.torch
    sys = qdsl.torch.extract(model, loss_fn, (x, y), lr=0.05, sparsity=0.9, degree=2)
    qdsl.compile(system=sys, order=2).certificate      # the rest of qdsl applies unchanged
    spec = qdsl.torch.hessian_spectrum(model, loss_fn, (x, y), k=5)
    proxy = qdsl.torch.error_proxy(spec, lr=0.05, steps=100)
    hist = qdsl.torch.hybrid_train(model, loss_fn, (x, y), lr=0.05, steps=300, pretrain_steps=50)

`loss_fn` is a criterion called as `loss_fn(model(x), y)` and a batch is the pair `(x, y)` (or a
loader of such pairs), as in PyTorch. Importing `qdsl` never imports torch; this subpackage does.
"""
from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("qdsl.torch needs PyTorch: pip install 'qdsl-compiler[torch]'") from exc

from .extract import ExtractedSystem, describe_dissipativity, extract
from .hybrid import HybridHistory, hybrid_train
from .objective import Objective, Support, magnitude_prune
from .proxy import ErrorProxy, error_proxy
from .spectrum import Density, LanczosPlan, Spectrum, hessian_spectrum, lanczos_plan

__all__ = ["extract", "ExtractedSystem", "hessian_spectrum", "Spectrum", "Density", "error_proxy",
           "ErrorProxy", "hybrid_train", "HybridHistory", "magnitude_prune", "Support", "Objective",
           "describe_dissipativity", "lanczos_plan", "LanczosPlan"]
