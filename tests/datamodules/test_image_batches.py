"""ImageTensorDataset batches and the device-side transforms."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from datamodules.images import ImageTensorDataset, keep_batch
from datamodules.transforms import random_hflip, to_value_range


def dataset(n: int = 10, condition_dim: int = 3) -> ImageTensorDataset:
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8)
    return ImageTensorDataset(images, torch.randn(n, condition_dim))


def test_getitems_gathers_a_whole_batch() -> None:
    data = dataset()
    images, conditions = data.__getitems__([4, 1, 7])
    torch.testing.assert_close(images, torch.stack([data[i][0] for i in (4, 1, 7)]))
    torch.testing.assert_close(conditions, torch.stack([data[i][1] for i in (4, 1, 7)]))


def test_loader_yields_uint8_images_and_float_conditions() -> None:
    loader = DataLoader(dataset(10, 0), batch_size=4, shuffle=True, collate_fn=keep_batch)
    batches = list(loader)
    assert [len(images) for images, _ in batches] == [4, 4, 2]
    images, conditions = batches[0]
    assert images.shape == (4, 3, 8, 8) and images.dtype == torch.uint8
    assert conditions.shape == (4, 0) and conditions.dtype == torch.float32


def test_mismatched_conditions_are_rejected() -> None:
    with pytest.raises(ValueError, match="conditions"):
        ImageTensorDataset(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(3, 2))


@pytest.mark.parametrize("value_range", [(-1.0, 1.0), (0.0, 1.0)])
def test_to_value_range_maps_0_and_255_to_the_ends(value_range: tuple[float, float]) -> None:
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3)
    low, high = value_range
    expected = torch.tensor([low, low + 0.2 * (high - low), high]).view(1, 1, 1, 3)
    torch.testing.assert_close(to_value_range(images, value_range), expected)


def test_random_hflip_mirrors_about_half_of_the_images() -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (256, 3, 4, 4), dtype=torch.uint8)
    flipped = random_hflip(images)
    same = (flipped == images).flatten(1).all(1)
    mirrored = (flipped == images.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 80 < int(mirrored.sum()) < 176
