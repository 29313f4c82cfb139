"""The flow-quality benchmark: its train commands compose, its CSV reading and report are right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from benchmarks.common import metric_curve
from benchmarks.flow_quality import (
    RUNS,
    SCORERS,
    VAL_BPD,
    Options,
    curves,
    main,
    plot,
    summarize,
    train_command,
)
from tests.run_helpers import REPO

# Lightning's CSV log of a conditional flow run: training rows every few steps, a validation row
# at each epoch end (with ``epoch``) and the condition-accuracy callback's rows (with ``d_steps``).
CSV = (
    "acc_new_test,acc_test,d_steps,epoch,step,train/aux,train/bits_per_dim,train/loss,"
    "val/aux,val/bits_per_dim,val/loss\n"
    ",,,0,9,0.7,6.5,6.51,,,\n"
    ",,,0,19,0.6,5.0,5.01,,,\n"
    ",,,0,24,,,,0.6,4.75,4.76\n"
    "0.25,0.5,25.0,,25,,,,,,\n"
    ",,,1,29,0.5,4.0,4.01,,,\n"
    ",,,1,49,,,,0.5,3.5,3.51\n"
    "0.5,0.375,50.0,,50,,,,,,\n"
)


def _hydra_overrides(command: list[str]) -> list[str]:
    return [arg for arg in command[2:] if not arg.startswith("hydra.")]


def _write_log(run_dir: Path, text: str = CSV) -> None:
    path = run_dir / "csv" / "version_0" / "metrics.csv"
    path.parent.mkdir(parents=True)
    path.write_text(text)


@pytest.mark.parametrize("name", RUNS)
def test_every_benchmarked_run_composes(name: str, tmp_path: Path) -> None:
    options = Options(minutes=3.0, root=str(tmp_path / "data"))
    command = train_command(name, options, tmp_path / "run", tmp_path / "scorer.pt")
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=_hydra_overrides(command))
    run = RUNS[name]
    assert cfg.model._target_ == "flows.module.FlowModule"
    assert cfg.model.get("conditional", False) == run.conditional
    assert cfg.model.n_bits == (options.cond_n_bits if run.conditional else options.n_bits)
    assert (cfg.model.flow.levels, cfg.model.flow.steps, cfg.model.flow.hidden) == (3, 8, 64)
    assert cfg.model.warmup_steps == options.warmup_steps
    assert cfg.trainer.max_time == "00:00:03:00"
    assert cfg.data.image_size == 32
    assert cfg.data.root == str((tmp_path / "data").resolve() / f"toy_{run.data}")
    assert "csv" in cfg.logger and "progress_bar" not in cfg.callbacks
    if run.data == "iclevr":
        assert cfg.data.val_fraction == options.val_fraction  # a val split for val/bits_per_dim
        assert cfg.model.flow.affine == ("model.flow.affine=true" in run.overrides)
    else:
        assert cfg.data.n_images == options.n_images  # CelebA's partition-1 val split
    scorer = SCORERS[run.data]
    if run.conditional:
        assert cfg.callbacks[scorer].evaluator.path == str((tmp_path / "scorer.pt").resolve())
        assert cfg.callbacks[scorer].every_n_steps == options.every_n_steps
    else:
        assert scorer not in cfg.callbacks


def test_metric_curve_reads_only_rows_with_the_metric(tmp_path: Path) -> None:
    _write_log(tmp_path)
    assert metric_curve(tmp_path, "step", VAL_BPD) == [
        {"step": 24.0, VAL_BPD: 4.75},
        {"step": 49.0, VAL_BPD: 3.5},
    ]
    assert metric_curve(tmp_path, "d_steps", "acc_") == [
        {"d_steps": 25.0, "acc_new_test": 0.25, "acc_test": 0.5},
        {"d_steps": 50.0, "acc_new_test": 0.5, "acc_test": 0.375},
    ]
    assert metric_curve(tmp_path, "step", ("val/aux", "val/loss"))[0] == {
        "step": 24.0,
        "val/aux": 0.6,
        "val/loss": 4.76,
    }
    assert metric_curve(tmp_path / "missing", "step", VAL_BPD) == []


def test_curves_count_updates_done(tmp_path: Path) -> None:
    _write_log(tmp_path)
    found = curves(tmp_path)
    # Lightning's rows are 0-based (step 24 is after 25 updates), d_steps counts updates.
    assert [row["step"] for row in found["train"]] == [10.0, 20.0, 30.0]
    assert found["val"] == [{"step": 25.0, VAL_BPD: 4.75}, {"step": 50.0, VAL_BPD: 3.5}]
    assert found["accuracy"][0] == {"step": 25.0, "acc_new_test": 0.25, "acc_test": 0.5}


def test_summary_and_plot_of_a_finished_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "cglow_iclevr_affine"
    _write_log(run_dir)
    (run_dir / "metrics.json").write_text(json.dumps({"g_steps": 52, "d_steps": 52}))
    result = summarize("cglow_iclevr_affine", Options(), run_dir, wall_s=61.23)
    assert result["steps"] == 52 and result["wall_s"] == 61.2
    assert result["n_bits"] == 5 and result["uniform_bits_per_dim"] == 5.0
    assert result[VAL_BPD] == {"first": 4.75, "best": 3.5, "final": 3.5}
    assert result["final_train_bits_per_dim"] == 4.0
    assert result["final_accuracy"] == {"acc_new_test": 0.5, "acc_test": 0.375}
    assert result["best_accuracy"] == {"acc_new_test": 0.5, "acc_test": 0.5}
    glow = summarize("glow_celeba", Options(), run_dir, wall_s=1.0)
    assert glow["n_bits"] == 8 and glow["data"] == "toy_celeba"
    plot([result, glow, {"name": "broken", "failed": 1}], tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_unknown_runs_and_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs=glow_celeba,nope"]) == 2
    assert "unknown runs ['nope']" in capsys.readouterr().err
    assert main(["minutes=soon"]) == 2
    assert "minutes='soon' is not a valid float" in capsys.readouterr().err


class TemperatureScorer:
    """Scores a sample by the temperature it was asked for; records its settings."""

    made: list[dict] = []

    def __init__(self, **settings: object) -> None:
        TemperatureScorer.made.append(settings)
        self.temperature = settings["sample_kwargs"]["temperature"]

    def score(self, model: object, datamodule: object) -> dict[str, float]:
        return {"acc_test": self.temperature}


def test_accuracy_by_temperature_scores_the_final_checkpoint_at_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omegaconf import OmegaConf

    import runtime.checkpoint
    from benchmarks.flow_quality import accuracy_by_temperature

    scorer = {
        "_target_": f"{__name__}.TemperatureScorer",
        "best_dirpath": "${hydra:runtime.output_dir}",
        "monitor": "acc_test",
        "every_n_steps": 100,
        "sample_kwargs": {},
    }
    cfg = OmegaConf.create({"callbacks": {"iclevr_accuracy": scorer}})
    loaded = []
    monkeypatch.setattr(
        runtime.checkpoint, "load_run", lambda path: loaded.append(path) or (cfg, "dm", "model")
    )
    TemperatureScorer.made.clear()
    scores = accuracy_by_temperature(tmp_path, "iclevr_accuracy", [0.0, 0.5])
    assert scores == {"0.0": {"acc_test": 0.0}, "0.5": {"acc_test": 0.5}}
    assert loaded == [tmp_path / "checkpoints" / "last.ckpt"]
    assert all(
        made["best_dirpath"] is None and made["monitor"] is None and made["every_n_steps"] is None
        for made in TemperatureScorer.made
    )
