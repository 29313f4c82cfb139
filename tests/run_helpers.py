"""Compose the real Hydra config in-process, as train.py would, for end-to-end tests."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from runtime import resolvers

REPO = Path(__file__).resolve().parents[1]

# Small networks and data so a run takes seconds on a CPU.
SMALL = [
    "model.generator.width=8",
    "model.discriminator.width=8",
    "model.n_samples=16",
    "data.batch_size=8",
    "callbacks.anime_faces.n_samples=25",
    "callbacks.anime_faces.batch_size=25",
    "~callbacks.progress_bar",
    "trainer.accelerator=cpu",
]


def compose_train(out_dir: Path, overrides: list[str]) -> DictConfig:
    """The train config with ``overrides``, writing into ``out_dir`` (as ``hydra.run.dir``)."""
    resolvers.register()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", return_hydra_config=True, overrides=overrides)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(out_dir)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    return cfg


def write_run_config(cfg: DictConfig, out_dir: Path) -> None:
    """Save ``cfg`` resolved as ``out_dir/.hydra/config.yaml``, where train.py's Hydra leaves it,
    so sample.py and evaluate.py find an in-process run's model and data."""
    config = OmegaConf.to_container(cfg, resolve=True)
    del config["hydra"]
    (out_dir / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(OmegaConf.create(config), out_dir / ".hydra" / "config.yaml")


def quiet_trainer(**kwargs: object) -> pl.Trainer:
    """A CPU trainer for one epoch without logger, progress bar, model summary or checkpoints;
    ``kwargs`` override or add Trainer arguments (``callbacks``, ``max_steps``, ...)."""
    args: dict[str, object] = dict(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    args.update(kwargs)
    return pl.Trainer(**args)


def constructor_arguments(cls: type) -> set[str]:
    """The keyword arguments ``cls(...)`` accepts: its ``__init__``'s, and where that forwards
    ``**options`` to its parent (the toy datamodules), the parent's too."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            return names - {"self"}
    return names - {"self"}
