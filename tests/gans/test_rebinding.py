"""Rebinding negatives: ICLEVR conditions with the same colours and shapes, bound wrongly."""

from __future__ import annotations

import pytest
import torch

from datamodules.errors import DataError
from gans.conditioning import BindingTable, rebound, reshaped, wrong_conditions

NAMES = [f"{c} {s}" for s in ("cube", "sphere", "cylinder") for c in ("gray", "red", "blue")]


def _multi_hot(*names: str) -> torch.Tensor:
    y = torch.zeros(len(NAMES))
    for name in names:
        y[NAMES.index(name)] = 1
    return y


def _names(y: torch.Tensor) -> set[str]:
    return {NAMES[i] for i in y.nonzero().flatten().tolist()}


def test_two_objects_swap_their_shapes() -> None:
    table = BindingTable(NAMES)
    y = torch.stack([_multi_hot("red cube", "blue sphere"), _multi_hot("gray cylinder")])
    wrong = rebound(y, table)
    assert _names(wrong[0]) == {"red sphere", "blue cube"}
    assert _names(wrong[1]) == {"red cube", "blue sphere"}  # one object: another row's condition


def test_colours_and_shapes_are_kept_and_the_condition_changes() -> None:
    table = BindingTable(NAMES)
    y = _multi_hot("gray cube", "red sphere", "blue cylinder")[None]
    wrong = rebound(y, table)[0]
    colours = sorted(name.split()[0] for name in _names(wrong))
    shapes = sorted(name.split()[1] for name in _names(wrong))
    assert colours == ["blue", "gray", "red"] and shapes == ["cube", "cylinder", "sphere"]
    assert not torch.equal(wrong, y[0])


def test_names_of_another_form_are_refused() -> None:
    with pytest.raises(DataError, match="colour> <shape"):
        BindingTable(["black_hair", "blond_hair"])


def _counts(y: torch.Tensor) -> tuple[list[str], list[str]]:
    names = _names(y)
    return sorted(n.split()[0] for n in names), sorted(n.split()[1] for n in names)


def test_every_row_keeps_its_colours_and_shapes_or_takes_its_neighbours_condition() -> None:
    table = BindingTable(NAMES)
    g = torch.Generator().manual_seed(0)
    y = torch.zeros(200, len(NAMES))
    for row in range(len(y)):
        k = int(torch.randint(1, 4, (1,), generator=g))
        y[row, torch.randperm(len(NAMES), generator=g)[:k]] = 1
    wrong = rebound(y, table)
    for row in range(len(y)):
        objects = [name.split() for name in _names(y[row])]
        swappable = any(
            a[0] != b[0]
            and a[1] != b[1]
            and [a[0], b[1]] not in objects
            and [b[0], a[1]] not in objects
            for a in objects
            for b in objects
        )
        if swappable:
            assert _counts(wrong[row]) == _counts(y[row])
            assert not torch.equal(wrong[row], y[row])
            assert len(_names(wrong[row]) & _names(y[row])) == len(objects) - 2
        else:
            torch.testing.assert_close(wrong[row], y[row - 1])


def test_anime_tags_swap_hair_and_eye_colours() -> None:
    names = ["blue hair", "red hair", "pink hair", "blue eyes", "red eyes"]
    y = torch.tensor([[1.0, 0, 0, 0, 1], [0, 0, 1, 1, 0]])  # blue hair red eyes; pink hair ...
    wrong = rebound(y, BindingTable(names))
    assert [names[i] for i in wrong[0].nonzero().flatten()] == ["red hair", "blue eyes"]
    torch.testing.assert_close(wrong[1], y[0])  # "pink eyes" has no name: the neighbour's tags


def test_the_table_moves_with_its_module_and_stays_out_of_checkpoints() -> None:
    table = BindingTable(NAMES)
    assert table.state_dict() == {}
    holder = torch.nn.Module()
    holder.table = table
    holder.to(torch.float64)  # a module-wide move reaches the buffers; integer tables keep dtype
    assert {name for name, _ in holder.named_buffers()} == {
        "table.index",
        "table.crossed_a",
        "table.crossed_b",
        "table.allowed",
        "table.reshapes",
    }
    assert table.index.dtype == torch.long and table.allowed.dtype == torch.bool


def test_reshaping_changes_one_objects_shape_and_keeps_its_colour() -> None:
    table = BindingTable(NAMES)
    y = _multi_hot("red cube", "blue sphere")[None].repeat(64, 1)
    torch.manual_seed(0)
    wrong = reshaped(y, table)
    seen = set()
    for row in wrong:
        names = _names(row)
        changed = names - {"red cube", "blue sphere"}
        assert len(names) == 2 and len(changed) == 1
        (new,) = changed
        (old,) = {"red cube", "blue sphere"} - names
        assert new.split()[0] == old.split()[0] and new.split()[1] != old.split()[1]
        seen.add(new)
    # The object and its new shape are drawn at random: every one of the four moves appears.
    assert seen == {"red sphere", "red cylinder", "blue cube", "blue cylinder"}


def test_a_colour_with_every_shape_present_falls_back_to_the_neighbours_condition() -> None:
    table = BindingTable(NAMES)
    y = torch.stack(
        [_multi_hot("red cube", "red sphere", "red cylinder"), _multi_hot("gray cube", "red cube")]
    )
    wrong = reshaped(y, table)
    torch.testing.assert_close(wrong[0], y[1])
    assert _names(wrong[1]) != _names(y[1]) and len(_names(wrong[1])) == 2


def test_wrong_conditions_dispatch_on_kind_and_refuse_a_missing_table() -> None:
    table = BindingTable(NAMES)
    y = torch.stack([_multi_hot("red cube", "blue sphere"), _multi_hot("gray cylinder")])
    torch.testing.assert_close(wrong_conditions(y, "roll", None), y.roll(1, 0))
    torch.testing.assert_close(wrong_conditions(y, "rebind", table), rebound(y, table))
    for kind in ("reshape", "rebind_reshape"):
        wrong = wrong_conditions(y, kind, table)
        assert _names(wrong[0]) != _names(y[0]) and len(_names(wrong[0])) == 2
    with pytest.raises(ValueError, match="mismatch_kind=reshape needs a BindingTable"):
        wrong_conditions(y, "reshape", None)
