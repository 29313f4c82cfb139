"""Train a generative model: ``python train.py model=M data=D trainer=T [key=value ...]``.

Composes the config (conf/train.yaml), seeds everything, builds the datamodule and hands its
DataSpec to the model, then fits. The run dir receives checkpoints, sample grids and
``metrics.json``; the return value is ``optimized_metric`` for Hydra sweepers. In a multirun
(``-m``) a job that fails writes ``failed.json`` into its dir, is logged as an error and returns
None (Optuna marks the trial failed); the sweep's other jobs go on.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
import traceback
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from runtime import resolvers
from runtime.checkpoint_match import check_resume
from runtime.errors import report_data_errors
from runtime.instantiate import instantiate_callbacks, instantiate_loggers, instantiate_node

log = logging.getLogger(__name__)
resolvers.register()


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data``; returns the final metrics (also in metrics.json)."""
    pl.seed_everything(cfg.seed, workers=True)
    # Plain containers (_convert_="all") keep checkpoints loadable with torch.load(weights_only).
    datamodule = instantiate_node(
        cfg.data, "data", hint=OmegaConf.select(cfg, "hints.data"), _convert_="all"
    )
    datamodule.prepare_data()
    # The spec is passed at call time: instantiate would turn the dataclass into a DictConfig.
    model = instantiate(cfg.model, _partial_=True, _convert_="all")(spec=datamodule.spec)
    check_resume(cfg.get("ckpt_path"), model)
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    # The resolved config (paths, names, defaults filled in), as the run saw it; not Hydra's own.
    run_config = OmegaConf.to_container(
        OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]), resolve=True
    )
    for logger in loggers:
        logger.log_hyperparams(run_config)

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


def finish_wandb(failed: bool) -> None:
    """Close the job's W&B run, if any: the next job of a multirun (same process) would otherwise
    log into it (Lightning's WandbLogger reuses a running ``wandb.run``)."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=1 if failed else 0)


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def record_failure(err: BaseException) -> Path | None:
    """Log a failed multirun job and write ``failed.json`` (job number, overrides, error,
    traceback) into its dir, so the sweep's summary and report show it. Returns the file."""
    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    log.error(
        "job %s (%s) failed: %s: %s; the sweep goes on",
        hydra_cfg.job.num,
        " ".join(overrides),
        type(err).__name__,
        err,
        exc_info=err,
    )
    if rank_zero_only.rank != 0:
        return None
    path = Path(hydra_cfg.runtime.output_dir) / "failed.json"
    record = {
        "job": hydra_cfg.job.num,
        "overrides": overrides,
        "error": f"{type(err).__name__}: {err}",
        "traceback": "".join(traceback.format_exception(err)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        metrics = report_data_errors(lambda: train(cfg))
    except Exception as err:
        finish_wandb(failed=True)
        if not _in_multirun():
            raise
        record_failure(err)
        return None
    finish_wandb(failed=False)
    name = cfg.get("optimized_metric")
    if name is None or rank_zero_only.rank != 0:  # other DDP ranks compute no metrics
        return None
    if name not in metrics:
        log.warning("optimized_metric %r is not among the run's metrics %s", name, sorted(metrics))
        return None
    if not math.isfinite(metrics[name]):
        # Sweepers cannot rank NaN (Optuna would stop the study): report the job as failed.
        log.warning("optimized_metric %r is %s", name, metrics[name])
        return None
    return metrics[name]


if __name__ == "__main__":
    main()
