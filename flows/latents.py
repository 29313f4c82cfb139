"""Latent arithmetic for a multi-scale flow: interpolation and attribute directions (as in Glow,
Kingma & Dhariwal 2018, semantic manipulation).

A flow's latent is a list of tensors, one per level (``Glow.encode(x, y).zs``: shapes
``(N, *latent_shapes[i])``). Every function here works level by level on such lists and is pure:
no model, no randomness, inputs unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

Latents = Sequence[Tensor]


def to_flow_input(images: Tensor, n_bits: int) -> Tensor:
    """Images in [0, 1] ``(N, C, H, W)`` -> the flow's input in [-0.5, 0.5], deterministically.

    As ``flows.losses.dequantize`` but at the centre of each of the ``2 ** n_bits`` bins instead
    of a random point in it, so the same image always encodes to the same latent.
    """
    n_bins = 2**n_bits
    bins = torch.floor(images * n_bins).clamp(0, n_bins - 1)
    return (bins + 0.5) / n_bins - 0.5


def interpolate(zs_a: Latents, zs_b: Latents, frames: int) -> list[Tensor]:
    """Linear interpolation from ``zs_a`` to ``zs_b`` in ``frames`` evenly spaced steps.

    Args:
        zs_a, zs_b: latents of ``N`` start and ``N`` end points, level by level, same shapes
            (any tensors with a leading ``N``, e.g. conditions ``(N, D)``, work too).
        frames: points per pair, at least 2; the first is ``zs_a``, the last ``zs_b`` (exactly).

    Returns:
        Per level ``(N * frames, ...)``, pair by pair: rows ``i * frames ... (i + 1) * frames - 1``
        walk from pair ``i``'s start to its end, so a grid with ``frames`` per row shows one pair
        per row.
    """
    if frames < 2:
        raise ValueError(f"frames must be at least 2 (the two end points), got {frames}")
    if len(zs_a) != len(zs_b):
        raise ValueError(f"zs_a has {len(zs_a)} levels, zs_b {len(zs_b)}")
    out = []
    for a, b in zip(zs_a, zs_b, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"latent shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
        t = torch.linspace(0.0, 1.0, frames, dtype=a.dtype, device=a.device)
        t = t.reshape(1, frames, *([1] * (a.ndim - 1)))
        mixed = (1.0 - t) * a.unsqueeze(1) + t * b.unsqueeze(1)  # (N, frames, ...)
        out.append(mixed.flatten(0, 1))
    return out


def attribute_direction(zs: Latents, has_attr: Tensor) -> list[Tensor]:
    """Per level, the mean latent of the images with an attribute minus that of those without.

    Args:
        zs: latents of ``N`` images, level by level ``(N, ...)``.
        has_attr: bool (or 0/1) ``(N,)``: whether each image has the attribute; both groups must
            be non-empty.

    Returns:
        Per level a direction of one latent's shape (no leading ``N``): moving a latent along it
        adds the attribute, against it removes it.
    """
    has_attr = torch.as_tensor(has_attr).bool().reshape(-1)
    if zs and len(has_attr) != len(zs[0]):
        raise ValueError(f"has_attr has {len(has_attr)} entries for {len(zs[0])} latents")
    n_with = int(has_attr.sum())
    if n_with == 0 or n_with == len(has_attr):
        raise ValueError(
            f"an attribute direction needs images with and without the attribute; of"
            f" {len(has_attr)} images, {n_with} have it"
        )
    mask = has_attr.to(zs[0].device)
    return [z[mask].mean(0) - z[~mask].mean(0) for z in zs]


def shift(zs: Latents, direction: Latents, strength: float | Tensor) -> list[Tensor]:
    """``zs + strength * direction``, level by level.

    Args:
        zs: latents ``(N, ...)`` per level.
        direction: per level one latent's shape (as ``attribute_direction`` gives).
        strength: a number, or one per latent ``(N,)``.
    """
    if len(zs) != len(direction):
        raise ValueError(f"zs has {len(zs)} levels, direction {len(direction)}")
    out = []
    for z, d in zip(zs, direction, strict=True):
        s = torch.as_tensor(strength, dtype=z.dtype, device=z.device)
        if s.ndim:
            s = s.reshape(-1, *([1] * (z.ndim - 1)))
        out.append(z + s * d.to(z))
    return out
