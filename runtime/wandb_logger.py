"""Lightning's W&B logger with the run summary holding each metric's best value, not only its last.

W&B's summary (the runs table of a dashboard) shows the last logged value by default; comparing a
sweep needs the best accuracy and the lowest FID/bits-per-dim too. Before a metric is first logged
this logger defines it with ``summary="<max|min>,last"`` by the direction its name tells
(:func:`runtime.metric_direction.best_mode`); W&B only accepts glob *suffixes*, so names are
defined one by one as they appear.
"""

from __future__ import annotations

from collections.abc import Mapping

from pytorch_lightning.loggers import WandbLogger as LightningWandbLogger
from pytorch_lightning.utilities import rank_zero_only

from runtime.metric_direction import best_mode


class WandbLogger(LightningWandbLogger):
    """``pytorch_lightning.loggers.WandbLogger`` that defines best-value summaries per metric."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._defined: set[str] = set()

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for name in metrics:
            key = f"{self._prefix}{self.LOGGER_JOIN_CHAR}{name}" if self._prefix else name
            if key in self._defined:
                continue
            self._defined.add(key)
            mode = best_mode(name)
            if mode is not None:
                self.experiment.define_metric(key, summary=f"{mode},last")
        super().log_metrics(metrics, step)
