"""Write a procedural data set once, atomically, with a marker file recording how it was drawn.

A set is drawn into a temporary folder beside ``root`` and renamed into place, so ``root`` either
holds a complete set or nothing, even if the run is killed. The marker (a small JSON file inside
the set) tells a later run whether the set there was drawn with its settings; a folder without
one holds something else and is never replaced. Used by ``toy_anime`` and ``toy_iclevr``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from datamodules.errors import DataError


def read_marker(root: Path | str, marker_name: str) -> dict | None:
    """The marker ``root/marker_name`` as written by ``write_once``, or None if it holds none."""
    try:
        return json.loads((Path(root) / marker_name).read_text())
    except (OSError, ValueError):
        return None


def check_toy_root(
    root: Path, marker_name: str, *, what: str, toy_data: str, real: str, real_data: str
) -> None:
    """Fail unless ``root`` is missing, empty or holds a toy set: other content is not replaced.

    The message names the folder, the missing marker and the ``data=`` options to use, e.g.
    ``what="toy ICLEVR set", toy_data="toy_iclevr", real="ICLEVR data", real_data="iclevr"``.
    """
    occupied = root.exists() and (not root.is_dir() or any(root.iterdir()))
    if occupied and read_marker(root, marker_name) is None:
        raise DataError(
            f"{root} is not empty and holds no {what} ({marker_name} is missing), so it is left"
            f" alone. Point data.root at a new or empty folder for data={toy_data}, or read the"
            f" folder as {real} with data={real_data}."
        )


def write_once(
    root: Path | str, marker_name: str, marker: dict, fill: Callable[[Path], None]
) -> None:
    """Draw a set with ``fill(tmp)`` into a temporary folder beside ``root`` and move it there.

    ``marker`` is written last, into ``tmp/marker_name``. A set at ``root`` with the same marker
    (written meanwhile by a concurrent run) is kept, one with another marker is replaced, and an
    empty folder is replaced by the rename itself. If ``fill`` raises, nothing is left behind.
    """
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.", suffix=".tmp"))
    try:
        tmp.chmod(0o755)
        fill(tmp)
        (tmp / marker_name).write_text(json.dumps(marker))
        _move_into_place(tmp, root, marker_name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move_into_place(tmp: Path, root: Path, marker_name: str) -> None:
    """Rename ``tmp`` to ``root``.

    A set drawn alike (by a concurrent run) is kept, one drawn otherwise is removed first, and an
    empty folder is replaced by the rename itself.
    """
    ours, theirs = read_marker(tmp, marker_name), read_marker(root, marker_name)
    if theirs == ours:
        return
    if theirs is not None:
        old = root.with_name(f".{root.name}.old.{os.getpid()}")
        os.rename(root, old)
        shutil.rmtree(old)
    try:
        os.rename(tmp, root)
    except OSError:
        if read_marker(root, marker_name) != ours:
            raise
