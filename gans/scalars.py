"""Numbers to log from a training step, made on the module's device.

``LightningModule.log`` turns a Python number into ``torch.tensor(value, device=...)``, a
host-to-device copy that on a GPU waits for every queued kernel: a host sync per step (DESIGN §6).
``torch.full`` fills the tensor on the device instead, without a copy.
"""

from __future__ import annotations

import torch


def device_scalar(value: float, device: torch.device) -> torch.Tensor:
    """A float32 0-d tensor holding ``value`` on ``device``, made without a host-to-device copy."""
    return torch.full((), float(value), dtype=torch.float32, device=device)
