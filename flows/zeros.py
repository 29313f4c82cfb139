"""Zero-initialised layers: the last layer of every coupling network and every prior, so that a
fresh Glow is the identity map with a standard normal prior (Kingma & Dhariwal 2018, §3.3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ZeroConv2d(nn.Module):
    """3x3 convolution ``(N, C_in, H, W) -> (N, C_out, H, W)`` whose weight, bias and per-channel
    log-scale start at zero; the output is multiplied by ``exp(3 * logs)`` (openai/glow's
    ``conv2d_zeros``), which lets the scale grow quickly once training starts."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.logs = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x) * torch.exp(3.0 * self.logs)


class ZeroLinear(nn.Module):
    """Linear map ``(N, in_features) -> (N, out_features)``, zero at initialisation, with the same
    ``exp(3 * logs)`` output scale as :class:`ZeroConv2d` (openai/glow's ``linear_zeros``)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.logs = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x) * torch.exp(3.0 * self.logs)
