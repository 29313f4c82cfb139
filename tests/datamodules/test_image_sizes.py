"""odd_sizes: the data set's usual image size and the files of any other size."""

from __future__ import annotations

import numpy as np

from datamodules.image_sizes import MISSING, odd_sizes


def test_names_the_images_of_another_size_than_most() -> None:
    sizes = np.array([[96, 96]] * 5 + [[150, 200], [MISSING, MISSING], [96, 95]])
    found = odd_sizes(sizes)
    assert found is not None
    usual, odd = found
    assert usual == (96, 96) and odd.tolist() == [5, 7]


def test_nothing_to_name_when_all_alike_mixed_or_unread() -> None:
    assert odd_sizes(np.array([[240, 320]] * 3 + [[MISSING, MISSING]])) is None
    assert odd_sizes(np.array([[1, 1], [2, 2], [3, 3], [1, 1]])) is None  # no size above half
    assert odd_sizes(np.full((2, 2), MISSING)) is None
