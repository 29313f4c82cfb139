"""Glow's learned Gaussian priors: one for each factored-out half (conditioned on the kept half)
and one for the top latent, each optionally shifted by a linear map of the condition ``y``."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from flows.zeros import ZeroConv2d, ZeroLinear


def gaussian_log_prob(z: Tensor, mean: Tensor, log_sd: Tensor) -> Tensor:
    """``log N(z; mean, exp(log_sd)^2)`` summed over all but the batch dimension: ``(N,)``."""
    squared = (z - mean) ** 2 * torch.exp(-2.0 * log_sd)
    log_p = -0.5 * (math.log(2 * math.pi) + 2.0 * log_sd + squared)
    return log_p.flatten(1).sum(1)


def _with_condition(h: Tensor, cond: ZeroLinear | None, y: Tensor | None) -> tuple[Tensor, Tensor]:
    """Add ``cond(y)`` ``(N, 2C)`` to ``h (N, 2C, H, W)`` at every pixel, then split it into
    ``(mean, log_sd)``, each ``(N, C, H, W)``."""
    if cond is not None:
        h = h + cond(y)[:, :, None, None]
    return h[:, 0::2], h[:, 1::2]


class SplitPrior(nn.Module):
    """``p(z_out | z_kept, y)``: a zero-initialised 3x3 conv of the kept half ``(N, C, H, W)`` gives
    the mean and log-sd of the factored-out half (same shape), as in openai/glow's ``split2d``."""

    def __init__(self, channels: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.conv = ZeroConv2d(channels, 2 * channels)
        self.cond = ZeroLinear(cond_dim, 2 * channels) if cond_dim else None

    def forward(self, kept: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return _with_condition(self.conv(kept), self.cond, y)


class TopPrior(nn.Module):
    """``p(z_top | y)``: a learned mean and log-sd for every top latent ``(C, H, W)`` (openai/glow's
    ``learntop``), plus a linear map of ``y`` per channel (its ``ycond``)."""

    def __init__(self, shape: tuple[int, int, int], cond_dim: int = 0) -> None:
        super().__init__()
        channels, height, width = shape
        self.h = nn.Parameter(torch.zeros(1, 2 * channels, height, width))
        self.cond = ZeroLinear(cond_dim, 2 * channels) if cond_dim else None

    def forward(self, n: int, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(mean, log_sd)``, each ``(n, C, H, W)``."""
        return _with_condition(self.h.expand(n, -1, -1, -1), self.cond, y)
