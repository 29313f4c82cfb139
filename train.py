"""Train a generative model: ``python train.py model=M data=D trainer=T [key=value ...]``.

Composes the config (conf/train.yaml), seeds everything, builds the datamodule and hands its
DataSpec to the model, then fits. The run dir receives checkpoints, sample grids and
``metrics.json``; the return value is ``optimized_metric`` for Hydra sweepers.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from runtime import resolvers
from runtime.errors import report_data_errors
from runtime.instantiate import instantiate_callbacks, instantiate_loggers

log = logging.getLogger(__name__)
resolvers.register()


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data``; returns the final metrics (also in metrics.json)."""
    pl.seed_everything(cfg.seed, workers=True)
    # Plain containers (_convert_="all") keep checkpoints loadable with torch.load(weights_only).
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.prepare_data()
    # The spec is passed at call time: instantiate would turn the dataclass into a DictConfig.
    model = instantiate(cfg.model, _partial_=True, _convert_="all")(spec=datamodule.spec)
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in loggers:
        logger.log_hyperparams(dict(cfg))

    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    metrics.update(
        d_steps=model.d_steps,
        g_steps=model.g_steps,
        global_step=trainer.global_step,
        wall_time_s=time.perf_counter() - start,
    )
    if trainer.is_global_zero:
        path = Path(cfg.paths.output_dir) / "metrics.json"
        path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        log.info("metrics written to %s", path)
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = report_data_errors(lambda: train(cfg))
    name = cfg.get("optimized_metric")
    if name is None:
        return None
    if name not in metrics:
        log.warning("optimized_metric %r is not among the run's metrics %s", name, sorted(metrics))
        return None
    return metrics[name]


if __name__ == "__main__":
    main()
