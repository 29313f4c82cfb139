"""RNGState under DDP: ranks draw different noise, reproducibly; one process is left alone."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from callbacks.rng_state import RNGState


def _draws_after_fit_start(rank: int, world_size: int) -> tuple[torch.Tensor, float]:
    torch.manual_seed(42)  # every rank is seeded alike, as seed_everything does
    np.random.seed(42)
    trainer = SimpleNamespace(world_size=world_size, global_rank=rank)
    RNGState().on_fit_start(trainer, None)
    return torch.randn(4), float(np.random.rand())


def test_ranks_draw_different_noise_and_each_rank_is_reproducible() -> None:
    rank0, rank1 = _draws_after_fit_start(0, 2), _draws_after_fit_start(1, 2)
    assert not torch.equal(rank0[0], rank1[0]) and rank0[1] != rank1[1]
    again = _draws_after_fit_start(1, 2)
    assert torch.equal(rank1[0], again[0]) and rank1[1] == again[1]


def test_a_single_process_keeps_its_seeded_stream() -> None:
    draws, _ = _draws_after_fit_start(0, 1)
    torch.manual_seed(42)
    assert torch.equal(draws, torch.randn(4))
