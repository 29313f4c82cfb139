"""The sample classifier: it learns from real images only, and its loss on samples trains the
flow only."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from flows.sample_classifier import flow_to_pixels, frozen_logits
from metrics.anime_tags_classifier import ColourNet
from tests.flows.helpers import SHAPES, loader, tiny_flow


def test_frozen_logits_pass_gradients_to_the_images_only_and_keep_batchnorm_statistics() -> None:
    torch.manual_seed(0)
    network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    network(torch.randn(8, 3, 8, 8))  # materialise the lazy layer and move the running stats
    before = {name: b.clone() for name, b in network.named_buffers()}
    images = torch.randn(5, 3, 8, 8, requires_grad=True)
    frozen_logits(network, images).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert all(p.grad is None for p in network.parameters())
    for name, buffer in network.named_buffers():
        assert_close(buffer, before[name])
    assert network.training  # the mode it came in with
    network.eval()
    assert_close(frozen_logits(network, images), network(images))
    assert not network.training


def test_flow_to_pixels_doubles_and_saturates_non_finite_values() -> None:
    x = torch.tensor([0.25, -0.25, 0.9, float("nan"), float("inf"), float("-inf")])
    assert_close(flow_to_pixels(x), torch.tensor([0.5, -0.5, 1.0, 0.0, 1.0, -1.0]))


def _model(weight: float = 2.0):
    torch.manual_seed(0)
    return tiny_flow(
        spec=SHAPES,
        conditional=True,
        sample_classifier=ColourNet,
        sample_aux_weight=weight,
        n_samples=2,
    )


def _grads(loss: torch.Tensor, params: list[nn.Parameter]) -> list[torch.Tensor | None]:
    return torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)


def test_real_loss_trains_the_classifier_and_sample_loss_trains_the_flow() -> None:
    model = _model(weight=2.0)
    images, y = next(iter(loader(1, conditions=6)))
    torch.manual_seed(1)
    losses = model.losses(images, y)
    assert_close(
        losses["loss"], losses["bits_per_dim"] + losses["cls_real"] + 2 * losses["cls_sample"]
    )
    classifier = list(model.sample_classifier.parameters())
    flow = list(model.flow.parameters())
    real_to_classifier = _grads(losses["cls_real"], classifier)
    real_to_flow = _grads(losses["cls_real"], flow)
    sample_to_classifier = _grads(losses["cls_sample"], classifier)
    sample_to_flow = _grads(losses["cls_sample"], flow)
    assert any(g is not None and g.abs().sum() > 0 for g in real_to_classifier)
    assert all(g is None for g in real_to_flow)
    assert all(g is None for g in sample_to_classifier)
    assert any(g is not None and g.abs().sum() > 0 for g in sample_to_flow)


def test_sample_loss_depends_on_the_conditions_it_samples_at() -> None:
    model = _model()
    images, y = next(iter(loader(1, conditions=6)))
    torch.manual_seed(1)
    first = model.losses(images, y)["cls_sample"]
    torch.manual_seed(1)
    flipped = model.losses(images, 1 - y)["cls_sample"]
    assert not torch.allclose(first, flipped)


def test_sample_classifier_needs_a_conditional_model() -> None:
    with pytest.raises(ValueError, match="sample_classifier needs a conditional model"):
        tiny_flow(sample_classifier=partial(ColourNet))
