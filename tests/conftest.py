"""Shared test fixtures: the repo root, ../shared, and small GAN builders."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_fixtures() -> Path:
    """``../shared/fixtures``; tests that need it skip when the folder is absent."""
    path = SHARED / "fixtures"
    if not path.is_dir():
        pytest.skip(f"{path} is absent (the format fixtures live in ../shared beside the repo)")
    return path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a run in which no test passed (everything skipped or deselected): CI must test."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if exitstatus == 0 and reporter is not None and not reporter.stats.get("passed"):
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
