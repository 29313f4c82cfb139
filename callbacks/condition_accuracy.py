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


class Evaluator(Protocol):
    def accuracy(self, images: Tensor, conditions: Tensor) -> float | Mapping[str, float]: ...


class ConditionAccuracy(pl.Callback):
    """Every ``every_n_steps`` D steps and at the end of training, generate ``n_repeats`` images
    per condition of each set, score them, log ``{prefix}_{set}`` (e.g. ``acc_test``) and save
    ``best.ckpt`` in ``best_dirpath`` when ``monitor`` improves.

    Args:
        evaluator: scores images ``(N, 3, H, W)`` in [-1, 1] against conditions ``(N, D)``.
        condition_sets: name -> list of conditions in the dataset's words; None takes the
            datamodule's ``eval_conditions()`` (ICLEVR's test / new_test).
        every_n_steps: also score every this many D steps; None only at the end.
        n_repeats: noise draws per condition (the score is their mean).
        monitor: the metric that picks the best checkpoint; None keeps none.
        best_dirpath: folder of ``best.ckpt``.
        seed: seeds the noise so scores are comparable across steps.
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
    ) -> None:
        self.evaluator = evaluator
        self.condition_sets = condition_sets
        self.every_n_steps = every_n_steps
        self.n_repeats = n_repeats
        self.monitor = monitor
        self.best_dirpath = Path(best_dirpath) if best_dirpath is not None else None
        self.prefix = prefix
        self.seed = seed
        self.best: float | None = None
        self._last_step: int | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_) -> None:
        if self.every_n_steps and pl_module.d_steps % self.every_n_steps == 0:
            self._record(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record(trainer, pl_module)

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
                images = pl_module.sample(y=y) * 2.0 - 1.0
                result = self.evaluator.accuracy(images, y.to(images.device))
                if isinstance(result, Mapping):
                    metrics.update({f"{key}_{name}": float(v) for key, v in result.items()})
                else:
                    metrics[f"{self.prefix}_{name}"] = float(result)
        return metrics

    def _record(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        step = pl_module.d_steps
        if self._last_step == step:
            return
        self._last_step = step
        metrics = self.score(pl_module, trainer.datamodule)
        for key, value in metrics.items():
            trainer.callback_metrics[key] = torch.tensor(value)
        for logger in trainer.loggers:
            logger.log_metrics({**metrics, "d_steps": float(step)}, step=trainer.global_step)
        if self.monitor is None or self.best_dirpath is None:
            return
        value = metrics[self.monitor]
        if self.best is None or value > self.best:
            self.best = value
            trainer.save_checkpoint(self.best_dirpath / "best.ckpt")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")
