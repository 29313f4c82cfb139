"""The offline comparison report: run dirs read, table rows and columns, best values, figures,
the command's exit codes, and a real sweep of train.py end to end."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from callbacks import report
from runtime import resolvers
from tests.run_helpers import REPO, SMALL, compose_train

SWEEP_OVERRIDES = ["trainer.max_epochs=1", "logger=csv", "paths.data_dir=/data"]
HEADER = [
    "job",
    "run",
    "status",
    "wall_time_s",
    "d_steps",
    "face_detect_rate",
    "g_steps",
    "global_step",
    "train/d_loss",
    "train/g_loss",
    "best:face_detect_rate",
    "best:train/d_loss",
    "best:train/g_loss",
    "note",
]


def _write_csv(path: Path, rows: list[dict[str, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = sorted({k for row in rows for k in row})
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


def _png(path: Path, size: tuple[int, int], color: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def fake_run(
    path: Path,
    model: str,
    overrides: list[str] = (),
    metrics: dict[str, float] | None = None,
    rows: list[dict[str, float]] | None = None,
    samples: dict[int, tuple[tuple[int, int], str]] | None = None,
    failed: dict[str, str] | None = None,
) -> Path:
    """A run dir as train.py leaves it: ``.hydra`` overrides and choices, then optionally
    metrics.json, ``csv/version_0/metrics.csv``, ``samples/step_N.png`` and failed.json."""
    hydra_dir = path / ".hydra"
    hydra_dir.mkdir(parents=True)
    task = [f"model={model}", "data=toy_anime", *SWEEP_OVERRIDES, *overrides]
    (hydra_dir / "overrides.yaml").write_text(yaml.safe_dump(task))
    choices = {"experiment": None, "model": model, "data": "toy_anime", "logger": "csv"}
    (hydra_dir / "hydra.yaml").write_text(
        yaml.safe_dump({"hydra": {"runtime": {"choices": choices}}})
    )
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics))
    if rows is not None:
        _write_csv(path / "csv" / "version_0" / "metrics.csv", rows)
    for step, (size, color) in (samples or {}).items():
        _png(path / "samples" / f"step_{step:06d}.png", size, color)
    if failed is not None:
        (path / "failed.json").write_text(json.dumps(failed))
    return path


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A multirun dir of three jobs: a complete DCGAN run, an LSGAN run with empty metrics and no
    CSV log, and a WGAN job that failed after logging a little."""
    root = tmp_path / "multirun"
    fake_run(
        root / "0",
        "dcgan",
        metrics={
            "d_steps": 20,
            "g_steps": 20,
            "global_step": 40,
            "train/d_loss": 0.9,
            "train/g_loss": 0.9,
            "face_detect_rate": 0.25,
            "wall_time_s": 75.5,
        },
        rows=[
            {"step": 19, "train/d_loss": 1.2, "train/g_loss": 0.7, "train/d_steps": 10},
            {"step": 19, "face_detect_rate": 0.5, "d_steps": 10},
            {"step": 39, "train/d_loss": 0.8, "train/g_loss": 0.9, "train/d_steps": 20},
            {"step": 40, "face_detect_rate": 0.25},  # the end-of-training score: no D step
        ],
        samples={10: ((40, 20), "red"), 20: ((40, 20), "lime")},
    )
    fake_run(
        root / "1",
        "lsgan",
        ["model.n_critic=2", "seed=3"],
        metrics={},
        samples={5: ((30, 30), "blue")},
    )
    fake_run(
        root / "2",
        "wgan",
        rows=[{"step": 9, "train/d_loss": -0.5, "train/d_steps": 5}],
        failed={"type": "DataError", "error": "no faces in /data/anime"},
    )
    (root / "multirun.yaml").write_text(
        yaml.safe_dump({"hydra": {"overrides": {"task": ["model=dcgan,lsgan,wgan"]}}})
    )
    return root


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.mark.parametrize(
    ("key", "mode"),
    [
        ("acc_both_pairs", "max"),
        ("stargan_target_acc_Male", "max"),
        ("face_detect_rate", "max"),
        ("face_grid_pass", "max"),
        ("detect_rate", "max"),
        ("train/d_loss", "min"),
        ("val/loss", "min"),
        ("val/bits_per_dim", "min"),
        ("fid", "min"),
        ("kid", "min"),
        ("fcd", "min"),
        ("kcd", "min"),
        ("stargan_rec_l1", "min"),
        ("kid_std", None),
        ("train/d_real", None),
        ("train/lr", None),
        ("d_steps", None),
    ],
)
def test_best_mode(key: str, mode: str | None) -> None:
    assert report.best_mode(key) == mode


