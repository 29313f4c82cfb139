"""Loggers that can fail without failing the run.

A logger is a side channel: W&B failing to start or losing its connection, a full disk under
TensorBoard's event files or a bug in a logger must not stop hours of training. The first
failure of a logger made safe by :func:`make_safe` is reported (with its traceback) and switches
that logger off for the rest of the run, so a broken logger costs neither time nor a flood of
messages; training, checkpoints, samples and ``metrics.json`` go on.
"""

from __future__ import annotations

import logging
from typing import Any

from pytorch_lightning.loggers import Logger
from pytorch_lightning.loggers.logger import DummyExperiment

log = logging.getLogger(__name__)

# The methods Lightning, train.py and the callbacks call on a logger.
GUARDED = (
    "log_metrics",
    "log_hyperparams",
    "log_graph",
    "log_image",
    "log_text",
    "log_table",
    "save",
    "finalize",
    "after_save_checkpoint",
)

_SAFE_CLASSES: dict[type, type] = {}


def make_safe(logger: Logger) -> Logger:
    """Make ``logger`` safe in place and return it: its class becomes a subclass (same name) whose
    ``experiment`` and logging methods (:data:`GUARDED`, those it has) report their first failure
    and then do nothing. ``isinstance`` checks (a ``WandbLogger`` gets the images) still hold."""
    cls = type(logger)
    if not getattr(cls, "_safe", False):
        if cls not in _SAFE_CLASSES:
            _SAFE_CLASSES[cls] = _safe_class(cls)
        logger.__class__ = _SAFE_CLASSES[cls]
    return logger


def _safe_class(base: type) -> type:
    """``base`` with its ``experiment`` and :data:`GUARDED` methods guarded (a single base
    and no slots of its own, so a ``base`` instance can take it as its class)."""

    def fail(self: Any, name: str, err: Exception) -> None:
        if self._failed_in is not None:  # a method failing after its experiment did
            return
        self._failed_in = name
        log.warning(
            "Logger %s failed in %s (%s: %s); it is off for the rest of this run and training"
            " goes on (checkpoints, samples and metrics.json are unaffected).",
            type(self).__name__,
            name,
            type(err).__name__,
            err,
            exc_info=err,
        )

    def experiment(self: Any) -> Any:
        """The logger's experiment (starting it, for W&B); a no-op stand-in once it failed.

        Lightning reads it before training (``hasattr(logger, "experiment")``) and callbacks
        call it directly (TensorBoard images), so a W&B run that cannot start fails here.
        """
        if self._failed_in is None:
            try:
                return base.experiment.__get__(self, base)
            except Exception as err:
                fail(self, "experiment", err)
        return DummyExperiment()

    def guarded(name: str) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self._failed_in is not None:
                return None
            try:  # looked up at call time: the class is cached, its base may be patched later
                return getattr(base, name)(self, *args, **kwargs)
            except Exception as err:
                fail(self, name, err)
                return None

        call.__name__ = call.__qualname__ = name
        return call

    namespace = {
        "__module__": base.__module__,
        "__qualname__": base.__qualname__,
        "__slots__": (),
        "_safe": True,
        "_failed_in": None,
        "experiment": property(experiment),
        **{name: guarded(name) for name in GUARDED if callable(getattr(base, name, None))},
    }
    return type(base.__name__, (base,), namespace)
