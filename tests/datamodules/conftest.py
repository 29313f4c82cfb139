"""Fixtures for the datamodule tests: a tiny procedural anime set and writable copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from datamodules.toy_anime import write_toy_anime


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-image toy anime set in the MLDS layout, shared by all tests: do not modify it."""
    root = tmp_path_factory.mktemp("shared") / "toy_anime"
    write_toy_anime(root, n_images=40, seed=3)
    return root


@pytest.fixture
def anime_root(toy_root: Path, tmp_path: Path) -> Path:
    """A private copy of the toy set's ``faces/`` (MLDS layout), free to modify."""
    root = tmp_path / "anime"
    shutil.copytree(toy_root / "faces", root / "faces")
    return root
