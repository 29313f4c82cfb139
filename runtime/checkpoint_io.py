"""Checkpoint writing that a crash or a kill can never leave half done.

Lightning's ``TorchCheckpointIO`` writes over the old file (through fsspec, whose temporary file
lives in the system temp dir, so the final move may be a copy) and never syncs: a kill or power
loss during a save can leave a truncated ``last.ckpt`` and no way to resume.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning_fabric.utilities.types import _PATH


def _temp_prefix(path: Path) -> str:
    """Hidden name of ``path``'s temporary files (never ``*.ckpt``, so no tool mistakes one)."""
    return f".{path.name}."


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save(obj, path)`` so that ``path`` is always either the old file or the whole new
    one: write a temporary file in the same directory, flush and fsync it, ``os.replace`` it onto
    ``path`` (atomic within a file system), then fsync the directory so the rename survives a
    power loss. Leftovers of earlier interrupted saves of ``path`` are removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f"{_temp_prefix(path)}{secrets.token_hex(4)}.tmp"
    # Created as open() would (mode 0o666 less the umask), not private as mkstemp's files are.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    for stale in path.parent.glob(f"{_temp_prefix(path)}*.tmp"):
        stale.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    """Persist a directory's entries (a rename); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, with atomic and synced saves of local files
    (:func:`atomic_torch_save`).

    Remote paths (``s3://`` and the like) go through Lightning's own writer. Wired in as a trainer
    plugin (``conf/trainer/default.yaml``), so every checkpoint — ``last.ckpt``, ``best.ckpt``,
    ``trainer.save_checkpoint`` — is written this way.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        atomic_torch_save(checkpoint, path)
