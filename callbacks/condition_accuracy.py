"""Score a conditional generator on fixed condition sets during training; keep the best checkpoint.

ICLEVR: the datamodule's ``test`` and ``new_test`` sets (32 conditions each), scored by the course
evaluator (top-k accuracy). Anime: a fixed list of tag pairs in words, scored by the hair/eye
classifier. Any evaluator with ``accuracy(images, conditions) -> float | dict[str, float]`` fits,
images in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytorch_lightning as pl
import torch
from torch import Tensor

from callbacks.periodic_score import PeriodicScore
from metrics.diversity import within_condition_l1


class Evaluator(Protocol):
    def accuracy(self, images: Tensor, conditions: Tensor) -> float | Mapping[str, float]: ...


class ConditionAccuracy(PeriodicScore):
    """Every ``every_n_steps`` D steps and at the end of training, generate ``n_repeats`` images
    per condition of each set, score them, log ``{prefix}_{set}`` (e.g. ``acc_test``) and save
    ``best.ckpt`` in ``best_dirpath`` when ``monitor`` improves. With two draws or more it also
    logs ``div_{set}``, the mean pixel distance (images in [0, 1]) between draws of one condition,
    which falls to 0 when G ignores the noise.

    Args:
        evaluator: scores images ``(N, 3, H, W)`` in [-1, 1] against conditions ``(N, D)``.
        condition_sets: name -> list of conditions in the dataset's words; None takes the
            datamodule's ``eval_conditions()`` (ICLEVR's test / new_test).
        every_n_steps: also score every this many D steps; None only at the end.
        n_repeats: noise draws per condition (the score is their mean).
        monitor: the metric that picks the best checkpoint; None keeps none.
        best_dirpath: folder of ``best.ckpt``.
        seed: seeds the noise so scores are comparable across steps.
        sample_kwargs: further keyword arguments of the model's ``sample`` (a flow's
            ``temperature``, for instance); None or empty uses its defaults.
    """

    def __init__(
        self,
        evaluator: Evaluator,
        condition_sets: Mapping[str, Sequence[Any]] | None = None,
        every_n_steps: int | None = 500,
        n_repeats: int = 4,
        monitor: str | None = None,
        best_dirpath: str | Path | None = None,
        prefix: str = "acc",
        seed: int = 0,
        sample_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(every_n_steps, monitor, "max", best_dirpath)
        self.evaluator = evaluator
        self.condition_sets = condition_sets
        self.n_repeats = n_repeats
        self.prefix = prefix
        self.seed = seed
        self.sample_kwargs = dict(sample_kwargs or {})

    def conditions(self, pl_module: pl.LightningModule, datamodule: Any) -> dict[str, Tensor]:
        """Each set's conditions ``(M, D)`` as vectors."""
        if self.condition_sets is None:
            return dict(datamodule.eval_conditions())
        vocab = pl_module.spec.vocab
        return {name: vocab.encode_many(list(words)) for name, words in self.condition_sets.items()}

    @torch.no_grad()
    def score(self, pl_module: pl.LightningModule, datamodule: Any = None) -> dict[str, float]:
        """The accuracy of each condition set (keys ``{prefix}_{set}``, or the evaluator's keys
        prefixed by the set when it returns several)."""
        metrics: dict[str, float] = {}
        device = pl_module.device
        with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device]):
            torch.manual_seed(self.seed)
            for name, y in self.conditions(pl_module, datamodule).items():
                y = y.repeat(self.n_repeats, 1)
                images = pl_module.sample(y=y, **self.sample_kwargs)
                if self.n_repeats > 1:
                    metrics[f"div_{name}"] = within_condition_l1(images, self.n_repeats)
                images = images * 2.0 - 1.0
                result = self.evaluator.accuracy(images, y.to(images.device))
                if isinstance(result, Mapping):
                    metrics.update({f"{key}_{name}": float(v) for key, v in result.items()})
                else:
                    metrics[f"{self.prefix}_{name}"] = float(result)
        return metrics
