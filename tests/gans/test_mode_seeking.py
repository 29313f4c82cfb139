"""MSGAN's mode-seeking term: its value, the way it pushes G, and the extra G forward it costs."""

import pytest
import torch
from torch.testing import assert_close

from gans.losses import mode_seeking_loss
from tests.gans.helpers import fit, tiny_gan


def test_value_is_the_inverse_of_image_gap_over_noise_gap() -> None:
    a, b = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    z_a, z_b = torch.zeros(2, 8), torch.full((2, 8), 2.0)
    assert_close(mode_seeking_loss(a, b, z_a, z_b), torch.tensor(1 / (0.25 + 1e-5)))
    assert mode_seeking_loss(a, a, z_a, z_b) == pytest.approx(1e5)


def test_its_gradient_moves_the_pair_apart() -> None:
    a = torch.zeros(1, 3, 4, 4, requires_grad=True)
    b = torch.full((1, 3, 4, 4), 0.1)
    mode_seeking_loss(a, b, torch.zeros(1, 8), torch.ones(1, 8)).backward()
    assert (a.grad > 0).all()  # descent lowers a, away from b


@pytest.mark.parametrize(("weight", "forwards"), [(None, 2), (1.0, 4)])
def test_each_g_step_draws_a_second_half_batch(weight, forwards) -> None:
    model = tiny_gan(mode_seeking_weight=weight, n_samples=0)
    sizes: list[int] = []
    model.generator.register_forward_hook(lambda _m, inputs, _o: sizes.append(len(inputs[0])))
    trainer = fit(model, n_batches=2)
    assert len(sizes) == forwards
    if weight is not None:
        assert sizes == [4, 2, 4, 2]
        assert trainer.callback_metrics["train/g_mode_seeking"] > 0
    else:
        assert "train/g_mode_seeking" not in trainer.callback_metrics
