"""Gradient penalty against its analytic value, and weight clipping."""

import torch
from torch import nn
from torch.testing import assert_close

from gans.penalties import clip_weights, gradient_penalty


def test_gradient_penalty_equals_analytic_value_on_linear_critic():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 1))
    real, fake = torch.randn(5, 2, 4, 4), torch.randn(5, 2, 4, 4)
    # D(x) = w.x + b has gradient w everywhere, so the penalty is (||w|| - 1)^2 for any x_hat.
    expected = (critic[1].weight.norm() - 1.0) ** 2
    assert_close(gradient_penalty(critic, real, fake), expected)


def test_gradient_penalty_is_zero_for_unit_norm_critic_and_differentiable():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(8, 1))
    with torch.no_grad():
        critic[1].weight.copy_(torch.full((1, 8), 8**-0.5))
    real, fake = torch.randn(3, 2, 2, 2), torch.randn(3, 2, 2, 2)
    assert_close(gradient_penalty(critic, real, fake), torch.tensor(0.0))
    with torch.no_grad():
        critic[1].weight.mul_(3.0)
    gradient_penalty(critic, real, fake).backward()
    assert critic[1].weight.grad.abs().sum() > 0


def test_gradient_penalty_runs_in_fp32_under_autocast():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(8, 1))
    real, fake = torch.randn(3, 2, 2, 2), torch.randn(3, 2, 2, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gp = gradient_penalty(critic, real, fake)
    assert gp.dtype == torch.float32
    assert_close(gp, (critic[1].weight.norm() - 1.0) ** 2)


def test_clip_weights_clamps_every_parameter():
    net = nn.Linear(10, 10)
    with torch.no_grad():
        net.weight.mul_(100)
    clip_weights(net.parameters(), 0.01)
    assert all(p.abs().max() <= 0.01 for p in net.parameters())
