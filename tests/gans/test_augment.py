"""DiffAugment: each transform does what it says, keeps gradients, and rejects unknown names."""

from __future__ import annotations

import pytest
import torch

from gans.augment import cutout, diff_augment, translate


def test_translation_shifts_content_and_zero_fills() -> None:
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    moved = translate(x, ratio=0.125)
    assert torch.equal(moved.sum(dim=(1, 2, 3)), torch.ones(64))
    rows, cols = (moved[:, 0] == 1).nonzero()[:, 1:].T
    assert (rows - 8).abs().max() <= 2 and (cols - 8).abs().max() <= 2
    assert (rows != 8).any() and (cols != 8).any()
    edge = translate(torch.ones(64, 1, 16, 16), ratio=0.125)
    assert (edge == 0).any() and set(edge.unique().tolist()) <= {0.0, 1.0}


def test_cutout_zeroes_one_square_per_image() -> None:
    torch.manual_seed(0)
    out = cutout(torch.ones(32, 3, 16, 16), ratio=0.5)
    zeros = (out[:, 0] == 0).sum(dim=(1, 2))
    assert zeros.max() == 64 and zeros.min() > 0
    assert torch.equal(out[:, 0], out[:, 2])


def test_augmentation_passes_gradients_to_the_input() -> None:
    x = torch.rand(4, 3, 8, 8, requires_grad=True)
    diff_augment(x, ["translation", "cutout"]).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_unknown_transform_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="color.*translation"):
        diff_augment(torch.rand(1, 3, 8, 8), ["color"])