def test_run_name_is_the_wandb_name(tmp_path: Path) -> None:
    overrides = [
        "model=wgan",
        "data=toy_anime",
        "model.n_critic=2",
        "logger=csv",
        f"paths.data_dir={tmp_path}",
        "seed=1",
        "+trainer.fast_dev_run=1",
    ]
    cfg = compose_train(tmp_path, overrides)
    expected = resolvers.run_name()
    assert expected == "wgan-toy_anime,model.n_critic=2,+trainer.fast_dev_run=1"
    assert report.run_name(cfg.hydra.overrides.task, cfg.hydra.runtime.choices) == expected


def test_table_has_a_row_per_run_with_final_and_best_values(sweep: Path) -> None:
    written = report.report([sweep], quiet=True)
    assert sorted(written) == ["curves.png", "runs.csv", "runs.md", "samples.png"]
    assert all(p.parent == sweep / "report" for p in written.values())
    header, rows = _read_table(sweep / "report" / "runs.csv")
    assert header == HEADER
    assert [r["job"] for r in rows] == ["0", "1", "2"]
    assert [r["status"] for r in rows] == ["ok", "ok", "failed"]
    dcgan, lsgan, wgan = rows
    assert dcgan["run"] == "dcgan-toy_anime,trainer.max_epochs=1"
    assert lsgan["run"] == "lsgan-toy_anime,trainer.max_epochs=1,model.n_critic=2"
    assert (dcgan["wall_time_s"], dcgan["d_steps"], dcgan["train/d_loss"]) == ("75.5", "20", "0.9")
    # Best: the lowest loss and highest detection rate among the logged and the final values.
    assert dcgan["best:train/d_loss"] == "0.8"
    assert dcgan["best:train/g_loss"] == "0.7"
    assert dcgan["best:face_detect_rate"] == "0.5"
    assert dcgan["note"] == ""
    # Empty metrics: a row with empty cells; the note says what is missing.
    assert all(lsgan[k] == "" for k in HEADER[3:-1])
    assert lsgan["note"] == "no CSV log"
    # The failed job: its error, and the best of what it logged before failing.
    assert wgan["note"] == "DataError: no faces in /data/anime; no samples"
    assert wgan["best:train/d_loss"] == "-0.5"
    assert wgan["d_steps"] == ""


def test_markdown_names_runs_by_what_differs_and_links_the_figures(sweep: Path) -> None:
    report.report([sweep], quiet=True)
    text = (sweep / "report" / "runs.md").read_text()
    assert "3 runs, 2 ok, 1 failed." in text
    assert "Sweep: `python train.py -m model=dcgan,lsgan,wgan`" in text
    assert "Shared by every run (left out of the run column): `trainer.max_epochs=1`" in text
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| job | run | status | wall time | d_steps |")
    assert lines[1].startswith("| 0 | `dcgan-toy_anime` | ok | 1m 16s | 20 |")
    assert "| 0.5 @10 | 0.8 @20 | 0.7 @10 |" in lines[1]
    assert lines[2].startswith("| 1 | `lsgan-toy_anime,model.n_critic=2` | ok |")
    assert lines[3].startswith("| 2 | `wgan-toy_anime` | **failed** |")
    assert "DataError: no faces in /data/anime" in lines[3]
    assert "![curves](curves.png)" in text
    assert "![samples](samples.png)" in text


def test_log_rows_are_placed_at_d_steps(sweep: Path) -> None:
    run = report.load_run(sweep / "0", "0")
    assert report.row_steps(run, d_steps=True) == [10, 10, 20, 20]
    assert report.row_steps(run, d_steps=False) == [19, 19, 39, 40]
    assert report.curves(run, d_steps=True)["face_detect_rate"] == [(10, 0.5), (20, 0.25)]


def test_figures_have_a_panel_per_metric_and_a_tile_per_run_with_samples(sweep: Path) -> None:
    report.report([sweep], quiet=True)
    curves = Image.open(sweep / "report" / "curves.png")
    # Three metrics (face_detect_rate, train/d_loss, train/g_loss) side by side, 4.2 in at 100 dpi.
    assert curves.size[0] == 1260
    assert 300 < curves.size[1] < 600
    sheet = Image.open(sweep / "report" / "samples.png").convert("RGB")
    # Both grids at one height (256): 40x20 -> 512 wide, 30x30 -> 256; the failed job has none.
    gap = report.GAP
    assert sheet.size[0] == gap + 512 + gap + 256 + gap
    assert sheet.size[1] > gap + 256 + 10
    assert sheet.getpixel((gap + 256, gap + 128)) == (0, 255, 0)  # the latest grid of job 0
    assert sheet.getpixel((2 * gap + 512 + 128, gap + 128)) == (0, 0, 255)
    assert sheet.getpixel((gap + 256, gap + 256 + 8)) != (0, 255, 0)  # the label strip


