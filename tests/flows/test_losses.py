"""Bits/dim and uniform dequantisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from flows.losses import bits_per_dim, dequantize


@pytest.mark.parametrize("n_bits", [5, 8])
def test_uniform_density_scores_n_bits(n_bits: int) -> None:
    # density 1 on [-0.5, 0.5]^D: log p = 0 for every image
    assert_close(bits_per_dim(torch.zeros(3), n_bits, dims=48), torch.full((3,), float(n_bits)))


def test_density_concentrated_on_one_bin_scores_zero_bits() -> None:
    dims, n_bits = 12, 5
    log_p = torch.tensor([dims * n_bits * math.log(2.0)])  # density n_bins^D on one bin
    assert_close(bits_per_dim(log_p, n_bits, dims), torch.zeros(1))


@pytest.mark.parametrize("n_bits", [5, 8])
def test_dequantize_spreads_each_bin_uniformly_in_its_cell(n_bits: int) -> None:
    torch.manual_seed(0)
    levels = torch.arange(256.0)
    images = (levels / 255).repeat(200).view(200, 1, 16, 16)
    x = dequantize(images, n_bits)
    n_bins = 2**n_bits
    assert x.min() >= -0.5 and x.max() < 0.5
    expected_bin = torch.div(levels, 2 ** (8 - n_bits), rounding_mode="floor").repeat(200)
    assert_close(torch.floor((x.flatten() + 0.5) * n_bins), expected_bin)
    offsets = (x.flatten() + 0.5) * n_bins - expected_bin  # uniform in [0, 1)
    assert abs(offsets.mean().item() - 0.5) < 0.01 and abs(offsets.var().item() - 1 / 12) < 0.005
