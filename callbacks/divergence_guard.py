"""Stop a run whose losses or weights stop being finite, before it writes a diverged checkpoint.

A GAN or flow that blows up (NaN or Inf) never recovers, and every later save would replace the
last good ``last.ckpt`` with garbage. The guard checks the logged training metrics and every
floating-point weight and buffer, stops training with an error naming the step and the
non-finite values, records them in ``diverged.json`` and the loggers, and refuses any checkpoint
of a diverged state, so ``last.ckpt`` keeps the last good one.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.trainer.states import TrainerFn

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """Training produced a NaN or Inf loss or weight."""


class DivergenceGuard(pl.Callback):
    """Check the run for NaN and Inf every ``every_n_steps`` training batches and before every
    checkpoint save.

    A check looks at the metrics logged under ``prefix`` (the losses, D scores, penalties) and
    at every floating-point parameter and buffer (EMA generator and BatchNorm statistics
    included), with one fused norm per dtype and device and a single host sync. The progress bar
    already syncs every step; on a GPU without one, a larger ``every_n_steps`` removes the
    per-step sync, and the save-time check still keeps diverged states out of checkpoints.

    Args:
        dirpath: where ``diverged.json`` is written (the run dir); None writes nothing.
        every_n_steps: check after every this many training batches.
        prefix: logged metrics whose name starts with this are checked.
    """

    def __init__(
        self, dirpath: str | Path | None = None, every_n_steps: int = 1, prefix: str = "train/"
    ) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.dirpath = Path(dirpath) if dirpath is not None else None
        self.every_n_steps = every_n_steps
        self.prefix = prefix
        self._checked_step: int | None = None
        self._last_good_step: int | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_) -> None:
        if (trainer.fit_loop.epoch_loop.total_batch_idx + 1) % self.every_n_steps == 0:
            self.check(trainer, pl_module)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Refuse to save a diverged state: raising here stops the save before any file is
        written."""
        if trainer.state.fn == TrainerFn.FITTING:
            self.check(trainer, pl_module)

    def check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Raise :class:`TrainingDiverged` (after recording it) if a checked value is not
        finite; checks once per optimizer step."""
        if self._checked_step == trainer.global_step:
            return
        self._checked_step = trainer.global_step
        metrics = {
            name: value
            for name, value in trainer.callback_metrics.items()
            if name.startswith(self.prefix)
            and isinstance(value, torch.Tensor)
            and value.is_floating_point()
        }
        weights = {
            name: tensor.detach()
            for name, tensor in [*pl_module.named_parameters(), *pl_module.named_buffers()]
            if tensor.is_floating_point()
        }
        finite = _all_finite([*metrics.values(), *weights.values()])
        if not trainer.strategy.reduce_boolean_decision(not finite, all=False):
            self._last_good_step = getattr(pl_module, "d_steps", trainer.global_step)
            return
        bad_metrics = {
            name: float(value) for name, value in metrics.items() if not torch.isfinite(value).all()
        }
        bad_weights = [name for name, t in weights.items() if not torch.isfinite(t).all()]
        self._diverged(trainer, pl_module, bad_metrics, bad_weights)

    def _diverged(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        bad_metrics: dict[str, float],
        bad_weights: list[str],
    ) -> None:
        d_steps = getattr(pl_module, "d_steps", trainer.global_step)
        g_steps = getattr(pl_module, "g_steps", trainer.global_step)
        last = _last_checkpoint(trainer)
        record = {
            "d_steps": d_steps,
            "g_steps": g_steps,
            "global_step": trainer.global_step,
            "last_good_check_d_steps": self._last_good_step,
            "metrics": {name: str(value) for name, value in bad_metrics.items()},
            "weights": bad_weights,
            "last_checkpoint": last,
        }
        what = ", ".join(
            [f"{name} = {value}" for name, value in bad_metrics.items()]
            + [f"weight {name}" for name in bad_weights[:5]]
            + ([f"and {len(bad_weights) - 5} more weights"] if len(bad_weights) > 5 else [])
        )
        kept = f"{last} keeps the last good state" if last else "no checkpoint was written yet"
        message = (
            f"Training diverged at D step {d_steps} (G step {g_steps}): not finite: {what}."
            f" Stopped without saving: {kept}. Start again with lower learning rates (resuming"
            " would restore the same optimizer state) or a more stable objective."
        )
        log.error(message)
        if trainer.is_global_zero:
            if self.dirpath is not None:
                self.dirpath.mkdir(parents=True, exist_ok=True)
                (self.dirpath / "diverged.json").write_text(json.dumps(record, indent=2) + "\n")
            for logger in trainer.loggers:
                logger.log_metrics(
                    {"diverged": 1.0, "d_steps": float(d_steps)}, trainer.global_step
                )
        raise TrainingDiverged(message)


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    """Whether every element of ``tensors`` is finite: the largest magnitude of each tensor (NaN
    or Inf exactly when an element is; fused per dtype and device), then one host sync."""
    tensors = [t for t in tensors if t.numel()]
    if not tensors:
        return True
    peaks = torch._foreach_norm(tensors, math.inf)
    device = peaks[0].device
    return bool(torch.isfinite(torch.stack([p.float().to(device) for p in peaks])).all())


def _last_checkpoint(trainer: pl.Trainer) -> str | None:
    """The path of the newest ``last.ckpt`` written this run, if any."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.last_model_path:
            return callback.last_model_path
    return None
