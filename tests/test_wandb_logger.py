"""The W&B logger: best-value summaries per metric and the resolved config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.wandb_logger import WandbLogger
from tests.run_helpers import compose_train


class FakeRun:
    """Records what the logger asks of a W&B run."""

    def __init__(self) -> None:
        self.defined: list[tuple[str, str]] = []
        self.logged: list[dict[str, Any]] = []
        self.calls: list[str] = []

    def define_metric(self, name: str, summary: str) -> None:
        self.defined.append((name, summary))
        self.calls.append(f"define {name}")

    def log(self, metrics: dict[str, Any]) -> None:
        self.logged.append(metrics)
        self.calls.append("log " + ",".join(sorted(metrics)))


def _logger(run: FakeRun, **kwargs: Any) -> WandbLogger:
    logger = WandbLogger(project="t", offline=True, **kwargs)
    logger._experiment = run
    return logger


def test_each_metric_is_defined_once_with_its_direction_before_it_is_logged() -> None:
    run = FakeRun()
    logger = _logger(run)
    logger.log_metrics({"acc_test": 0.2, "train/d_loss": 1.0, "d_steps": 5}, step=1)
    logger.log_metrics({"acc_test": 0.5, "val/bits_per_dim": 3.0}, step=2)
    assert run.defined == [
        ("acc_test", "max,last"),
        ("train/d_loss", "min,last"),
        ("val/bits_per_dim", "min,last"),
    ]
    assert run.calls.index("define acc_test") < run.calls.index(
        "log acc_test,d_steps,train/d_loss,trainer/global_step"
    )
    assert run.calls[-2:] == [
        "define val/bits_per_dim",
        "log acc_test,trainer/global_step,val/bits_per_dim",
    ]


def test_a_prefix_is_part_of_the_defined_name() -> None:
    run = FakeRun()
    _logger(run, prefix="gan").log_metrics({"acc_test": 0.1})
    assert run.defined == [("gan-acc_test", "max,last")]
    assert run.logged == [{"gan-acc_test": 0.1}]


def test_train_logs_the_resolved_config(
    monkeypatch: pytest.MonkeyPatch, anime_data_dir: Path, tmp_path: Path
) -> None:
    import train as train_py

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "pytorch_lightning.loggers.CSVLogger.log_hyperparams",
        lambda self, params: seen.append(params),
    )
    out = tmp_path / "run"
    cfg = compose_train(
        out,
        [
            f"paths.data_dir={anime_data_dir}",
            f"paths.output_dir={out}",
            "data.n_images=48",
            "data.batch_size=8",
            "model.generator.width=8",
            "model.discriminator.width=8",
            "logger=csv",
            "~callbacks.anime_faces",
            "~callbacks.progress_bar",
            "+trainer.fast_dev_run=1",
        ],
    )
    train_py.train(cfg)
    (params,) = seen
    assert "hydra" not in params and isinstance(params["trainer"], dict)
    assert params["trainer"]["default_root_dir"] == str(out)  # ${paths.output_dir}, resolved
    assert params["model"]["generator"]["width"] == 8
