"""DivergenceGuard: NaN/Inf in a loss or a weight stops training, names the step and the values,
leaves last.ckpt at the last good state and records the divergence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from callbacks.divergence_guard import TrainingDiverged, _all_finite
from tests.run_helpers import SMALL, compose_train
from train import train


class PoisonWeight(pl.Callback):
    """Sets D's first weight to NaN just before training batch ``at_step`` (counted from 1)."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_) -> None:
        if pl_module.d_steps == self.at_step - 1:
            with torch.no_grad():
                next(pl_module.discriminator.parameters()).view(-1)[0] = math.nan


def _overrides(anime_data_dir: Path, *extra: str) -> list[str]:
    return [
        f"paths.data_dir={anime_data_dir}",
        "data.n_images=48",
        *SMALL,
        "~callbacks.anime_faces",
        "trainer.max_epochs=1",
        "callbacks.model_checkpoint.every_n_train_steps=1",
        "optimized_metric=null",
        *extra,
    ]


def _poisoned(at_step: int) -> list[str]:
    target = f"{__name__}.PoisonWeight"
    return [f"+callbacks.poison._target_={target}", f"+callbacks.poison.at_step={at_step}"]


def _last_d_steps(run: Path) -> int:
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    return checkpoint["gan_counters"]["d_steps"]


def test_nan_weight_stops_at_its_step_and_keeps_the_last_good_checkpoint(
    anime_data_dir: Path, tmp_path: Path
) -> None:
    cfg = compose_train(tmp_path, _overrides(anime_data_dir, "logger=csv", *_poisoned(3)))
    with pytest.raises(TrainingDiverged, match=r"D step 3 \(G step 3\).*train/d_loss = nan"):
        train(cfg)
    assert _last_d_steps(tmp_path) == 2
    record = json.loads((tmp_path / "diverged.json").read_text())
    assert record["d_steps"] == 3 and record["last_good_check_d_steps"] == 2
    assert "discriminator.features.0.weight" in record["weights"]
    assert record["last_checkpoint"].endswith("last.ckpt")
    assert "diverged" in next((tmp_path / "csv").rglob("metrics.csv")).read_text()


def test_a_diverged_state_is_never_saved_between_checks(
    anime_data_dir: Path, tmp_path: Path
) -> None:
    cfg = compose_train(
        tmp_path,
        _overrides(
            anime_data_dir,
            "logger=none",
            "callbacks.divergence_guard.every_n_steps=100",
            *_poisoned(3),
        ),
    )
    with pytest.raises(TrainingDiverged, match="D step 3"):
        train(cfg)  # the save after step 3 checks first
    assert _last_d_steps(tmp_path) == 2


def test_huge_learning_rate_stops_the_run_at_the_first_bad_step(
    anime_data_dir: Path, tmp_path: Path
) -> None:
    cfg = compose_train(
        tmp_path,
        _overrides(
            anime_data_dir, "logger=none", "optimizer@model.d_opt=sgd", "model.d_opt.lr=1e4"
        ),
    )
    with pytest.raises(TrainingDiverged, match="not finite: ") as err:
        train(cfg)
    record = json.loads((tmp_path / "diverged.json").read_text())
    assert record["metrics"] or record["weights"]
    assert f"D step {record['d_steps']} " in str(err.value)
    assert record["d_steps"] > 1  # every step was checked and saved: last.ckpt is the one before
    assert _last_d_steps(tmp_path) == record["last_good_check_d_steps"] == record["d_steps"] - 1


def test_finite_values_pass_whatever_their_size() -> None:
    huge = torch.full((4,), 3e38, dtype=torch.bfloat16)
    assert _all_finite([huge, torch.zeros(0), torch.tensor(1.0)])
    assert not _all_finite([huge, torch.tensor([1.0, math.inf])])
    assert not _all_finite([torch.tensor(math.nan, dtype=torch.float64)])


def test_a_diverged_single_run_ends_with_its_message_and_status_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runtime.errors import DIVERGED, report_data_errors

    def diverge() -> None:
        raise TrainingDiverged(
            "Training diverged at D step 7 (G step 7): not finite: d_loss = nan."
        )

    with pytest.raises(SystemExit) as exit_info:
        report_data_errors(diverge)
    assert exit_info.value.code == DIVERGED == 3
    assert "litgen: Training diverged at D step 7" in capsys.readouterr().err
