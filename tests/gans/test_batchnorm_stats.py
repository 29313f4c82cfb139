"""d_bn_real_stats: D's BatchNorm statistics come from real batches only and normalise the rest."""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gans.batchnorm import frozen_batchnorm
from tests.gans.helpers import fit, loader, tiny_gan


def _running_stats(net: nn.Module) -> list[torch.Tensor]:
    return [b.clone() for name, b in net.named_buffers() if "running" in name]


def test_frozen_batchnorm_neither_learns_nor_uses_batch_statistics() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).train()
    x = torch.randn(8, 3, 4, 4) * 3 + 1
    before = _running_stats(net)
    with frozen_batchnorm(net):
        out = net(x)
        assert not net[1].training and net[0].training
    for a, b in zip(_running_stats(net), before, strict=True):
        assert torch.equal(a, b)
    assert_close(out, net[1].eval()(net[0](x)))  # normalised by the (initial) running stats
    net.train()
    with frozen_batchnorm(net):
        pass
    assert net[1].training


@pytest.mark.parametrize("real_stats", [True, False])
def test_running_statistics_after_a_step_are_the_real_batchs(real_stats: bool) -> None:
    torch.manual_seed(0)
    model = tiny_gan(d_bn_real_stats=real_stats, n_samples=0)
    d0 = copy.deepcopy(model.discriminator).train()
    real, _ = next(iter(loader(1)))
    d0(real)  # the real pass alone, with D's initial weights, as the D step makes it first
    fit(model, n_batches=1)
    same = [
        torch.allclose(a, b, atol=1e-6)
        for a, b in zip(_running_stats(model.discriminator), _running_stats(d0), strict=True)
    ]
    assert all(same) if real_stats else not all(same)


def test_g_step_reads_d_with_batchnorm_in_eval_mode() -> None:
    model = tiny_gan(d_bn_real_stats=True, n_samples=0)
    modes: list[bool] = []
    for layer in model.discriminator.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.register_forward_hook(lambda m, *_: modes.append(m.training))
            break
    fit(model, n_batches=1)
    assert modes == [True, False, False]  # D step: real (learns), fake; then G step
