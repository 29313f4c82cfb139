"""Conditions for training and sampling a conditional GAN, as pure functions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.errors import DataError
from datamodules.spec import DataSpec

# How mismatch negatives' wrong conditions can be made (see wrong_conditions).
MISMATCH_KINDS = ("roll", "rebind", "reshape", "rebind_reshape")
CONDITIONAL_DATA = "data=anime_tags, toy_anime_tags, iclevr, toy_iclevr, celeba or toy_celeba"


def random_conditions(spec: DataSpec, n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` valid conditions ``(n, condition_dim)`` of the data's kind, drawn at random.

    One-hot groups: one word per group, uniformly. Multi-hot (ICLEVR): 1 to 3 distinct objects.
    Attributes (CelebA): each attribute on or off with probability 1/2.
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
    if spec.condition_kind == "attributes":
        return torch.randint(0, 2, (n, spec.condition_dim), generator=generator).float()
    raise ValueError(f"no random conditions for condition kind {spec.condition_kind!r}")


def mismatched(conditions: Tensor) -> Tensor:
    """Each row paired with another row's condition (the batch rolled by one): "wrong tags" for
    the anime study's mismatch negatives. Rows whose neighbour has the same condition stay equal,
    which for 120 tag pairs happens to about 1 in 120 rows."""
    return conditions.roll(1, dims=0)


class BindingTable(nn.Module):
    """Which objects of ``"<colour> <shape>"`` conditions (ICLEVR's 24) can trade shapes, worked
    out once from the names; a module only so that its tensors follow the model's device (its
    buffers are not saved in checkpoints).

    Buffers, over the ``cells`` of the colour x shape grid (row-major):

    - ``index`` ``(cells,)``: the condition index of each cell, -1 where the pair has no name.
    - ``crossed_a``, ``crossed_b`` ``(cells, cells)``: the cells (colour of i, shape of j) and
      (colour of j, shape of i) that objects i and j become when they swap shapes.
    - ``allowed`` ``(cells, cells)``: i and j differ in colour and shape, both crossed cells have
      names, and each unordered pair is listed once (colour of i < colour of j).
    - ``reshapes`` ``(cells, cells)``: cell i may become cell j by changing its shape
      alone (same colour, another shape, both named).
    """

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        parts = [name.split() for name in names]
        if not parts or any(len(p) != 2 for p in parts):
            raise DataError(
                "rebinding negatives need condition names '<colour> <shape>' (ICLEVR's objects),"
                f" got {list(names)[:4]}...; use mismatch_kind=roll for other conditions."
            )
        colours = sorted({c for c, _ in parts})
        shapes = sorted({s for _, s in parts})
        table = torch.full((len(colours), len(shapes)), -1, dtype=torch.long)
        for index, (colour, shape) in enumerate(parts):
            table[colours.index(colour), shapes.index(shape)] = index
        index = table.flatten()
        cell = torch.arange(index.numel())
        colour, shape = cell // len(shapes), cell % len(shapes)
        crossed_a = colour[:, None] * len(shapes) + shape[None, :]
        crossed_b = crossed_a.T.contiguous()
        allowed = (colour[:, None] < colour[None, :]) & (shape[:, None] != shape[None, :])
        allowed &= (index[crossed_a] >= 0) & (index[crossed_b] >= 0)
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("crossed_a", crossed_a, persistent=False)
        self.register_buffer("crossed_b", crossed_b, persistent=False)
        self.register_buffer("allowed", allowed, persistent=False)
        same_colour = (colour[:, None] == colour[None, :]) & (shape[:, None] != shape[None, :])
        same_colour &= (index[:, None] >= 0) & (index[None, :] >= 0)
        self.register_buffer("reshapes", same_colour, persistent=False)

    def present(self, conditions: Tensor) -> Tensor:
        """Which cells each multi-hot row of ``conditions`` ``(N, D)`` holds: ``(N, cells)``."""
        return conditions[:, self.index.clamp(min=0)].bool() & (self.index >= 0)


def rebound(conditions: Tensor, table: BindingTable) -> Tensor:
    """Multi-hot ``"<colour> <shape>"`` conditions with the shapes of two objects of different
    colour and shape swapped: the same colours and shapes, bound wrongly ("red cube, blue sphere"
    becomes "red sphere, blue cube"). D learns from real images paired with these that binding
    matters, which colour and shape counts alone do not teach (anime tags, ``"<colour> hair"``
    and ``"<colour> eyes"``, get their hair and eye colours swapped). Rows with no such pair (one
    object, or all of one colour or shape) get another row's condition instead (:func:`mismatched`).

    Computed on the conditions' device (``table`` must be there too) without reading them back
    (no host sync in the step).
    """
    index, crossed_a, crossed_b = table.index, table.crossed_a, table.crossed_b
    present = table.present(conditions)  # (N, cells)
    # Present cells that may swap, when neither crossed object is in the scene already (that
    # would drop an object).
    pairs = present[:, :, None] & present[:, None, :] & table.allowed
    pairs &= ~present[:, crossed_a] & ~present[:, crossed_b]
    pairs = pairs.flatten(1)
    first = pairs.int().argmax(1)  # the first allowed pair of each row (0 when there is none)
    i, j = first // index.numel(), first % index.numel()
    rows = torch.arange(conditions.size(0), device=conditions.device)
    wrong = conditions.clone()
    wrong[rows, index[i].clamp(min=0)] = 0
    wrong[rows, index[j].clamp(min=0)] = 0
    wrong[rows, index[crossed_a[i, j]].clamp(min=0)] = 1
    wrong[rows, index[crossed_b[i, j]].clamp(min=0)] = 1
    return torch.where(pairs.any(1, keepdim=True), wrong, mismatched(conditions))


def reshaped(conditions: Tensor, table: BindingTable) -> Tensor:
    """Multi-hot ``"<colour> <shape>"`` conditions with one object, chosen at random, given
    another shape of its colour that the scene does not hold ("red cube, blue sphere" becomes
    "red cylinder, blue sphere"). D learns from real images paired with these that shapes
    matter: generators trained with only rebinding or another image's conditions as negatives
    draw the asked-for colours as blocks whatever the shape (``benchmarks/conditional_quality``).
    ICLEVR only (anime tags would trade a hair colour for an eye colour). Rows with no such
    change (every shape of each colour present) get another row's condition instead.

    Computed on the conditions' device without reading them back (no host sync in the step).
    """
    index = table.index
    present = table.present(conditions)  # (N, cells)
    moves = present[:, :, None] & ~present[:, None, :] & table.reshapes  # (N, from, to)
    moves = moves.flatten(1)
    scores = torch.rand(moves.shape, device=conditions.device).masked_fill(~moves, -1.0)
    chosen = scores.argmax(1)  # a random allowed move of each row (0 when there is none)
    source, target = chosen // index.numel(), chosen % index.numel()
    rows = torch.arange(conditions.size(0), device=conditions.device)
    wrong = conditions.clone()
    wrong[rows, index[source].clamp(min=0)] = 0
    wrong[rows, index[target].clamp(min=0)] = 1
    return torch.where(moves.any(1, keepdim=True), wrong, mismatched(conditions))


def wrong_conditions(conditions: Tensor, kind: str, table: BindingTable | None) -> Tensor:
    """Wrong conditions for real images (mismatch negatives) of ``kind``: ``roll``
    (:func:`mismatched`), ``rebind`` (:func:`rebound`), ``reshape`` (:func:`reshaped`) or
    ``rebind_reshape`` (each row one of the two, at random)."""
    if kind == "roll":
        return mismatched(conditions)
    if table is None:
        raise ValueError(f"mismatch_kind={kind} needs a BindingTable of the condition names")
    if kind == "rebind":
        return rebound(conditions, table)
    if kind == "reshape":
        return reshaped(conditions, table)
    coin = torch.rand(conditions.size(0), 1, device=conditions.device) < 0.5
    return torch.where(coin, rebound(conditions, table), reshaped(conditions, table))


def aux_classification_loss(
    class_logits: Tensor, conditions: Tensor, group_sizes: Sequence[int] | None = None
) -> Tensor:
    """ACGAN's auxiliary loss of class logits ``(N, D)`` against conditions ``(N, D)``.

    Multi-label BCE by default (ICLEVR: any set of objects). With ``group_sizes`` (one-hot groups,
    e.g. ``(12, 10)`` for hair then eyes) each group is one softmax choice: the sum over groups of
    their cross-entropies, since exactly one colour per group is true.
    """
    logits, targets = class_logits.float(), conditions.float()
    if group_sizes is None:
        return F.binary_cross_entropy_with_logits(logits, targets)
    pieces = zip(
        logits.split(list(group_sizes), 1), targets.split(list(group_sizes), 1), strict=True
    )
    return sum(F.cross_entropy(part, target.argmax(dim=1)) for part, target in pieces)


def group_sizes(spec: DataSpec) -> tuple[int, ...] | None:
    """Sizes of the data's one-hot groups (``(12, 10)`` for anime tags), None for other kinds."""
    if spec.condition_kind != "onehot_groups":
        return None
    return tuple(len(words) for _, words in spec.vocab.groups)


def require_conditions(spec: DataSpec, unconditional_models: str) -> None:
    """Raise a ``DataError`` before training when a conditional model is given data without
    conditions, naming the conditional data sets and ``unconditional_models`` to use instead."""
    if not spec.conditional:
        raise DataError(
            f"This model is conditional but the data ({spec.name or 'this dataset'}) has no"
            f" conditions. Use conditional data ({CONDITIONAL_DATA}) or an unconditional model"
            f" ({unconditional_models})."
        )
