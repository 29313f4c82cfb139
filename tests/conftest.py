"""Shared test fixtures: the repo root, ../shared, and small GAN builders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # A worker per core (pyproject's -n auto): torch's threads, and those of the commands the
    # tests start, would otherwise contend for the cores the other workers use.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_fixtures() -> Path:
    """``../shared/fixtures``; tests that need it skip when the folder is absent."""
    path = SHARED / "fixtures"
    if not path.is_dir():
        pytest.skip(f"{path} is absent (the format fixtures live in ../shared beside the repo)")
    return path


@pytest.fixture(scope="session")
def anime_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``paths.data_dir`` holding a small ``toy_anime`` set (48 faces and as many tagged
    images), written once per test session; tests must not change it."""
    from datamodules.toy_anime import ensure_toy_anime

    path = tmp_path_factory.mktemp("anime_data")
    ensure_toy_anime(path / "toy_anime", n_images=48, seed=0)
    return path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a run in which no test passed (everything skipped or deselected): CI must test."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if exitstatus == 0 and reporter is not None and not reporter.stats.get("passed"):
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
