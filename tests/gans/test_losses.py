"""Each loss's value on known logits, and the direction it pushes D and G."""

import math

import pytest
import torch
from torch.testing import assert_close

from gans import losses

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_bce_d_loss_value():
    expected = (
        -(_log_sigmoid(2.0) + _log_sigmoid(-1.0)) / 2 - (_log_sigmoid(-0.5) + _log_sigmoid(3.0)) / 2
    )
    assert_close(losses.bce_d_loss(REAL, FAKE), torch.tensor(expected))


def test_bce_g_losses_values():
    nonsat = -(_log_sigmoid(0.5) + _log_sigmoid(-3.0)) / 2
    sat = (_log_sigmoid(-0.5) + _log_sigmoid(3.0)) / 2  # mean log(1 - sigmoid(l))
    assert_close(losses.bce_g_loss_nonsaturating(FAKE), torch.tensor(nonsat))
    assert_close(losses.bce_g_loss_saturating(FAKE), torch.tensor(sat))


def test_wgan_and_hinge_values():
    assert_close(losses.wgan_d_loss(REAL, FAKE), torch.tensor(-1.25 - 0.5))
    assert_close(losses.wgan_g_loss(FAKE), torch.tensor(1.25))
    # relu(1 - [2, -1]) = [0, 2]; relu(1 + [0.5, -3]) = [1.5, 0]
    assert_close(losses.hinge_d_loss(REAL, FAKE), torch.tensor(1.0 + 0.75))
    assert_close(losses.hinge_g_loss(FAKE), torch.tensor(1.25))


def test_lsgan_values():
    # 0.5 * mean([1, 4]) + 0.5 * mean([0.25, 9])
    assert_close(losses.lsgan_d_loss(REAL, FAKE), torch.tensor(1.25 + 2.3125))
    # 0.5 * mean([0.25, 16])
    assert_close(losses.lsgan_g_loss(FAKE), torch.tensor(4.0625))


D_LOSSES = [losses.bce_d_loss, losses.wgan_d_loss, losses.hinge_d_loss, losses.lsgan_d_loss]
G_LOSSES = [
    losses.bce_g_loss_nonsaturating,
    losses.bce_g_loss_saturating,
    losses.wgan_g_loss,
    losses.hinge_g_loss,
    losses.lsgan_g_loss,
]


@pytest.mark.parametrize("d_loss", D_LOSSES)
def test_d_loss_rewards_high_real_and_low_fake_logits(d_loss):
    real = torch.full((3,), 0.5, requires_grad=True)
    fake = torch.full((3,), 0.5, requires_grad=True)
    d_loss(real, fake).backward()
    assert (real.grad < 0).all()  # descending the loss raises D(x)
    assert (fake.grad > 0).all()  # and lowers D(G(z))


@pytest.mark.parametrize("g_loss", G_LOSSES)
def test_g_loss_rewards_high_fake_logits(g_loss):
    fake = torch.full((3,), 0.5, requires_grad=True)
    g_loss(fake).backward()
    assert (fake.grad < 0).all()


def test_saturating_loss_vanishes_when_d_rejects_fakes():
    rejected = torch.full((4,), -10.0, requires_grad=True)
    losses.bce_g_loss_saturating(rejected).backward()
    sat_grad = rejected.grad.abs().max()
    rejected.grad = None
    losses.bce_g_loss_nonsaturating(rejected).backward()
    assert sat_grad < 1e-4 < rejected.grad.abs().min()
