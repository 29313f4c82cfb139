"""A classifier's judgement of a flow's own samples, as a training signal for a conditional flow.

Maximum likelihood spends a conditional flow's capacity on every pixel alike, so on scenes of a
few small objects (ICLEVR) the condition shapes little of what is drawn. Like an ACGAN generator's
auxiliary term, a classifier trained on real images with their conditions scores differentiable
samples drawn at the conditions, and the flow is pushed to draw what the classifier reads back.
The classifier learns from real images only: on samples it runs frozen, so it cannot drift
towards whatever the flow happens to draw.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def frozen_logits(network: nn.Module, images: Tensor) -> Tensor:
    """``network(images)`` in eval mode with its parameters detached: gradients reach ``images``
    only, and BatchNorm neither updates nor uses statistics of ``images`` (it reads them as the
    fixed evaluator that scores samples does)."""
    params = {name: p.detach() for name, p in network.named_parameters()}
    buffers = dict(network.named_buffers())
    training = network.training
    network.eval()
    try:
        return torch.func.functional_call(network, {**params, **buffers}, (images,))
    finally:
        network.train(training)


def flow_to_pixels(x: Tensor) -> Tensor:
    """Flow space (about [-0.5, 0.5]) to classifier input in [-1, 1]; a non-finite decode becomes
    a saturated pixel with no gradient, so one bad sample cannot turn the loss into NaN."""
    return (2.0 * x).nan_to_num(nan=0.0, posinf=1.0, neginf=-1.0).clamp(-1.0, 1.0)
