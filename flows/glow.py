"""Glow (Kingma & Dhariwal 2018, Fig. 2): a multi-scale flow of ``levels`` levels, each a squeeze,
``steps`` flow steps (ActNorm -> invertible 1x1 conv -> coupling) and, except at the top, a split
that factors half of the channels out under a learned prior. A conditional Glow shifts every prior
by a linear map of the condition ``y`` and, optionally, feeds ``y`` to every coupling network.

Every map works on ``x`` in about [-0.5, 0.5] (see ``flows.losses.dequantize``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from flows.actnorm import ActNorm
from flows.coupling import Coupling
from flows.invconv import InvConv2dLU
from flows.prior import SplitPrior, TopPrior, gaussian_log_prob


def squeeze(x: Tensor) -> Tensor:
    """``(N, C, H, W) -> (N, 4C, H/2, W/2)``: each 2x2 patch becomes four channels."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    """The inverse of :func:`squeeze`: ``(N, 4C, H, W) -> (N, C, 2H, 2W)``."""
    n, c, h, w = x.shape
    x = x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, h * 2, w * 2)


class FlowStep(nn.Module):
    """One step of flow on ``(N, C, H, W)``: ActNorm, then an invertible 1x1 conv, then a coupling
    (given ``y`` when built with ``cond_dim > 0``; ``clamp`` bounds its log-scale, see
    ``Coupling``)."""

    def __init__(
        self,
        channels: int,
        hidden: int,
        affine: bool,
        cond_dim: int = 0,
        clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.invconv = InvConv2dLU(channels)
        self.coupling = Coupling(channels, hidden, affine, cond_dim, clamp)

    def forward(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(N, C, H, W) -> (out (N, C, H, W), logdet (N,))``."""
        x, logdet_actnorm = self.actnorm(x)
        x, logdet_invconv = self.invconv(x)
        x, logdet_coupling = self.coupling(x, y)
        return x, logdet_actnorm + logdet_invconv + logdet_coupling

    def inverse(self, out: Tensor, y: Tensor | None = None) -> Tensor:
        """The parts' inverses in reverse order: ``forward(inverse(out, y), y)[0] == out``."""
        return self.actnorm.inverse(self.invconv.inverse(self.coupling.inverse(out, y)))


class Encoding(NamedTuple):
    """What :meth:`Glow.encode` returns for ``N`` images.

    ``zs``: one latent per level, shapes ``(N, *Glow.latent_shapes[i])``; the last is the top.
    ``logdet``: ``log |det dz/dx|``, ``(N,)``.
    ``log_pz``: ``log p(zs | y)`` under the priors, ``(N,)``.
    So ``log p(x | y) = log_pz + logdet``.
    """

    zs: list[Tensor]
    logdet: Tensor
    log_pz: Tensor


class Glow(nn.Module):
    """Glow on ``(N, channels, image_size, image_size)`` images.

    Args:
        channels, image_size: the data's shape; ``image_size`` must divide by ``2 ** levels``.
        levels: L, the number of squeeze levels (L - 1 splits).
        steps: K, the flow steps per level.
        hidden: width of the coupling networks.
        affine: affine coupling; False is additive (volume preserving).
        cond_dim: size of the condition ``y``; 0 is an unconditional Glow.
        condition_couplings: also give ``y`` to the coupling networks (``cond_dim > 0`` only).
        clamp: soft bound on the affine couplings' log-scale (None: off), which keeps decoding
            finite far from the data; see ``flows.coupling.Coupling``.
    """

    def __init__(
        self,
        channels: int,
        image_size: int,
        levels: int = 3,
        steps: int = 8,
        hidden: int = 512,
        affine: bool = True,
        cond_dim: int = 0,
        condition_couplings: bool = True,
        clamp: float | None = None,
    ) -> None:
        super().__init__()
        if levels < 1 or image_size % 2**levels:
            raise ValueError(f"image_size {image_size} must divide by 2 ** levels = {2**levels}")
        coupling_cond = cond_dim if condition_couplings else 0
        self.levels = nn.ModuleList()
        self.split_priors = nn.ModuleList()
        self.latent_shapes: list[tuple[int, int, int]] = []
        c, size = channels, image_size
        for level in range(levels):
            c, size = c * 4, size // 2
            level_steps = (FlowStep(c, hidden, affine, coupling_cond, clamp) for _ in range(steps))
            self.levels.append(nn.ModuleList(level_steps))
            if level < levels - 1:
                c //= 2
                self.split_priors.append(SplitPrior(c, cond_dim))
                self.latent_shapes.append((c, size, size))
        self.latent_shapes.append((c, size, size))
        self.top_prior = TopPrior((c, size, size), cond_dim)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Encoding:
        """Map images ``x (N, C, H, W)`` (and conditions ``y (N, cond_dim)``) to their latents,
        the log-determinant and the latents' log-prior."""
        n = x.size(0)
        zs, logdet, log_pz = [], x.new_zeros(n), x.new_zeros(n)
        h = x
        for i, level in enumerate(self.levels):
            h = squeeze(h)
            for step in level:
                h, step_logdet = step(h, y)
                logdet = logdet + step_logdet
            if i < len(self.split_priors):
                h, z = h.chunk(2, dim=1)
                mean, log_sd = self.split_priors[i](h, y)
            else:
                z = h
                mean, log_sd = self.top_prior(n, y)
            log_pz = log_pz + gaussian_log_prob(z, mean, log_sd)
            zs.append(z)
        return Encoding(zs, logdet, log_pz)

    def decode(self, zs: Sequence[Tensor], y: Tensor | None = None) -> Tensor:
        """The exact inverse of :meth:`encode`: latents ``zs`` (as encode gives them) to images."""
        return self._top_down(lambda i, mean, log_sd: zs[i], len(zs[0]), y)

    def sample(
        self, eps: Sequence[Tensor], y: Tensor | None = None, temperature: float | Tensor = 1.0
    ) -> Tensor:
        """Images ``(N, C, H, W)`` from standard normal noises ``eps`` (shapes as ``zs``): each
        latent is ``mean + temperature * exp(log_sd) * eps`` under its prior, drawn top-down.
        ``temperature`` is a number or one per image, ``(N,)``."""
        t = torch.as_tensor(temperature, dtype=eps[0].dtype, device=eps[0].device)
        t = t.reshape(-1, 1, 1, 1)
        return self._top_down(
            lambda i, mean, log_sd: mean + t * torch.exp(log_sd) * eps[i], len(eps[0]), y
        )

    def _top_down(
        self, latent: Callable[[int, Tensor, Tensor], Tensor], n: int, y: Tensor | None
    ) -> Tensor:
        """Run the levels in reverse; ``latent(i, mean, log_sd)`` gives level i's latent from its
        prior's parameters (``n`` images)."""
        h = None
        for i in reversed(range(len(self.levels))):
            if h is None:
                h = latent(i, *self.top_prior(n, y))
            else:
                h = torch.cat([h, latent(i, *self.split_priors[i](h, y))], dim=1)
            for step in reversed(self.levels[i]):
                h = step.inverse(h, y)
            h = unsqueeze(h)
        return h
