"""DCGAN network shapes, output ranges and normalisation choices."""

import pytest
import torch
from torch import nn

from gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator


@pytest.mark.parametrize("size", [32, 64])
def test_shapes(size):
    g = DCGANGenerator(z_dim=10, image_size=size, width=8)
    d = DCGANDiscriminator(image_size=size, width=8)
    images = g(torch.randn(3, 10))
    assert images.shape == (3, 3, size, size)
    assert d(images).shape == (3,)


def test_output_matches_value_range_unless_set():
    tanh = DCGANGenerator(z_dim=4, image_size=32, width=4, value_range=(-1.0, 1.0))
    sigmoid = DCGANGenerator(z_dim=4, image_size=32, width=4, value_range=(0.0, 1.0))
    forced = DCGANGenerator(z_dim=4, image_size=32, width=4, output="tanh", value_range=(0, 1))
    assert isinstance(tanh.net[-1], nn.Tanh)
    assert isinstance(sigmoid.net[-1], nn.Sigmoid)
    assert isinstance(forced.net[-1], nn.Tanh)


def test_critic_without_batchnorm_and_no_sigmoid():
    d = DCGANDiscriminator(image_size=64, width=8, norm="none")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    assert not any(isinstance(m, nn.Sigmoid) for m in d.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in DCGANDiscriminator(width=8).modules())


def test_unsupported_size_is_rejected():
    with pytest.raises(ValueError, match="image_size 32 or 64"):
        DCGANGenerator(image_size=48)
