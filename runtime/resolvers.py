"""OmegaConf resolvers that name and group runs from the Hydra job, used by logger configs."""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

log = logging.getLogger(__name__)

# Overrides that say where, not what: left out of run names.
_NOT_IN_NAME = ("hydra.", "paths.", "logger", "seed", "ckpt_path")


def run_name() -> str:
    """A run's name: its model and data choices, then its other overrides (``k=v,k=v``)."""
    hydra_cfg = HydraConfig.get()
    choices = hydra_cfg.runtime.choices
    overrides = [
        o
        for o in hydra_cfg.overrides.task
        if not o.lstrip("+~").startswith(_NOT_IN_NAME)
        and not o.startswith(("model=", "data=", "experiment="))
    ]
    head = "-".join(str(choices.get(k)) for k in ("experiment", "model", "data") if choices.get(k))
    return ",".join([head, *overrides])


def run_group() -> str | None:
    """One group per multirun sweep, shared by all its jobs: the experiment (if any), then the
    sweep dir's last two parts (``tips-2026-11-23_16-40-00``); none for a single run."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    sweep_dir = Path(hydra_cfg.sweep.dir)
    experiment = hydra_cfg.runtime.choices.get("experiment")
    parts = [experiment, "_".join(sweep_dir.parts[-2:])]
    return "-".join(p for p in parts if p)


# Config groups whose choice becomes a tag (tip: an arm of the training-tips study).
_TAG_GROUPS = ("model", "data", "experiment", "tip")


def run_tags() -> list[str]:
    """Tags from the config-group choices: model, data, experiment (and the tip arm)."""
    choices = HydraConfig.get().runtime.choices
    return [f"{k}:{choices[k]}" for k in _TAG_GROUPS if choices.get(k)]


def wandb_offline() -> bool:
    """Offline unless the user is logged in to W&B. ``WANDB_MODE=offline`` (or ``dryrun``,
    ``disabled``) forces offline; any other mode is honoured only with credentials, since W&B
    would otherwise stop the run at a login prompt."""
    mode = os.environ.get("WANDB_MODE")
    if mode in ("offline", "dryrun", "disabled"):
        return True
    if _logged_in():
        return False
    if mode:
        log.warning(
            "WANDB_MODE=%s but no W&B credentials (WANDB_API_KEY or `wandb login`): logging"
            " offline instead of asking for a login",
            mode,
        )
    return True


def _logged_in() -> bool:
    """Whether W&B credentials exist: ``WANDB_API_KEY`` or an ``api.wandb.ai`` netrc entry."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def register() -> None:
    """Register the ``litgen.*`` resolvers (idempotent)."""
    for name, fn in {
        "litgen.run_name": run_name,
        "litgen.run_group": run_group,
        "litgen.run_tags": run_tags,
        "litgen.wandb_offline": wandb_offline,
    }.items():
        OmegaConf.register_new_resolver(name, fn, replace=True)
