"""Projection discriminator (Miyato & Koyama 2018, eq. 3) on the DCGAN trunk with spectral norm.

logit = psi(phi(x)) + <embed(y), phi(x)>, where phi(x) (N, C) is the sum-pooled trunk output and
embed is a bias-free linear map of the condition (a sum of class embeddings for multi-hot y).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gans.nets.dcgan import dcgan_d_features, init_dcgan_weights


class ProjectionDiscriminator(nn.Module):
    """``(x (N, channels, S, S), y (N, cond_dim))`` -> logits ``(N,)``."""

    def __init__(
        self,
        cond_dim: int = 24,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        norm: Literal["batch", "none"] = "none",
    ) -> None:
        super().__init__()
        self.features, ch = dcgan_d_features(image_size, channels, width, norm, spectral=True)
        self.psi = spectral_norm(nn.Linear(ch, 1))
        self.embed = spectral_norm(nn.Linear(cond_dim, ch, bias=False))
        self.apply(init_dcgan_weights)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.features(x).sum(dim=(2, 3))
        return self.psi(h).flatten() + (self.embed(y.to(h.dtype)) * h).sum(dim=1)
