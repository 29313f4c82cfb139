"""Build callbacks and loggers from their config dicts (one `_target_` node per entry)."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.loggers import Logger

from datamodules.errors import DataError
from runtime.safe_logger import make_safe

GENERIC_HINT = (
    "Remove that key, or find the choice or override that set it (`python train.py ... --cfg job`"
    " prints the composed config)."
)


def instantiate_node(node: DictConfig, what: str, hint: str | None = None, **kwargs: Any) -> Any:
    """``instantiate(node, **kwargs)``, with a ``DataError`` raised while building it passed on
    as itself (not wrapped by Hydra), and a key the target does not take reported as a
    ``DataError`` naming the config group ``what`` (e.g. "data") and the key, followed by
    ``hint`` (what the caller knows about where such a key comes from, e.g. the config's
    ``hints.data``) or else a generic pointer to the composed config."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, DataError):
            raise cause from None
        if isinstance(cause, TypeError) and "unexpected keyword argument" in str(cause):
            raise DataError(
                f"The {what} config ({node.get('_target_')}) has a key its class does not take:"
                f" {cause}. {hint or GENERIC_HINT}"
            ) from None
        raise


def _instantiate_dict(cfg: DictConfig | None) -> list:
    if not cfg:
        return []
    return [
        instantiate_node(node, "callback", _convert_="all")
        for node in cfg.values()
        if node is not None and "_target_" in node
    ]


def instantiate_callbacks(cfg: DictConfig | None) -> list[pl.Callback]:
    """Callbacks from a ``name: {_target_: ...}`` dict; ``null`` entries are skipped."""
    return _instantiate_dict(cfg)


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    """Loggers from a ``name: {_target_: ...}`` dict; an empty dict means no logger. Each is
    made safe: a logger that fails is reported once and switched off, and training goes on."""
    return [make_safe(logger) for logger in _instantiate_dict(cfg)]
