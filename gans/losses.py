"""GAN objectives as pure functions of the discriminator's logits.

Every function takes raw logits of shape ``(N,)`` (never probabilities) so the stable forms
(``softplus``) are used and autocast is safe. A D loss takes ``(real_logits, fake_logits)`` and a
G loss takes ``fake_logits``; both return a scalar to minimise. Configs pick a pair by
``_target_`` (see ``conf/loss/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class GANLoss:
    """A discriminator loss and the generator loss that goes with it."""

    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]


def bce_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-log D(x) - log(1 - D(G(z))) (Goodfellow et al. 2014), with D = sigmoid(logits)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def bce_g_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    """-log D(G(z)): strong gradients when D rejects the fakes (tip 2 of the GAN-tips study)."""
    return F.softplus(-fake_logits).mean()


def bce_g_loss_saturating(fake_logits: Tensor) -> Tensor:
    """log(1 - D(G(z))), the minimax form; its gradient vanishes when D rejects the fakes."""
    return -F.softplus(fake_logits).mean()


def wgan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Negative critic estimate of the Wasserstein-1 distance: E[D(G(z))] - E[D(x)]."""
    return fake_logits.mean() - real_logits.mean()


def wgan_g_loss(fake_logits: Tensor) -> Tensor:
    """-E[D(G(z))]."""
    return -fake_logits.mean()


def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] (Lim & Ye 2017)."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_g_loss(fake_logits: Tensor) -> Tensor:
    """-E[D(G(z))], as in SN-GAN (Miyato et al. 2018)."""
    return -fake_logits.mean()


def lsgan_d_loss(
    real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0, fake_target: float = 0.0
) -> Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] (Mao et al. 2017, eq. 2), a=0 and b=1."""
    return (
        0.5 * (real_logits - real_target).square().mean()
        + 0.5 * (fake_logits - fake_target).square().mean()
    )


def lsgan_g_loss(fake_logits: Tensor, target: float = 1.0) -> Tensor:
    """1/2 E[(D(G(z)) - c)^2] with c=1."""
    return 0.5 * (fake_logits - target).square().mean()


def mode_seeking_loss(fake_a: Tensor, fake_b: Tensor, z_a: Tensor, z_b: Tensor) -> Tensor:
    """1 / (mean|G(z_a, y) - G(z_b, y)| / mean|z_a - z_b| + 1e-5), MSGAN's regulariser (Mao et
    al. 2019, eq. 3) for pairs of fakes made for the same conditions from different noise.

    Minimised by G, it rewards images that move as the noise moves, countering the
    collapse of a conditional G onto one image per condition (its loss grows as the pairs
    become equal, and so does its gradient).
    """
    image_gap = (fake_a.float() - fake_b.float()).abs().mean()
    noise_gap = (z_a - z_b).abs().mean()
    return 1.0 / (image_gap / noise_gap + 1e-5)
