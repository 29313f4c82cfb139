"""Small flows and data for CPU tests of the flow layers and FlowModule."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from datamodules.conditions import MultiHot
from datamodules.spec import DataSpec
from flows.glow import Glow
from flows.module import FlowModule

SPEC = DataSpec(image_size=8, name="test")
SHAPES = DataSpec(
    image_size=8,
    vocab=MultiHot(tuple(f"{c} {s}" for s in ("cube", "sphere") for c in ("red", "blue", "gray"))),
    name="shapes",
)


@torch.no_grad()
def perturb(module: nn.Module, std: float = 0.1, seed: int = 0) -> nn.Module:
    """Add noise to every parameter, so zero-initialised layers are no longer the identity."""
    g = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    return module


def tiny_flow(**kwargs) -> FlowModule:
    """A FlowModule on 8x8 RGB images with a 2-level, 2-step Glow of width 8."""
    args = dict(
        spec=SPEC,
        flow=partial(Glow, levels=2, steps=2, hidden=8),
        optimizer=partial(torch.optim.Adam, lr=1e-3),
        warmup_steps=2,
        grad_clip_norm=50.0,
        n_samples=4,
    )
    args.update(kwargs)
    return FlowModule(**args)


def loader(n_batches: int, conditions: int = 0, batch_size: int = 4, seed: int = 0) -> DataLoader:
    """Random 8x8 images in [-1, 1] with random multi-hot conditions, as datamodules yield them."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n_batches * batch_size, 3, 8, 8, generator=g) * 2 - 1
    labels = (torch.rand(len(images), conditions, generator=g) < 0.3).float()
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size)
