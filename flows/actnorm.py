"""Activation normalisation (Glow, Kingma & Dhariwal 2018, §3.1): a per-channel affine map whose
parameters are initialised from the first batch so that its output has zero mean and unit
variance per channel."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


class ActNorm(nn.Module):
    """``y = (x + loc) * exp(log_scale)`` per channel, on ``(N, C, H, W)``.

    The first ``forward`` sets ``loc`` and ``log_scale`` from its batch (averaged over processes
    under DDP, so every replica starts equal). The ``initialized`` buffer remembers this in the
    state dict, so a checkpoint loaded into a fresh module (Lightning resume, ``load_run``) never
    re-runs the initialisation.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))
        # Mirrors the buffer on the host, so the steady-state forward needs no device sync.
        self._known_initialized = False

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set ``loc = -mean`` and ``log_scale = -log(std)`` per channel of ``x`` (N, C, H, W)."""
        moments = torch.stack([x.mean(dim=(0, 2, 3)), x.square().mean(dim=(0, 2, 3))])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(moments)
            moments /= dist.get_world_size()
        mean, mean_sq = moments
        std = (mean_sq - mean.square()).clamp_min(0.0).sqrt()
        self.loc.copy_(-mean.view_as(self.loc))
        self.log_scale.copy_(-torch.log(std + 1e-6).view_as(self.log_scale))
        self.initialized.fill_(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(N, C, H, W) -> (y, logdet (N,))``, logdet ``H * W * sum(log_scale)``."""
        if not self._known_initialized:
            if not self.initialized:
                self.initialize(x)
            self._known_initialized = True
        height, width = x.shape[2:]
        logdet = height * width * self.log_scale.sum()
        return (x + self.loc) * torch.exp(self.log_scale), logdet.expand(x.size(0))

    def inverse(self, y: Tensor) -> Tensor:
        """``(N, C, H, W) -> x`` with ``forward(x)[0] == y``."""
        return y * torch.exp(-self.log_scale) - self.loc

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        """Loading may change ``initialized``: re-read it at the next forward."""
        super()._load_from_state_dict(*args, **kwargs)
        self._known_initialized = False
