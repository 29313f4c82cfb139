"""A training loader that a mid-epoch checkpoint puts back at its place in the epoch's shuffle.

Lightning saves ``state_dict()`` of a training DataLoader that has one with every checkpoint and,
when it resumes an unfinished epoch, calls ``load_state_dict()`` before it iterates the loader
again; it does not skip the batches the epoch already trained on, the loader must. A plain
DataLoader shuffles from the global torch RNG when its iterator starts, so it can neither repeat
the interrupted epoch's order nor skip to its place in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler


class ResumableSampler(DistributedSampler):
    """A shuffle that depends only on ``seed`` and the epoch, and can start part-way through.

    Each epoch's order is ``DistributedSampler``'s (a permutation seeded with ``seed + epoch``,
    Lightning calls ``set_epoch``), so it draws nothing from the global RNG and the same epoch
    always gives the same order. Being a ``DistributedSampler``, Lightning keeps it under DDP
    instead of replacing it; built in a process group (as Lightning's DDP sets one up before it
    asks for the loader) it gives each rank its share, as Lightning's own sampler would, and
    outside one the whole set. ``skip`` indices are left out of the next pass only (set on
    resume), so the resumed pass continues the interrupted one.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        # None: the process group's world size and rank.
        sharded = dist.is_available() and dist.is_initialized()
        super().__init__(
            dataset,
            num_replicas=None if sharded else 1,
            rank=None if sharded else 0,
            shuffle=True,
            seed=seed,
        )
        self.skip = 0

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0
        return islice(super().__iter__(), skip, None)


class ResumableDataLoader(DataLoader):
    """A DataLoader over a :class:`ResumableSampler` that counts the batches it has given out.

    Its state is the epoch and the number of batches of it yielded so far (Lightning's fetcher
    asks for a batch only when the loop takes it, so these are the batches trained on when a
    checkpoint is written); loading it makes the next pass skip those batches of that epoch.
    ``len()`` stays the whole epoch's, as Lightning counts the resumed epoch's batches from it.

    Each pass's iterator draws a base seed (for worker seeds) from the loader's generator: from
    the global torch RNG that would be one draw more in a resumed run, which starts an iterator
    mid-epoch, so the loader draws from a generator of its own, seeded with the sampler's seed.

    Lightning rebuilds a loader with another sampler for some trainer options (``overfit_batches``
    takes a sequential one); with a sampler that is not a ``ResumableSampler`` this is a plain
    DataLoader with no state.
    """

    def __init__(self, dataset: Dataset, sampler: Any = None, **kwargs: Any) -> None:
        if isinstance(sampler, ResumableSampler) and kwargs.get("generator") is None:
            kwargs["generator"] = torch.Generator().manual_seed(sampler.seed)
        super().__init__(dataset, sampler=sampler, **kwargs)
        self.resumable = isinstance(sampler, ResumableSampler)
        self._epoch = sampler.epoch if self.resumable else 0
        self._batches = 0

    def __iter__(self) -> Iterator[Any]:
        if not self.resumable:
            yield from super().__iter__()
            return
        self._epoch = self.sampler.epoch
        self._batches = self.sampler.skip // self.batch_size
        for batch in super().__iter__():
            self._batches += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """The epoch of the current pass and how many of its batches were given out."""
        return {"epoch": self._epoch, "batches": self._batches} if self.resumable else {}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Make the next pass continue epoch ``epoch`` after its first ``batches`` batches."""
        if self.resumable and state_dict:
            self.sampler.set_epoch(state_dict["epoch"])
            self.sampler.skip = state_dict["batches"] * self.batch_size
