"""Loggers never stop a run: a failing logger is reported once and switched off, and W&B runs
offline, without a login, unless the user is logged in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytorch_lightning.loggers import Logger

from runtime import resolvers
from runtime.safe_logger import make_safe
from tests.run_helpers import SMALL, compose_train
from train import train


class BrokenLogger(Logger):
    """A logger whose every logging call raises, counting the calls that reach it."""

    calls: list[str] = []

    @property
    def name(self) -> str:
        return "broken"

    @property
    def version(self) -> int:
        return 0

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        BrokenLogger.calls.append("log_metrics")
        raise ConnectionError("server unreachable")

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        BrokenLogger.calls.append("log_hyperparams")
        raise ConnectionError("server unreachable")


def _overrides(anime_data_dir: Path, *extra: str) -> list[str]:
    return [
        f"paths.data_dir={anime_data_dir}",
        "data.n_images=48",
        *SMALL,
        "trainer.max_epochs=1",
        "++trainer.limit_train_batches=3",
        "trainer.log_every_n_steps=1",
        *extra,
    ]


def _failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "training goes on" in r.getMessage()]


def test_a_failing_logger_is_reported_once_and_training_goes_on(
    anime_data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    BrokenLogger.calls.clear()
    target = f"{__name__}.BrokenLogger"
    cfg = compose_train(
        tmp_path, _overrides(anime_data_dir, "logger=csv", f"+logger.broken._target_={target}")
    )
    with caplog.at_level(logging.WARNING):
        metrics = train(cfg)
    assert metrics["d_steps"] == 3
    assert json.loads((tmp_path / "metrics.json").read_text())["d_steps"] == 3
    assert BrokenLogger.calls == ["log_hyperparams"]  # switched off after its first failure
    (message,) = _failures(caplog)
    assert "BrokenLogger failed in log_hyperparams (ConnectionError: server unreachable)" in message
    assert "train/d_loss" in next((tmp_path / "csv").rglob("metrics.csv")).read_text()


def test_make_safe_keeps_the_class_and_passes_calls_through(tmp_path: Path) -> None:
    from pytorch_lightning.loggers import CSVLogger

    logger = make_safe(CSVLogger(tmp_path))
    assert isinstance(logger, CSVLogger)
    logger.log_metrics({"loss": 1.5}, step=0)
    logger.save()
    assert "1.5" in (Path(logger.log_dir) / "metrics.csv").read_text()


@pytest.fixture
def no_wandb_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A machine never logged in to W&B, and W&B's run closed after the test."""
    for key in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    yield
    import wandb

    wandb.finish()


def test_wandb_online_without_credentials_goes_offline(
    no_wandb_login: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "online")
    assert resolvers.wandb_offline() is True  # not a login prompt
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolvers.wandb_offline() is False


def test_wandb_that_cannot_start_does_not_stop_training(
    no_wandb_login: None,
    anime_data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import wandb

    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise wandb.errors.CommError("Run initialization has timed out")

    monkeypatch.setattr(wandb, "init", unreachable)
    cfg = compose_train(tmp_path / "run", _overrides(anime_data_dir, "logger=wandb"))
    with caplog.at_level(logging.WARNING):
        metrics = train(cfg)
    assert metrics["d_steps"] == 3
    (message,) = _failures(caplog)
    assert "CommError" in message


def test_wandb_offline_run_needs_no_network_or_login(
    no_wandb_login: None,
    anime_data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("WANDB_MODE", "online")  # asked for, but not logged in: offline
    cfg = compose_train(tmp_path / "run", _overrides(anime_data_dir, "logger=wandb"))
    with caplog.at_level(logging.WARNING):
        train(cfg)
    assert not _failures(caplog)
    assert any("logging offline instead" in r.getMessage() for r in caplog.records)
    (run,) = (tmp_path / "run" / "wandb").glob("offline-run-*")
    assert list((run / "files" / "media" / "images").glob("samples_*.png"))
