"""Turn a user's bad input, or a diverged run, into a message and an exit code, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from callbacks.divergence_guard import TrainingDiverged
from datamodules.errors import DataError

# Exit statuses: bad input (before training starts) and a run stopped by the divergence guard.
BAD_INPUT = 2
DIVERGED = 3

T = TypeVar("T")


def report_data_errors(fn: Callable[[], T]) -> T:
    """Run ``fn``; a ``DataError`` prints its message and exits with status 2, a
    ``TrainingDiverged`` (the message names the step, the values and the checkpoint kept) with 3.

    In a multirun the error is raised instead, so Hydra records the failed job and the sweep's
    other jobs go on.
    """
    try:
        return fn()
    except (DataError, TrainingDiverged) as err:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        print(f"\nlitgen: {err}\n", file=sys.stderr)
        sys.exit(BAD_INPUT if isinstance(err, DataError) else DIVERGED)
