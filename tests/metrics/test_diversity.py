"""within_condition_l1 on hand-made draws."""

import pytest
import torch

from metrics.diversity import within_condition_l1


def test_mean_distance_between_draws_of_each_condition() -> None:
    # Two conditions, two draws each, draw-major: condition 0's draws differ by 1 per pixel,
    # condition 1's are equal; conditions differ from each other, which must not count.
    images = torch.stack(
        [
            torch.zeros(3, 2, 2),
            torch.full((3, 2, 2), 0.7),
            torch.ones(3, 2, 2),
            torch.full((3, 2, 2), 0.7),
        ]
    )
    assert within_condition_l1(images, n_repeats=2) == pytest.approx(0.5)


def test_identical_draws_score_zero_and_one_draw_is_an_error() -> None:
    images = torch.rand(2, 3, 4, 4).repeat(3, 1, 1, 1)
    assert within_condition_l1(images, n_repeats=3) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="n_repeats"):
        within_condition_l1(images, n_repeats=1)
