"""Regularisers of the discriminator, as pure functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP penalty E[(||grad D(x_hat)||_2 - 1)^2] (Gulrajani et al. 2017, eq. 3).

    ``x_hat`` is drawn uniformly on the segment between each real ``(N, C, H, W)`` and fake image.
    Computed in fp32 with autocast off: the double backward is unstable in bf16/fp16.
    """
    with torch.autocast(device_type=real.device.type, enabled=False):
        alpha = torch.rand(real.size(0), *([1] * (real.dim() - 1)), device=real.device)
        x_hat = torch.lerp(fake.detach().float(), real.detach().float(), alpha)
        x_hat.requires_grad_(True)
        out = critic(x_hat).float()
        (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
        return (grad.flatten(1).norm(2, dim=1) - 1.0).square().mean()


@torch.no_grad()
def clip_weights(parameters: Iterable[nn.Parameter], clip_value: float) -> None:
    """WGAN weight clipping (Arjovsky et al. 2017): clamp every weight to [-c, c] in place."""
    for p in parameters:
        p.clamp_(-clip_value, clip_value)
