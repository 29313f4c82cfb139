"""Build an optimizer with its fused kernel on a GPU (DESIGN §6).

Adam's fused CUDA kernel updates every parameter in one launch, where the default ``foreach``
implementation launches several per step and keeps the step count on the host. The optimizer
configs leave ``fused`` null (PyTorch's own default); this picks the fused kernel when the
parameters are on a GPU and the optimizer has one. A config that sets ``fused`` is obeyed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

import torch
from torch.optim import Optimizer

OptimizerFactory = Callable[..., Optimizer]


def wants_fused(factory: OptimizerFactory, parameters: Iterable[torch.Tensor]) -> bool:
    """Whether ``factory`` (an optimizer class or a partial of one) should get ``fused=True``:
    it takes ``fused``, leaves it unset or null, and every parameter is on a CUDA device."""
    target = getattr(factory, "func", factory)
    try:
        takes_fused = "fused" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False
    if not takes_fused or getattr(factory, "keywords", {}).get("fused") is not None:
        return False
    devices = {p.device.type for p in parameters}
    return devices == {"cuda"}


def build_optimizer(factory: OptimizerFactory, parameters: Iterable[torch.Tensor]) -> Optimizer:
    """``factory(parameters)``, fused where :func:`wants_fused` says so."""
    parameters = list(parameters)
    if wants_fused(factory, parameters):
        return factory(parameters, fused=True)
    return factory(parameters)
