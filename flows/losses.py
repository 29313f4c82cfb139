"""The flow objective: negative log-likelihood of discrete images in bits per dimension, with
uniform dequantisation (Theis et al. 2016; Glow, Kingma & Dhariwal 2018, §5)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def dequantize(images: Tensor, n_bits: int) -> Tensor:
    """Images in [0, 1] ``(N, C, H, W)`` -> continuous values in [-0.5, 0.5].

    Each value is quantised to one of ``2 ** n_bits`` bins (5 bits as in Glow's CelebA-HQ runs, 8
    for full colour depth), spread uniformly inside its bin of width ``1 / 2 ** n_bits``, then
    centred.
    """
    n_bins = 2**n_bits
    bins = torch.floor(images * n_bins).clamp(0, n_bins - 1)
    return (bins + torch.rand_like(images)) / n_bins - 0.5


def bits_per_dim(log_likelihood: Tensor, n_bits: int, dims: int) -> Tensor:
    """Bits per dimension ``(N,)`` of a density's ``log p(x)`` ``(N,)`` on dequantised ``x``.

    The discrete probability of a bin is about ``p(x) / n_bins ** D`` (D = ``dims`` values per
    image), so ``nll = -log p(x) + D log(n_bins)`` nats, and bits/dim = ``nll / (D ln 2)``. A
    uniform density on [-0.5, 0.5]^D scores exactly ``n_bits``.
    """
    nll = -log_likelihood + dims * n_bits * math.log(2.0)
    return nll / (dims * math.log(2.0))
