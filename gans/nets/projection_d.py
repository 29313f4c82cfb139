"""Projection discriminator (Miyato & Koyama 2018, eq. 3) on the DCGAN trunk with spectral norm.

logit = psi(phi(x)) + <embed(y), phi(x)>, where phi(x) (N, C) is the sum-pooled trunk output and
embed is a bias-free linear map of the condition (a sum of class embeddings for multi-hot y).
With ``aux_head`` D also returns class logits (ACGAN's auxiliary classifier; the GAN module adds
its loss when ``aux_weight`` is set): from phi(x) (``aux_trunk: shared``), or from a separate
DCGAN trunk with BatchNorm and no spectral norm (``aux_trunk: batchnorm``) — trained alone on
ICLEVR-like images, that trunk learns which colour goes with which shape far faster than the
spectrally normalised one.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gans.nets.dcgan import dcgan_classifier, dcgan_d_features, init_dcgan_weights


class ProjectionDiscriminator(nn.Module):
    """``(x (N, channels, S, S), y (N, cond_dim))`` -> logits ``(N,)``, or
    ``(logits, class_logits (N, cond_dim))`` with ``aux_head``."""

    def __init__(
        self,
        cond_dim: int = 24,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        norm: Literal["batch", "none"] = "none",
        aux_head: bool = False,
        aux_trunk: Literal["shared", "batchnorm"] = "shared",
    ) -> None:
        super().__init__()
        self.features, ch = dcgan_d_features(image_size, channels, width, norm, spectral=True)
        self.psi = spectral_norm(nn.Linear(ch, 1))
        self.embed = spectral_norm(nn.Linear(cond_dim, ch, bias=False))
        if aux_trunk not in ("shared", "batchnorm"):
            raise ValueError(f"aux_trunk must be 'shared' or 'batchnorm', got {aux_trunk!r}")
        self.classifier: nn.Module | None = None
        if aux_head and aux_trunk == "shared":
            self.classifier = nn.Linear(ch, cond_dim)
        elif aux_head:
            self.classifier = dcgan_classifier(image_size, channels, width, cond_dim)
        self.aux_trunk = aux_trunk
        self.apply(init_dcgan_weights)

    def forward(self, x: Tensor, y: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        h = self.features(x).sum(dim=(2, 3))
        logits = self.psi(h).flatten() + (self.embed(y.to(h.dtype)) * h).sum(dim=1)
        if self.classifier is None:
            return logits
        return logits, self.classifier(h if self.aux_trunk == "shared" else x)
