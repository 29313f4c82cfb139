"""StarGAN's target domain labels, as pure functions of 0/1 attribute labels ``(N, D)``.

Hair colours are mutually exclusive domains (a face has one hair colour), every other attribute is
a yes/no domain. Training targets are the batch's own labels shuffled, as in yunjey/stargan's
solver, so each target is a real, valid combination; the single-domain changes shown in
translation grids set one hair colour (clearing the others) or flip one other attribute, as the
reference's ``create_labels`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

# CelebA's hair-colour attributes (the reference's list).
HAIR_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


def hair_indices(names: Sequence[str], hair_attributes: Sequence[str]) -> tuple[int, ...]:
    """Positions in ``names`` (the data's attributes) of the names that are hair colours."""
    hair = set(hair_attributes)
    return tuple(i for i, name in enumerate(names) if name in hair)


def shuffled_targets(labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Target labels for a batch: its labels ``(N, D)`` in a random order (``torch.randperm``).

    Each row is some real image's labels, so hair colours stay exclusive whenever the data's are.
    """
    if generator is None:
        order = torch.randperm(labels.size(0), device=labels.device)
    else:
        order = torch.randperm(labels.size(0), generator=generator).to(labels.device)
    return labels[order]


def set_hair(labels: Tensor, index: int, hair: Sequence[int]) -> Tensor:
    """``labels (N, D)`` with hair colour ``index`` set and the other ``hair`` positions cleared."""
    out = labels.clone()
    out[:, list(hair)] = 0.0
    out[:, index] = 1.0
    return out


def flip(labels: Tensor, index: int) -> Tensor:
    """``labels (N, D)`` with attribute ``index`` negated (0 <-> 1)."""
    out = labels.clone()
    out[:, index] = 1.0 - out[:, index]
    return out


def single_domain_targets(
    labels: Tensor, names: Sequence[str], hair: Sequence[int]
) -> list[tuple[str, Tensor]]:
    """Each single-domain change of ``labels (N, D)``, in attribute order, as ``(name, targets)``.

    A hair colour ``i`` in ``hair`` gives ``("set Black_Hair", ...)`` (that colour on, the other
    hair colours off); any other attribute gives ``("flip Male", ...)`` (its value negated).
    """
    labels = labels.float()
    return [
        (f"set {name}", set_hair(labels, i, hair))
        if i in hair
        else (f"flip {name}", flip(labels, i))
        for i, name in enumerate(names)
    ]
