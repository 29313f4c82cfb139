"""The conditional-quality benchmark: its train commands compose and its CSV reading is right."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from benchmarks.conditional_quality import (
    ANIME_RUNS,
    ICLEVR_RUNS,
    Options,
    accuracy_curve,
    max_time,
    train_command,
)
from tests.run_helpers import REPO


def _hydra_overrides(command: list[str]) -> list[str]:
    return [arg for arg in command[2:] if not arg.startswith("hydra.")]


@pytest.mark.parametrize("name", [*ICLEVR_RUNS, *ANIME_RUNS])
def test_every_benchmarked_run_composes(name: str, tmp_path: Path) -> None:
    overrides = ICLEVR_RUNS.get(name) or ANIME_RUNS[name]
    data, callback = (
        ("toy_iclevr", "iclevr_accuracy") if name in ICLEVR_RUNS else ("toy_anime_tags", "x")
    )
    metric = "iclevr_accuracy" if name in ICLEVR_RUNS else "anime_tags_accuracy"
    extra = [f"data={data}", f"+metric@callbacks.{callback}={metric}"]
    command = train_command(callback, [*overrides, *extra], Options(minutes=3.0), tmp_path)
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=_hydra_overrides(command))
    assert cfg.model.conditional
    assert cfg.trainer.max_time == "00:00:03:00"
    assert cfg.model.generator.width == Options.width
    assert cfg.callbacks[callback].every_n_steps == Options.every_n_steps


def test_max_time_is_lightnings_format() -> None:
    assert max_time(15) == "00:00:15:00"
    assert max_time(0.5) == "00:00:00:30"
    assert max_time(61.25) == "00:01:01:15"


def test_accuracy_curve_reads_only_scored_rows(tmp_path: Path) -> None:
    log = tmp_path / "csv" / "version_0" / "metrics.csv"
    log.parent.mkdir(parents=True)
    log.write_text(
        "acc_new_test,acc_test,d_steps,div_test,step,train/d_loss\n"
        ",,,,9,1.5\n"
        "0.25,0.5,250.0,0.03,499,\n"
        ",,,,509,1.2\n"
        "0.5,0.75,500.0,0.01,999,\n"
    )
    assert accuracy_curve(tmp_path) == [
        {"d_steps": 250.0, "acc_new_test": 0.25, "acc_test": 0.5, "div_test": 0.03},
        {"d_steps": 500.0, "acc_new_test": 0.5, "acc_test": 0.75, "div_test": 0.01},
    ]


def test_tuned_cdcgan_preset_is_the_benchmarked_recipe() -> None:
    run = ["data=iclevr", *ICLEVR_RUNS["cdcgan_iclevr_aux_joint_reshape_gaux10"]]
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        preset = compose("train", overrides=["experiment=iclevr_cdcgan_tuned"])
        benchmarked = compose("train", overrides=run)
    assert preset.model == benchmarked.model
    assert preset.data.batch_size == benchmarked.data.batch_size
