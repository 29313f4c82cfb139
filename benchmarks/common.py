"""Pieces shared by the benchmarks: run a logged subprocess, read a run's CSV curves, plot panels.

A benchmarked run is ``python train.py ... logger=csv hydra.run.dir=RUN``; Lightning's CSV logger
writes ``RUN/csv/version_N/metrics.csv``, one row per ``log_metrics`` call with the union of all
columns (empty cells where a row has no value). :func:`metric_curve` picks the rows that hold the
wanted metrics, keyed by the column that counts steps.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


def max_time(minutes: float) -> str:
    """Lightning's ``max_time`` string ``DD:HH:MM:SS`` for a budget in minutes."""
    seconds = round(minutes * 60)
    days, hours = seconds // 86400, seconds // 3600 % 24
    return f"{days:02d}:{hours:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def machine() -> dict[str, object]:
    """Where a benchmark ran: platform, CPU, torch threads and version, GPU."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def metric_curve(run_dir: Path, x: str, prefixes: str | tuple[str, ...]) -> list[dict[str, float]]:
    """The rows of ``run_dir/csv/**/metrics.csv`` with a value in column ``x`` and in at least one
    column whose name starts with one of ``prefixes``; each as ``{x: ..., column: value, ...}``
    (those columns only, empty cells left out), in file order.

    ``metric_curve(run, "d_steps", "acc_")`` is the condition-accuracy curve of a run;
    ``metric_curve(run, "step", "val/")`` its validation losses against Lightning's step.
    """
    rows: list[dict[str, float]] = []
    for path in sorted(run_dir.glob("csv/**/metrics.csv")):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                values = {k: float(v) for k, v in row.items() if k.startswith(prefixes) and v}
                if values and row.get(x):
                    rows.append({x: float(row[x]), **values})
    return rows


def run_logged(
    command: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
) -> tuple[int, float]:
    """Run ``command`` in the repository root with stdout and stderr into ``log_path``; returns
    its exit status and wall time in seconds. ``env`` adds to (overrides) the environment."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("w") as output:
        status = subprocess.run(
            list(command),
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    return status.returncode, time.perf_counter() - started


@dataclasses.dataclass
class Line:
    """One line of a panel: ``points`` are ``(x, y)`` pairs."""

    label: str
    points: list[tuple[float, float]]
    style: str = ".-"
    alpha: float = 1.0


@dataclasses.dataclass
class Panel:
    """One subplot: its lines, horizontal reference lines ``{label: y}`` and axes."""

    title: str
    lines: list[Line]
    xlabel: str = "step"
    ylabel: str = ""
    ylim: tuple[float, float] | None = None
    hlines: dict[str, float] = dataclasses.field(default_factory=dict)


def plot_panels(panels: Sequence[Panel], path: Path) -> None:
    """Draw the panels side by side into ``path`` (PNG); panels without points are left out."""
    panels = [p for p in panels if any(line.points for line in p.lines)]
    if not panels:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.8), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        # A line's colour is its place in the panel, so one run keeps its colour in every panel
        # even where another run has no points.
        for index, line in enumerate(panel.lines):
            if line.points:
                xs, ys = zip(*line.points, strict=True)
                style = dict(
                    label=line.label, alpha=line.alpha, markersize=4, color=f"C{index % 10}"
                )
                ax.plot(xs, ys, line.style, **style)
        for label, y in panel.hlines.items():
            ax.axhline(y, color="gray", linestyle="--", linewidth=1)
            ax.annotate(
                label,
                (0.01, y),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                va="bottom",
                color="gray",
            )
        ax.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel)
        if panel.ylim is not None:
            ax.set_ylim(*panel.ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
