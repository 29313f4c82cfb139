"""Rebinding negatives: ICLEVR conditions with the same colours and shapes, bound wrongly."""

from __future__ import annotations

import pytest
import torch

from datamodules.errors import DataError
from gans.conditioning import binding_table, rebound

NAMES = [f"{c} {s}" for s in ("cube", "sphere", "cylinder") for c in ("gray", "red", "blue")]


def _multi_hot(*names: str) -> torch.Tensor:
    y = torch.zeros(len(NAMES))
    for name in names:
        y[NAMES.index(name)] = 1
    return y


def _names(y: torch.Tensor) -> set[str]:
    return {NAMES[i] for i in y.nonzero().flatten().tolist()}


def test_two_objects_swap_their_shapes() -> None:
    table = binding_table(NAMES)
    y = torch.stack([_multi_hot("red cube", "blue sphere"), _multi_hot("gray cylinder")])
    wrong = rebound(y, table)
    assert _names(wrong[0]) == {"red sphere", "blue cube"}
    assert _names(wrong[1]) == {"red cube", "blue sphere"}  # one object: another row's condition


def test_colours_and_shapes_are_kept_and_the_condition_changes() -> None:
    table = binding_table(NAMES)
    y = _multi_hot("gray cube", "red sphere", "blue cylinder")[None]
    wrong = rebound(y, table)[0]
    colours = sorted(name.split()[0] for name in _names(wrong))
    shapes = sorted(name.split()[1] for name in _names(wrong))
    assert colours == ["blue", "gray", "red"] and shapes == ["cube", "cylinder", "sphere"]
    assert not torch.equal(wrong, y[0])


def test_names_of_another_form_are_refused() -> None:
    with pytest.raises(DataError, match="colour> <shape"):
        binding_table(["black_hair", "blond_hair"])
