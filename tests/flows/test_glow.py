"""Glow: shapes through every level, exact reconstruction, whole-flow log-determinant, priors."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch.autograd.functional import jacobian
from torch.testing import assert_close

from flows.glow import Glow
from flows.prior import SplitPrior, TopPrior, gaussian_log_prob
from tests.flows.helpers import perturb


def _glow(affine: bool, cond_dim: int = 0, **kwargs) -> Glow:
    """A data-initialised, perturbed Glow on 3x16x16 images."""
    torch.manual_seed(0)
    args = dict(levels=3, steps=2, hidden=16, affine=affine, cond_dim=cond_dim)
    glow = Glow(3, 16, **(args | kwargs))
    y = torch.rand(8, cond_dim) if cond_dim else None
    glow.encode(torch.rand(8, 3, 16, 16) - 0.5, y)
    return perturb(glow, std=0.05)


def test_shapes_through_every_level() -> None:
    glow = Glow(3, 32, levels=3, steps=1, hidden=8)
    assert glow.latent_shapes == [(6, 16, 16), (12, 8, 8), (48, 4, 4)]
    zs, logdet, log_pz = glow.encode(torch.rand(2, 3, 32, 32) - 0.5)
    assert [z.shape[1:] for z in zs] == glow.latent_shapes
    assert logdet.shape == log_pz.shape == (2,)
    assert sum(z[0].numel() for z in zs) == 3 * 32 * 32
    assert glow.sample([torch.randn(2, *s) for s in glow.latent_shapes]).shape == (2, 3, 32, 32)


def test_image_size_must_divide_by_two_to_the_levels() -> None:
    with pytest.raises(ValueError, match="divide by 2 \\*\\* levels = 8"):
        Glow(3, 20, levels=3)


@pytest.mark.parametrize(
    ("affine", "cond_dim", "condition_couplings"),
    [(False, 0, False), (True, 0, False), (False, 5, True), (True, 5, True), (True, 5, False)],
)
def test_decode_inverts_encode(affine: bool, cond_dim: int, condition_couplings: bool) -> None:
    glow = _glow(affine, cond_dim, condition_couplings=condition_couplings)
    x = torch.rand(4, 3, 16, 16) - 0.5
    y = torch.rand(4, cond_dim) if cond_dim else None
    encoding = glow.encode(x, y)
    assert (glow.decode(encoding.zs, y) - x).abs().max() < 1e-4
    assert torch.isfinite(encoding.logdet).all() and torch.isfinite(encoding.log_pz).all()


def test_whole_flow_logdet_equals_autograd_jacobian() -> None:
    torch.manual_seed(0)
    glow = Glow(2, 4, levels=2, steps=1, hidden=6, affine=True, cond_dim=3).double()
    y = torch.rand(1, 3, dtype=torch.float64)
    glow.encode(torch.randn(4, 2, 4, 4, dtype=torch.float64), y.expand(4, -1))
    perturb(glow)
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)

    def latents(v: Tensor) -> Tensor:
        return torch.cat([z.flatten() for z in glow.encode(v.view(1, 2, 4, 4), y).zs])

    expected = torch.linalg.slogdet(jacobian(latents, x.flatten()))[1]
    assert_close(glow.encode(x, y).logdet[0], expected)


def test_gaussian_log_prob_matches_torch_normal() -> None:
    z, mean, log_sd = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    expected = torch.distributions.Normal(mean, log_sd.exp()).log_prob(z).sum(dim=(1, 2, 3))
    assert_close(gaussian_log_prob(z, mean, log_sd), expected)


def test_priors_start_standard_and_condition_on_y() -> None:
    kept, y = torch.randn(2, 4, 3, 3), torch.rand(2, 5)
    for mean, log_sd in (SplitPrior(4, cond_dim=5)(kept, y), TopPrior((4, 3, 3), 5)(2, y)):
        assert mean.shape == log_sd.shape == (2, 4, 3, 3)
        assert mean.abs().max() == 0 and log_sd.abs().max() == 0
    top = perturb(TopPrior((4, 3, 3), cond_dim=5))
    assert not torch.allclose(top(2, y)[0], top(2, torch.rand(2, 5))[0])
    split = perturb(SplitPrior(4, cond_dim=5))
    assert not torch.allclose(split(kept, y)[1], split(kept, torch.rand(2, 5))[1])


def test_sampling_temperature_scales_the_noise_per_image() -> None:
    glow = _glow(affine=True, cond_dim=5)
    eps = [torch.randn(3, *s) for s in glow.latent_shapes]
    y = torch.rand(3, 5)
    together = glow.sample(eps, y, torch.tensor([0.0, 0.7, 1.0]))
    for i, t in enumerate([0.0, 0.7, 1.0]):
        alone = glow.sample([e[i : i + 1] for e in eps], y[i : i + 1], t)
        assert_close(together[i : i + 1], alone, atol=1e-5, rtol=1e-4)
    at_zero = glow.sample([torch.randn_like(e) for e in eps], y, 0.0)
    assert_close(at_zero[0], together[0], atol=1e-5, rtol=1e-4)  # T=0: the prior means only
    assert not torch.allclose(glow.sample(eps, torch.rand(3, 5), 0.7)[1], together[1])
