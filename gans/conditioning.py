"""Conditions for training and sampling a conditional GAN, as pure functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from datamodules.spec import DataSpec


def random_conditions(spec: DataSpec, n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` valid conditions ``(n, condition_dim)`` of the data's kind, drawn at random.

    One-hot groups: one word per group, uniformly. Multi-hot (ICLEVR): 1 to 3 distinct objects.
    """
    if spec.condition_kind == "onehot_groups":
        parts = []
        for _, words in spec.vocab.groups:
            index = torch.randint(len(words), (n,), generator=generator)
            parts.append(F.one_hot(index, len(words)).float())
        return torch.cat(parts, dim=1)
    if spec.condition_kind == "multi_hot":
        conditions = torch.zeros(n, spec.condition_dim)
        counts = torch.randint(1, 4, (n,), generator=generator)
        for row, k in enumerate(counts.tolist()):
            chosen = torch.randperm(spec.condition_dim, generator=generator)[:k]
            conditions[row, chosen] = 1.0
        return conditions
    raise ValueError(f"no random conditions for condition kind {spec.condition_kind!r}")


def mismatched(conditions: Tensor) -> Tensor:
    """Each row paired with another row's condition (the batch rolled by one): "wrong tags" for
    the anime study's mismatch negatives. Rows whose neighbour has the same condition stay equal,
    which for 120 tag pairs happens to about 1 in 120 rows."""
    return conditions.roll(1, dims=0)


def aux_classification_loss(class_logits: Tensor, conditions: Tensor) -> Tensor:
    """ACGAN's auxiliary loss: multi-label BCE of the class logits ``(N, D)`` against ``(N, D)``."""
    return F.binary_cross_entropy_with_logits(class_logits.float(), conditions.float())
