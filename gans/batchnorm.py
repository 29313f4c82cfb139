"""Run a network's BatchNorm layers on their running statistics for a while."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@contextmanager
def frozen_batchnorm(module: nn.Module) -> Iterator[None]:
    """Inside the block every BatchNorm layer of ``module`` is in eval mode: it normalises with its
    running statistics and does not update them. Their modes are restored afterwards.

    A GAN's D normalises fakes this way (``GANModule(d_bn_real_stats=True)``) so that its running
    statistics are those of real images and a fake batch cannot hide a shift in colour or
    brightness behind its own batch statistics.
    """
    layers = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    modes = [m.training for m in layers]
    for layer in layers:
        layer.eval()
    try:
        yield
    finally:
        for layer, mode in zip(layers, modes, strict=True):
            layer.train(mode)
