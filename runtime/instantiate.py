"""Build callbacks and loggers from their config dicts (one `_target_` node per entry)."""

from __future__ import annotations

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.loggers import Logger


def _instantiate_dict(cfg: DictConfig | None) -> list:
    if not cfg:
        return []
    return [
        instantiate(node, _convert_="all")
        for node in cfg.values()
        if node is not None and "_target_" in node
    ]


def instantiate_callbacks(cfg: DictConfig | None) -> list[pl.Callback]:
    """Callbacks from a ``name: {_target_: ...}`` dict; ``null`` entries are skipped."""
    return _instantiate_dict(cfg)


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    """Loggers from a ``name: {_target_: ...}`` dict; an empty dict means no logger."""
    return _instantiate_dict(cfg)
