"""Rebuild a trained run (its data and model) from a checkpoint, for evaluate.py and sample.py."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from datamodules.errors import DataError
from runtime.checkpoint_match import check_fits, load_checkpoint
from runtime.instantiate import instantiate_node


def run_config(ckpt_path: str | Path) -> DictConfig:
    """The config a checkpoint was trained with: ``RUN/.hydra/config.yaml`` for
    ``RUN/checkpoints/*.ckpt``."""
    ckpt = Path(ckpt_path)
    if not ckpt.is_file():
        raise DataError(
            f"Checkpoint {ckpt} does not exist. Pass ckpt_path=RUN_DIR/checkpoints/last.ckpt of a"
            " finished or running train.py run."
        )
    config = ckpt.resolve().parent.parent / ".hydra" / "config.yaml"
    if not config.is_file():
        raise DataError(
            f"{config} is missing, so the model and data of {ckpt} are unknown. Keep checkpoints"
            " inside their run dir (RUN/checkpoints/), next to RUN/.hydra/."
        )
    return OmegaConf.load(config)


def load_run(
    ckpt_path: str | Path, overrides: DictConfig | None = None
) -> tuple[DictConfig, pl.LightningDataModule, pl.LightningModule]:
    """The run's config (merged with ``overrides``, e.g. a new ``data.root``), its datamodule and
    its model with the checkpoint's weights, in eval mode on the CPU."""
    cfg = run_config(ckpt_path)
    if overrides is not None:
        cfg = OmegaConf.merge(cfg, overrides)
    datamodule = instantiate_node(
        cfg.data, "data", hint=OmegaConf.select(cfg, "hints.data"), _convert_="all"
    )
    model = instantiate(cfg.model, _partial_=True, _convert_="all")(spec=datamodule.spec)
    checkpoint = load_checkpoint(ckpt_path)
    check_fits(
        checkpoint,
        model,
        ckpt_path,
        "A checkpoint is read with the config of its run dir (RUN/.hydra/config.yaml): keep it in"
        " RUN/checkpoints/ of the run that wrote it, and change no model options in run_overrides.",
    )
    model.load_state_dict(checkpoint["state_dict"])
    model.on_load_checkpoint(checkpoint)
    return cfg, datamodule, model.eval()
