"""The StarGAN-quality benchmark: its train command composes, its step budget, CSV reading and
report pieces are right."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from benchmarks.stargan_quality import (
    CALLBACK,
    DOMAINS,
    Options,
    copy_baseline,
    last_grid,
    plot,
    score_curve,
    summarise,
    train_command,
)
from tests.run_helpers import REPO

# Lightning's CSV log of a StarGAN run: training rows (with train/...) and the translation
# accuracy callback's rows (with d_steps and stargan_*).
CSV = (
    "d_steps,stargan_all_acc,stargan_changed_acc,stargan_rec_l1,stargan_target_acc,"
    "stargan_target_acc_flip_Male,step,train/d_loss,train/d_steps\n"
    ",,,,,,9,1.5,10.0\n"
    "20.0,0.25,0.5,0.4,0.75,0.8,23,,\n"
    ",,,,,,29,1.2,30.0\n"
    "40.0,0.5,0.75,0.2,0.7,0.9,47,,\n"
)


def _hydra_overrides(command: list[str]) -> list[str]:
    return [arg for arg in command[2:] if not arg.startswith("hydra.")]


def test_train_command_composes(tmp_path: Path) -> None:
    options = Options(minutes=3.0, steps=1000, root=str(tmp_path / "data"))
    command = train_command(options, tmp_path / "clf.pt", tmp_path / "run")
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=_hydra_overrides(command))
    assert cfg.model._target_ == "gans.stargan.StarGAN"
    assert (cfg.model.total_steps, cfg.model.decay_start) == (1000, 500)
    assert (cfg.model.generator.width, cfg.model.generator.n_res) == (32, 3)
    assert cfg.model.discriminator.width == 32 and cfg.model.n_critic == 5
    assert cfg.trainer.max_time == "00:00:03:00" and cfg.trainer.max_epochs == -1
    assert list(cfg.data.attributes) == list(DOMAINS)
    assert cfg.data.root == str((tmp_path / "data").resolve() / "toy_celeba_stargan")
    assert (cfg.data.image_size, cfg.data.batch_size, cfg.data.n_images) == (32, 16, 4000)
    metric = cfg.callbacks[CALLBACK]
    assert metric._target_ == "callbacks.translation_accuracy.TranslationAccuracy"
    assert metric.evaluator.path == str((tmp_path / "clf.pt").resolve())
    assert (metric.every_n_steps, metric.n_images) == (500, 200)
    assert cfg.callbacks.translation_grid.every_n_steps == 500
    assert "csv" in cfg.logger and "progress_bar" not in cfg.callbacks
    assert cfg.optimized_metric == "stargan_target_acc"


def test_steps_from_the_budget() -> None:
    assert Options(steps=1234).total_steps == 1234
    # 30 min x 0.8 / 0.1 s = 14,400 D steps, rounded down to a multiple of every_n_steps.
    assert Options(minutes=30, sec_per_step=0.1).total_steps == 14000
    assert Options(minutes=0.1, sec_per_step=10, every_n_steps=50).total_steps == 50


def test_curve_and_summary_from_the_csv_log(tmp_path: Path) -> None:
    log = tmp_path / "csv" / "version_0" / "metrics.csv"
    log.parent.mkdir(parents=True)
    log.write_text(CSV)
    curve = score_curve(tmp_path)
    assert curve == [
        {
            "d_steps": 20.0,
            "stargan_all_acc": 0.25,
            "stargan_changed_acc": 0.5,
            "stargan_rec_l1": 0.4,
            "stargan_target_acc": 0.75,
            "stargan_target_acc_flip_Male": 0.8,
        },
        {
            "d_steps": 40.0,
            "stargan_all_acc": 0.5,
            "stargan_changed_acc": 0.75,
            "stargan_rec_l1": 0.2,
            "stargan_target_acc": 0.7,
            "stargan_target_acc_flip_Male": 0.9,
        },
    ]
    summary = summarise(curve)
    assert summary["final"] == curve[-1]
    assert summary["best"]["stargan_rec_l1"] == 0.2  # lowest L1, highest accuracies
    assert summary["best"]["stargan_target_acc"] == 0.75
    assert summary["best"]["stargan_target_acc_flip_Male"] == 0.9
    assert summary["at_best_target_acc"]["d_steps"] == 20.0
    assert summarise([]) == {"final": {}, "best": {}, "at_best_target_acc": {}}
    plot({"curve": curve}, tmp_path / "curve.png", {"stargan_target_acc": 0.77})
    assert (tmp_path / "curve.png").stat().st_size > 0


def test_copy_baseline_scores_the_unchanged_attributes() -> None:
    labels = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 1.0]])
    scores = copy_baseline(labels)
    assert scores["stargan_target_acc_flip_Male"] == pytest.approx(0.8)
    # Black hair: a no-op for the first face (5/5 right), two changes for the second (3/5).
    assert scores["stargan_target_acc_set_Black_Hair"] == pytest.approx(0.8)
    assert scores["stargan_changed_acc"] == 0.0
    assert scores["stargan_all_acc"] == pytest.approx(2 / 10)  # the two no-op hair sets


def test_last_grid(tmp_path: Path) -> None:
    assert last_grid(tmp_path) is None
    (tmp_path / "translations").mkdir()
    for step in (500, 1000, 1500):
        (tmp_path / "translations" / f"step_{step:06d}.png").write_bytes(b"")
    assert last_grid(tmp_path).name == "step_001500.png"
