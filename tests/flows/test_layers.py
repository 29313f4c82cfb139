"""Each flow layer: exact inverse and log-determinant equal to an autograd Jacobian's."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn
from torch.autograd.functional import jacobian
from torch.testing import assert_close

from flows.actnorm import ActNorm
from flows.coupling import Coupling
from flows.glow import FlowStep, squeeze, unsqueeze
from flows.invconv import InvConv2dLU
from tests.flows.helpers import perturb

COND_DIM = 3


def _layers() -> dict[str, Callable[[], nn.Module]]:
    return {
        "actnorm": lambda: ActNorm(2),
        "invconv": lambda: InvConv2dLU(2),
        "additive": lambda: Coupling(2, hidden=6, affine=False),
        "affine": lambda: Coupling(2, hidden=6, affine=True),
        "affine_conditional": lambda: Coupling(2, hidden=6, affine=True, cond_dim=COND_DIM),
        "affine_clamped": lambda: Coupling(2, hidden=6, affine=True, clamp=0.5),
        "step_additive": lambda: FlowStep(2, hidden=6, affine=False),
        "step_affine_conditional": lambda: FlowStep(2, hidden=6, affine=True, cond_dim=COND_DIM),
    }


def _ready(name: str, dtype: torch.dtype) -> tuple[nn.Module, Tensor | None]:
    """The layer, data-initialised and perturbed, in ``dtype``, with its condition (or None)."""
    torch.manual_seed(0)
    layer = _layers()[name]().to(dtype)
    y = torch.rand(3, COND_DIM, dtype=dtype) if "conditional" in name else None
    _call(layer, torch.randn(3, 2, 4, 4, dtype=dtype) * 2 + 1, y)  # ActNorm's data init
    return perturb(layer), y


def _call(layer: nn.Module, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
    return layer(x) if y is None else layer(x, y)


def _inverse(layer: nn.Module, out: Tensor, y: Tensor | None) -> Tensor:
    return layer.inverse(out) if y is None else layer.inverse(out, y)


@pytest.mark.parametrize("name", list(_layers()))
def test_inverse_undoes_forward(name: str) -> None:
    layer, y = _ready(name, torch.float32)
    x = torch.randn(3, 2, 4, 4)
    out, _ = _call(layer, x, y)
    assert (_inverse(layer, out, y) - x).abs().max() < 1e-5
    assert not torch.allclose(out, x)


@pytest.mark.parametrize("name", list(_layers()))
def test_logdet_equals_autograd_jacobian(name: str) -> None:
    layer, y = _ready(name, torch.float64)
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)

    def flat(v: Tensor) -> Tensor:
        return _call(layer, v.view(1, 2, 4, 4), y[:1] if y is not None else None)[0].flatten()

    expected = torch.linalg.slogdet(jacobian(flat, x.flatten()))[1]
    _, logdet = _call(layer, x, y[:1] if y is not None else None)
    assert logdet.shape == (1,)
    assert_close(logdet[0], expected)


def test_layers_start_as_identity_couplings_and_standard_actnorm() -> None:
    x = torch.randn(5, 4, 4, 4)
    for affine in (False, True):
        out, logdet = Coupling(4, hidden=8, affine=affine)(x)
        assert_close(out[:, :2], x[:, :2])
        assert_close(out[:, 2:], x[:, 2:] * (torch.sigmoid(torch.tensor(2.0)) if affine else 1.0))
    normed, _ = ActNorm(4)(x * 3 + 2)
    assert_close(normed.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    assert_close(normed.std(dim=(0, 2, 3), unbiased=False), torch.ones(4), atol=1e-4, rtol=0)


def test_invconv_starts_as_a_rotation() -> None:
    layer = InvConv2dLU(6)
    lower, upper = layer.factors()
    weight = layer.p @ lower @ upper
    assert_close(weight @ weight.T, torch.eye(6), atol=1e-5, rtol=0)
    _, logdet = layer(torch.randn(2, 6, 4, 4))
    assert_close(logdet, torch.zeros(2), atol=1e-5, rtol=0)


def test_squeeze_moves_each_2x2_patch_into_channels() -> None:
    x = torch.arange(2 * 3 * 4 * 4.0).view(2, 3, 4, 4)
    squeezed = squeeze(x)
    assert squeezed.shape == (2, 12, 2, 2)
    assert_close(squeezed[0, :4, 0, 0], x[0, 0, :2, :2].flatten())
    assert_close(unsqueeze(squeezed), x)


def test_actnorm_initialises_once_and_a_loaded_copy_never_again() -> None:
    layer = ActNorm(3)
    layer(torch.randn(8, 3, 4, 4) * 5 + 3)
    first = {k: v.clone() for k, v in layer.state_dict().items()}
    assert first["initialized"] == 1
    layer(torch.randn(8, 3, 4, 4))
    assert_close(layer.state_dict(), first)

    fresh = ActNorm(3)
    fresh.load_state_dict(first)
    out, _ = fresh(torch.randn(8, 3, 4, 4) * 0.1)
    assert_close(fresh.state_dict(), first)
    assert out.std() < 0.2  # scaled by the loaded parameters, not re-normalised to 1

    uninitialised = ActNorm(3).state_dict()
    layer.load_state_dict(uninitialised)  # loading an uninitialised state re-arms the init
    layer(torch.randn(8, 3, 4, 4) * 5)
    assert layer.initialized == 1 and layer.log_scale.abs().sum() > 0


def test_clamp_bounds_the_affine_inverse_where_the_network_outputs_tiny_scales() -> None:
    """A coupling network driven to a huge negative r: unclamped, the inverse divides by
    sigmoid(r + 2) ~ 0 and overflows; clamped at 2, it multiplies by at most exp(2)."""
    out = torch.ones(1, 2, 4, 4)
    for clamp, bounded in ((None, False), (2.0, True)):
        torch.manual_seed(0)
        layer = Coupling(2, hidden=6, affine=True, clamp=clamp)
        with torch.no_grad():
            last = layer.net[-1]
            for p in last.parameters():
                p.zero_()
            last.conv.bias[1::2] = -200.0  # r: the log-scale half of the output
        x = layer.inverse(out)
        assert torch.isfinite(x).all() == bounded
        if bounded:
            assert x[:, 1:].abs().max() <= math.exp(2.0) + 1e-4
            assert_close(layer(x)[0], out)


def test_clamp_must_be_positive() -> None:
    with pytest.raises(ValueError, match="clamp must be positive"):
        Coupling(2, hidden=6, clamp=0.0)


def test_clamp_on_an_additive_coupling_is_an_error_not_ignored() -> None:
    with pytest.raises(ValueError, match=r"model\.flow\.clamp=null"):
        Coupling(2, hidden=6, affine=False, clamp=2.0)
