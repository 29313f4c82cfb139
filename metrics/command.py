"""Shared pieces of the ``python -m metrics.train_...`` commands: arguments and atomic saves."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from datamodules.errors import DataError

T = TypeVar("T")
TRUTH = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_key_values(argv: Sequence[str], defaults: T, usage: str) -> T:
    """``key=value`` strings -> a copy of the ``defaults`` dataclass, each value converted to its
    field's type; a ``DataError`` with ``usage`` on a bad argument or a missing root/out."""
    values: dict[str, object] = {}
    for arg in argv:
        key, equals, text = arg.partition("=")
        if not equals or not hasattr(defaults, key):
            raise DataError(f"unknown argument {arg!r}.\n{usage}")
        kind = type(getattr(defaults, key))
        try:
            values[key] = TRUTH[text.lower()] if kind is bool else kind(text)
        except (KeyError, ValueError):
            raise DataError(f"{key}={text!r} is not a valid {kind.__name__}.\n{usage}") from None
    options = dataclasses.replace(defaults, **values)
    if not options.root or not options.out:
        raise DataError(f"root=... and out=... are required.\n{usage}")
    return options


def save_atomically(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` through a temporary file and a rename, so a crash never
    leaves a truncated checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