def test_runs_without_logs_samples_or_readable_metrics_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "multirun"
    run = fake_run(root / "0", "dcgan")
    (run / "metrics.json").write_text("{not json")
    _write_csv(run / "csv" / "version_0" / "metrics.csv", [{"step": 1, "train/d_loss": "nan?"}])
    (run / "samples").mkdir()
    (run / "samples" / "step_000001.png").write_text("not a png")
    written = report.report([root], out=tmp_path / "out", quiet=True)
    assert sorted(written) == ["runs.csv", "runs.md"]  # nothing to plot, no readable grid
    _, rows = _read_table(tmp_path / "out" / "runs.csv")
    assert rows[0]["status"] == "failed"
    assert rows[0]["note"].startswith("unreadable metrics.json")
    assert "![curves]" not in (tmp_path / "out" / "runs.md").read_text()


def test_command_line(sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert report.main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "3 runs" in out and "failed" in out and "runs.md" in out
    # Single run dirs, listed: jobs named by their dirs, the report where asked.
    assert report.main([str(sweep / "2"), str(sweep / "0"), f"out={tmp_path / 'two'}"]) == 0
    _, rows = _read_table(tmp_path / "two" / "runs.csv")
    assert [r["job"] for r in rows] == ["2", "0"]

    empty = tmp_path / "empty"
    empty.mkdir()
    assert report.main([str(empty)]) == 2
    assert f"no runs in {empty}" in capsys.readouterr().err
    assert report.main([str(tmp_path / "missing")]) == 2
    assert "missing is not a directory" in capsys.readouterr().err
    assert report.main([str(sweep), "outdir=x"]) == 2
    assert "unknown option" in capsys.readouterr().err
    assert report.main([]) == 2


@pytest.mark.slow
def test_real_sweep_then_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 2-job multirun of train.py plus a job that fails before training: the failure is logged
    and written to its dir, the others keep their results, and the report lists all three."""
    from datamodules.toy_anime import ensure_toy_anime

    data = tmp_path / "data"
    ensure_toy_anime(data / "toy_anime", n_images=48, seed=0)
    sweep_dir = tmp_path / "multirun"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    trained = subprocess.run(
        [
            sys.executable,
            str(REPO / "train.py"),
            "-m",
            "model=dcgan,lsgan,cgan_mlds",  # cgan_mlds on unconditional data fails at once
            "data=toy_anime",
            "trainer.max_epochs=1",
            "++trainer.limit_train_batches=2",
            "trainer.log_every_n_steps=1",
            "logger=csv",
            f"hydra.sweep.dir={sweep_dir}",
            f"paths.data_dir={data}",
            "data.n_images=48",
            *SMALL,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]  # a failed job does not stop a sweep
    failed = json.loads((sweep_dir / "2" / "failed.json").read_text())
    assert failed["job"] == 2 and "model=cgan_mlds" in failed["overrides"]
    assert "has no conditions" in failed["error"] and "Traceback" in failed["traceback"]
    assert not (sweep_dir / "2" / "metrics.json").exists()
    assert "has no conditions" in (sweep_dir / "2" / "train.log").read_text()
    log = trained.stdout + trained.stderr
    assert re.search(r"job 2 \(.*model=cgan_mlds.*\) failed: DataError: .*has no conditions", log)
    assert report.main([str(sweep_dir)]) == 0
    out = sweep_dir / "report"
    header, rows = _read_table(out / "runs.csv")
    assert [(r["job"], r["status"]) for r in rows] == [("0", "ok"), ("1", "ok"), ("2", "failed")]
    assert rows[0]["run"].startswith("dcgan-toy_anime,trainer.max_epochs=1")
    assert [r["d_steps"] for r in rows] == ["2", "2", ""]
    assert {"train/d_loss", "best:train/d_loss", "best:face_detect_rate"} <= set(header)
    assert float(rows[0]["wall_time_s"]) > 0
    assert {"train/d_loss", "train/g_loss", "face_detect_rate"} <= set(
        report.curve_keys(report.load_runs([sweep_dir]))
    )
    assert Image.open(out / "curves.png").size[0] >= 1000
    assert Image.open(out / "samples.png").size[1] >= 256
    printed = capsys.readouterr().out
    assert "ok" in printed and "failed" in printed
