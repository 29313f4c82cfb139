"""Turn a user's bad input into a message and an exit code instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from datamodules.errors import DataError

T = TypeVar("T")


def report_data_errors(fn: Callable[[], T]) -> T:
    """Run ``fn``; a ``DataError`` prints its message and exits with status 2.

    In a multirun the error is raised instead, so Hydra records the failed job and the sweep's
    other jobs go on.
    """
    try:
        return fn()
    except DataError as err:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        print(f"\nlitgen: {err}\n", file=sys.stderr)
        sys.exit(2)
