"""Keep the global random number generators in checkpoints, so a resumed run is exact.

Lightning saves the model, optimizers, schedulers and loop progress, but not the global RNG
states of torch (CPU and CUDA), NumPy and Python's ``random``. Without them a resumed run draws
other noise, other flips and another data order than the run it continues.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch


def capture_rng_states() -> dict[str, Any]:
    """The global RNG states, as tensors, ints and tuples only, so a checkpoint holding them
    still loads with ``torch.load(weights_only=True)``."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached_gaussian),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Set the global RNGs to ``states`` (from :func:`capture_rng_states`). CUDA states are set
    only when the number of devices matches (a CPU run resumed on a GPU starts CUDA afresh)."""
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached_gaussian))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


class RNGState(pl.Callback):
    """Saves the global RNG states with every checkpoint and restores them on resume.

    The state is taken when the checkpoint is written and set back when Lightning restores the
    callbacks, before training draws again. (The data order does not come from these RNGs: the
    training loader's sampler has its own seed, see ``datamodules/resumable.py``.) Callbacks that
    draw random numbers while scoring fork the RNG (as the metric callbacks do), so they do not
    change what training draws.

    Under DDP every rank starts from the same seed (and, on resume, from rank 0's saved state), so
    every rank would draw the same latents, flips and dequantization noise for its share of the
    batch. At fit start each rank therefore reseeds from one shared draw plus its rank: the
    ranks' streams differ and are still reproducible (the data order is not affected).
    """

    def state_dict(self) -> dict[str, Any]:
        return capture_rng_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        restore_rng_states(state_dict)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1:
            decorrelate_ranks(trainer.global_rank)


def decorrelate_ranks(rank: int) -> None:
    """Reseed torch (CPU and CUDA), NumPy and ``random`` with one draw shared by every rank (the
    ranks' RNGs are equal before this) plus ``rank``."""
    base = int(torch.randint(0, 2**31 - 1, (1,)))
    torch.manual_seed(base + rank)
    np.random.seed((base + rank) % 2**32)
    random.seed(base + rank)
