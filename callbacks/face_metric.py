"""AnimeFaceMetric: score a generator with the MLDS anime-face detector, at the end of training
and optionally every N steps, so anime runs report the course's pass/fail test and a detection rate.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from metrics.anime_faces import GRID_SIZE, AnimeFaceDetector


def _step(trainer: pl.Trainer, pl_module: pl.LightningModule) -> int:
    """The GAN's own iteration count when it keeps one; Lightning's global_step counts every
    optimizer step, so with manual optimization it is not an iteration count."""
    return int(getattr(pl_module, "d_steps", trainer.global_step))


class AnimeFaceMetric(pl.Callback):
    """Detect anime faces in ``n_samples`` generated images and record three metrics.

    ``face_detect_rate``: fraction of the samples in which a face is found, each image on its own;
    ``face_grid_count``: faces found on the 5x5 grid of the first 25 samples (the MLDS test);
    ``face_grid_pass``: 1.0 when that count is >= 20, else 0.0.

    The module must provide ``sample(n) -> Tensor``, float ``(n, 3, H, W)`` RGB in [0, 1] on its
    device (it chooses eval mode / EMA weights itself). Sampling runs under ``torch.no_grad`` in
    chunks of ``batch_size``, with the RNG seeded to ``seed`` inside a fork, so the metric is
    repeatable and training's random stream is left untouched. The metrics go into
    ``trainer.callback_metrics`` and to every logger, on global rank 0 only.

    Args:
        n_samples: images scored for the detection rate (at least 25, for the grid).
        batch_size: images per ``sample`` call.
        every_n_steps: also score every this many steps; ``None`` scores only at the end.
        cascade_path: the cascade XML; ``None`` means the vendored copy.
        seed: RNG seed for sampling.
    """

    def __init__(
        self,
        n_samples: int = 1000,
        batch_size: int = 250,
        every_n_steps: int | None = None,
        cascade_path: str | None = None,
        seed: int = 0,
    ) -> None:
        if n_samples < GRID_SIZE:
            raise ValueError(f"n_samples must be at least {GRID_SIZE} (the grid), got {n_samples}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be positive or null, got {every_n_steps}")
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.every_n_steps = every_n_steps
        self.seed = seed
        self.detector = AnimeFaceDetector(cascade_path)
        self._last_step: int | None = None

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: object,
        batch: object,
        batch_idx: int,
    ) -> None:
        step = _step(trainer, pl_module)
        if self.every_n_steps is not None and step > 0 and step % self.every_n_steps == 0:
            self._record(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record(trainer, pl_module)

    def _record(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Score and record once per step (the end of training often repeats the last step)."""
        step = _step(trainer, pl_module)
        if not trainer.is_global_zero or self._last_step == step:
            return
        self._last_step = step
        metrics = self.score(pl_module)
        for key, value in metrics.items():
            trainer.callback_metrics[key] = torch.tensor(value)
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)

    @torch.no_grad()
    def score(self, pl_module: pl.LightningModule, datamodule: object = None) -> dict[str, float]:
        """Sample ``n_samples`` images from ``pl_module`` and compute the three face metrics.

        ``datamodule`` is unused; every metric callback's ``score`` takes it (evaluate.py).
        """
        device = pl_module.device
        devices = [] if device.type == "cpu" else [device]
        found = 0
        grid = []
        with torch.random.fork_rng(devices=devices, device_type=device.type):
            torch.manual_seed(self.seed)
            for start in range(0, self.n_samples, self.batch_size):
                n = min(self.batch_size, self.n_samples - start)
                images = pl_module.sample(n)
                if images.shape[0] != n:
                    raise ValueError(
                        f"{type(pl_module).__name__}.sample({n}) returned {images.shape[0]} images"
                    )
                found += int(self.detector.has_face(images).sum())
                if start < GRID_SIZE:
                    grid.append(images[: GRID_SIZE - start].cpu())
        count, passed = self.detector.grid_pass(torch.cat(grid))
        return {
            "face_detect_rate": found / self.n_samples,
            "face_grid_pass": float(passed),
            "face_grid_count": float(count),
        }
