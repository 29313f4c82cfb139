"""Additive and affine coupling layers (NICE / RealNVP as used in Glow, Kingma & Dhariwal 2018,
§3.3), optionally conditioned on a label vector ``y``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flows.zeros import ZeroConv2d


class Coupling(nn.Module):
    """Split ``x (N, C, H, W)`` into ``x_a`` (first ``C // 2`` channels) and ``x_b``; keep ``x_a``
    and transform ``x_b`` by a network of ``x_a`` (and of ``y``, broadcast to ``cond_dim`` extra
    input channels, when ``cond_dim > 0``).

    Additive: ``y_b = x_b + t``, logdet 0. Affine: ``y_b = (x_b + t) * sigmoid(r + 2)``, logdet
    ``sum log sigmoid(r + 2)``; the sigmoid keeps the scale in (0, 1) and starts near 0.88, as in
    openai/glow. The network is conv3x3-ReLU-conv1x1-ReLU-ZeroConv3x3, so the layer starts as the
    identity.

    ``clamp`` (affine only; None is off) soft-clamps the log-scale into ``(-clamp, 0)`` with
    ``clamp * tanh(log_scale / clamp)``, as FrEIA's Glow coupling does: the inverse then multiplies
    by at most ``exp(clamp)`` per layer, so a latent drawn where the network never saw data cannot
    blow a sample up to non-finite pixels (unclamped, a tiny sigmoid can make that 1e11 per layer).
    """

    def __init__(
        self,
        channels: int,
        hidden: int,
        affine: bool = True,
        cond_dim: int = 0,
        clamp: float | None = None,
    ) -> None:
        super().__init__()
        if clamp is not None and clamp <= 0:
            raise ValueError(f"clamp must be positive (or None: off), got {clamp}")
        if clamp is not None and not affine:
            raise ValueError(
                "clamp bounds an affine coupling's scale, and an additive coupling has none: set"
                " model.flow.clamp=null, or model.flow.affine=true"
            )
        self.split = channels // 2
        self.affine = affine
        self.cond_dim = cond_dim
        self.clamp = clamp
        out = (channels - self.split) * (2 if affine else 1)
        first = nn.Conv2d(self.split + cond_dim, hidden, 3, padding=1)
        middle = nn.Conv2d(hidden, hidden, 1)
        for conv in (first, middle):
            nn.init.normal_(conv.weight, 0.0, 0.05)
            nn.init.zeros_(conv.bias)
        self.net = nn.Sequential(first, nn.ReLU(), middle, nn.ReLU(), ZeroConv2d(hidden, out))

    def _shift_and_log_scale(self, x_a: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """The shift ``t`` and (affine only) ``log sigmoid(r + 2)``, each like ``x_b``."""
        h = x_a
        if self.cond_dim:
            h = torch.cat([x_a, y[:, :, None, None].expand(-1, -1, *x_a.shape[2:])], dim=1)
        h = self.net(h)
        if not self.affine:
            return h, None
        log_scale = F.logsigmoid(h[:, 1::2] + 2.0)
        if self.clamp is not None:
            log_scale = self.clamp * torch.tanh(log_scale / self.clamp)
        return h[:, 0::2], log_scale

    def forward(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(N, C, H, W)`` (and ``y (N, cond_dim)``) ``-> (out (N, C, H, W), logdet (N,))``."""
        x_a, x_b = x[:, : self.split], x[:, self.split :]
        shift, log_scale = self._shift_and_log_scale(x_a, y)
        if log_scale is None:
            return torch.cat([x_a, x_b + shift], dim=1), x.new_zeros(x.size(0))
        out_b = (x_b + shift) * torch.exp(log_scale)
        return torch.cat([x_a, out_b], dim=1), log_scale.flatten(1).sum(1)

    def inverse(self, out: Tensor, y: Tensor | None = None) -> Tensor:
        """``(N, C, H, W) -> x`` with ``forward(x, y)[0] == out``."""
        x_a, out_b = out[:, : self.split], out[:, self.split :]
        shift, log_scale = self._shift_and_log_scale(x_a, y)
        x_b = out_b - shift if log_scale is None else out_b * torch.exp(-log_scale) - shift
        return torch.cat([x_a, x_b], dim=1)
