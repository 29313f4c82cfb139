"""flows/latents.py: interpolation, attribute directions and shifts of multi-level latents."""

from __future__ import annotations

import pytest
import torch

from flows.glow import Glow
from flows.latents import attribute_direction, interpolate, shift, to_flow_input
from tests.flows.helpers import perturb


def latents(n: int, seed: int = 0) -> list[torch.Tensor]:
    """Two levels, as a 2-level Glow on 8x8 RGB gives them: (n, 6, 4, 4) and (n, 24, 2, 2)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 6, 4, 4, generator=g), torch.randn(n, 24, 2, 2, generator=g)]


def test_interpolation_starts_and_ends_exactly_at_the_inputs() -> None:
    a, b = latents(3, seed=0), latents(3, seed=1)
    path = interpolate(a, b, frames=5)
    for level_a, level_b, level in zip(a, b, path, strict=True):
        assert level.shape == (15, *level_a.shape[1:])
        rows = level.view(3, 5, *level_a.shape[1:])  # a row per pair
        assert torch.equal(rows[:, 0], level_a) and torch.equal(rows[:, -1], level_b)
        torch.testing.assert_close(rows[:, 2], (level_a + level_b) / 2)
        steps = rows.diff(dim=1)  # evenly spaced
        torch.testing.assert_close(steps, steps[:, :1].expand_as(steps))


def test_interpolation_of_conditions_too_and_bad_inputs() -> None:
    path = interpolate([torch.zeros(1, 2)], [torch.ones(1, 2)], frames=3)
    torch.testing.assert_close(path[0], torch.tensor([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="at least 2"):
        interpolate(latents(1), latents(1), frames=1)
    with pytest.raises(ValueError, match="shapes differ"):
        interpolate(latents(1), latents(2), frames=3)


def test_direction_points_from_without_to_with_the_attribute() -> None:
    zs = latents(8)
    has = torch.tensor([1, 0, 1, 0, 1, 0, 0, 0]).bool()
    marked = [z.clone() for z in zs]
    for z in marked:
        z[has] += 3.0  # images with the attribute sit 3 higher everywhere
    direction = attribute_direction(marked, has)
    for d, z in zip(direction, zs, strict=True):
        assert d.shape == z.shape[1:]
        expected = z[has].mean(0) - z[~has].mean(0) + 3.0
        torch.testing.assert_close(d, expected)
        assert d.mean() > 2.0
    flipped = attribute_direction(marked, ~has)
    for d, f in zip(direction, flipped, strict=True):
        torch.testing.assert_close(f, -d)


def test_direction_needs_both_groups() -> None:
    with pytest.raises(ValueError, match="4 have it"):
        attribute_direction(latents(4), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="0 have it"):
        attribute_direction(latents(4), torch.zeros(4))
    with pytest.raises(ValueError, match="3 entries for 4"):
        attribute_direction(latents(4), torch.tensor([1, 0, 1]))


def test_shift_by_zero_is_the_identity_and_strengths_per_latent() -> None:
    zs = latents(3)
    direction = [z[0] for z in latents(1, seed=5)]
    for z, same in zip(zs, shift(zs, direction, 0.0), strict=True):
        assert torch.equal(z, same)
    moved = shift(zs, direction, torch.tensor([0.0, 1.0, -2.0]))
    for z, d, m in zip(zs, direction, moved, strict=True):
        assert torch.equal(m[0], z[0])
        torch.testing.assert_close(m[1], z[1] + d)
        torch.testing.assert_close(m[2], z[2] - 2 * d)
    with pytest.raises(ValueError, match="levels"):
        shift(zs, direction[:1], 1.0)


def test_flow_input_is_the_bin_centre_and_round_trips_through_a_glow() -> None:
    images = torch.tensor([0.0, 1 / 64, 0.5, 1.0]).reshape(1, 1, 2, 2).expand(1, 3, 2, 2)
    x = to_flow_input(images, n_bits=5)
    torch.testing.assert_close(x[0, 0].flatten(), torch.tensor([1, 1, 33, 63]) / 64 - 0.5)
    glow = perturb(Glow(3, 8, levels=2, steps=2, hidden=8))
    x = to_flow_input(torch.rand(2, 3, 8, 8), n_bits=5)
    zs = glow.encode(x).zs
    same = glow.decode(shift(zs, [z[0] for z in zs], 0.0))
    torch.testing.assert_close(same, x, atol=1e-4, rtol=0)
