"""Invertible 1x1 convolution in LU form (Glow, Kingma & Dhariwal 2018, §3.2, eq. 10): a learned
channel mixing whose log-determinant costs O(C) instead of O(C^3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class InvConv2dLU(nn.Module):
    """``y = W x`` at every pixel of ``(N, C, H, W)``, ``W = P L (U + diag(sign(s) exp(log|s|)))``.

    ``P`` (a permutation) and ``sign(s)`` are fixed buffers; ``L`` (unit lower triangular), ``U``
    (strictly upper triangular) and ``log|s|`` are learned. ``W`` starts as a random rotation.
    The log-determinant is ``H * W * sum(log|s|)``; the inverse uses triangular solves.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        rotation = torch.linalg.qr(torch.randn(channels, channels))[0]
        p, lower, upper = torch.linalg.lu(rotation)
        s = torch.diagonal(upper)
        self.register_buffer("p", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(torch.abs(s)))

    def factors(self) -> tuple[Tensor, Tensor]:
        """The triangular factors ``L`` (unit diagonal) and ``U`` (diagonal ``s``), each (C, C)."""
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return lower, upper

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(N, C, H, W) -> (y (N, C, H, W), logdet (N,))``."""
        lower, upper = self.factors()
        weight = self.p @ lower @ upper
        logdet = x.shape[2] * x.shape[3] * self.log_s.sum()
        return F.conv2d(x, weight[:, :, None, None]), logdet.expand(x.size(0))

    def inverse(self, y: Tensor) -> Tensor:
        """``(N, C, H, W) -> x`` with ``W^-1 = U^-1 L^-1 P^T``."""
        lower, upper = self.factors()
        lower_inv = torch.linalg.solve_triangular(lower, self.eye, upper=False, unitriangular=True)
        upper_inv = torch.linalg.solve_triangular(upper, self.eye, upper=True)
        weight = upper_inv @ lower_inv @ self.p.T
        return F.conv2d(y, weight[:, :, None, None])
