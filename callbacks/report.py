"""Compare a sweep's runs offline: ``python -m callbacks.report MULTIRUN_DIR [out=DIR]``.

Reads every job dir of a Hydra multirun (a folder holding ``.hydra/overrides.yaml`` or
``metrics.json``; several run dirs, or several multirun dirs, may be given instead) and writes into
``out`` (default ``MULTIRUN_DIR/report/``; with several inputs, ``report/`` in their common
parent):

- ``runs.csv`` and ``runs.md``: a row per run — ``job`` (its dir), ``run`` (the name W&B gives it:
  model-data choices, then the overrides that say what, not where; see :func:`run_name`),
  ``status`` (``ok``, or ``failed`` when there is no readable ``metrics.json`` or there is a
  ``failed.json``), ``wall_time_s``, every other key of ``metrics.json`` (sorted), then
  ``best:KEY`` for every metric with a direction (:func:`best_mode`): the best of its logged
  values and its final one, and ``note`` (a failure's message; missing logs or samples).
  ``runs.md`` names a run by the parts of its name that not all runs share (listed above the
  table), and gives the step of each best value.
- ``curves.png``: a panel per metric of the CSV logs (``csv/version_*/metrics.csv``), a line per
  run, against D steps when the logs count them (``d_steps`` / ``train/d_steps``; rows without a
  count are placed by Lightning's step between rows that have one), else Lightning's step.
- ``samples.png``: each run's latest ``samples/step_XXXXXX.png`` side by side at one height, its
  run labelled underneath.

A short table goes to stdout. Runs without logs, samples or metrics are reported, not fatal; no
run at all is an error (exit status 2). Columns and rows have a fixed order: jobs by number, then
by name; metric columns sorted.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from runtime.metric_direction import best_mode
from runtime.resolvers import _NOT_IN_NAME

# CSV columns that count steps: the x axis, never a curve or a "best" column.
STEP_COLUMNS = frozenset({"step", "epoch", "d_steps", "g_steps", "train/d_steps", "train/g_steps"})
D_STEP_COLUMNS = ("d_steps", "train/d_steps")
SAMPLE_HEIGHT = (256, 768)  # the common height of sample grids: the tallest, within these bounds
SAMPLES_PER_ROW = 4
GAP = 12  # pixels around the tiles of samples.png
MISSING = ""


def run_name_parts(overrides: Sequence[str], choices: Mapping[str, object]) -> list[str]:
    """The parts of a run's name, as :func:`runtime.resolvers.run_name` makes it for W&B: the
    experiment-model-data choices joined by ``-``, then each override that is not where-ish
    (``hydra.``, ``paths.``, ``logger``, ``seed``, ``ckpt_path``) nor one of those choices."""
    head = "-".join(str(choices[k]) for k in ("experiment", "model", "data") if choices.get(k))
    rest = [
        o
        for o in overrides
        if not o.lstrip("+~").startswith(_NOT_IN_NAME)
        and not o.startswith(("model=", "data=", "experiment="))
    ]
    return [head, *rest] if head else rest


def run_name(overrides: Sequence[str], choices: Mapping[str, object]) -> str:
    """``experiment-model-data,k=v,k=v``: the run's W&B name (see :func:`run_name_parts`)."""
    return ",".join(run_name_parts(overrides, choices))


@dataclasses.dataclass
class Run:
    """One run dir, read: ``rows`` are its CSV log rows (column -> value, empty cells left out)."""

    path: Path
    job: str
    parts: list[str]
    status: str
    error: str | None = None
    metrics: dict[str, object] = dataclasses.field(default_factory=dict)
    rows: list[dict[str, float]] = dataclasses.field(default_factory=list)
    sample: Path | None = None

    @property
    def name(self) -> str:
        return ",".join(self.parts) or self.job

    @property
    def notes(self) -> list[str]:
        notes = [self.error] if self.error else []
        if not self.rows:
            notes.append("no CSV log")
        if self.sample is None:
            notes.append("no samples")
        return notes


# --------------------------------------------------------------------------- reading


def is_run_dir(path: Path) -> bool:
    return (path / ".hydra" / "overrides.yaml").is_file() or (path / "metrics.json").is_file()


def _job_order(path: Path) -> tuple[int, int, str]:
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


def find_run_dirs(inputs: Iterable[Path]) -> list[Path]:
    """The run dirs of ``inputs``: each input that is a run dir, else its child run dirs (jobs
    in number order, then by name). Duplicates are dropped; input order is kept."""
    found: list[Path] = []
    for path in inputs:
        if is_run_dir(path):
            candidates = [path]
        else:
            children = [c for c in path.iterdir() if c.is_dir() and is_run_dir(c)]
            candidates = sorted(children, key=_job_order)
        found += [c for c in candidates if c.resolve() not in {f.resolve() for f in found}]
    return found


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _choices(run_dir: Path, overrides: Sequence[str]) -> dict[str, object]:
    """The config-group choices from ``.hydra/hydra.yaml``; without it, from the overrides."""
    hydra_cfg = _read_yaml(run_dir / ".hydra" / "hydra.yaml")
    try:
        choices = hydra_cfg["hydra"]["runtime"]["choices"]  # type: ignore[index]
        if isinstance(choices, dict):
            return choices
    except (KeyError, TypeError):
        pass
    return dict(
        o.split("=", 1) for o in overrides if o.startswith(("experiment=", "model=", "data="))
    )


def failure_message(path: Path) -> str:
    """The error in a job's ``failed.json``: its ``error``/``message``/``exception`` text
    (prefixed by ``type`` when given), else the file's content."""
    text = path.read_text(errors="replace").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text or "failed.json (empty)"
    if not isinstance(data, dict):
        return str(data)
    message = next(
        (str(data[k]) for k in ("error", "message", "exception", "msg") if data.get(k)), None
    )
    kind = data.get("type") or data.get("error_type") or data.get("exception_type")
    if message and kind and not message.startswith(str(kind)):
        message = f"{kind}: {message}"
    return message or json.dumps(data, sort_keys=True)


def read_csv_rows(run_dir: Path) -> list[dict[str, float]]:
    """Rows of ``run_dir/csv/version_*/metrics.csv`` (versions in number order), each as
    column -> float with empty or non-numeric cells left out."""

    def version(path: Path) -> tuple[int, str]:
        number = re.fullmatch(r"version_(\d+)", path.parent.name)
        return (int(number.group(1)) if number else sys.maxsize, str(path))

    rows: list[dict[str, float]] = []
    for path in sorted(run_dir.glob("csv/**/metrics.csv"), key=version):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                values = {}
                for key, value in row.items():
                    try:
                        values[key] = float(value)
                    except (TypeError, ValueError):
                        continue
                if values:
                    rows.append(values)
    return rows


def latest_sample(run_dir: Path) -> Path | None:
    """The ``samples/step_XXXXXX.png`` with the largest step."""
    steps = {}
    for path in (run_dir / "samples").glob("step_*.png"):
        number = re.fullmatch(r"step_(\d+)\.png", path.name)
        if number:
            steps[int(number.group(1))] = path
    return steps[max(steps)] if steps else None


def load_run(run_dir: Path, job: str) -> Run:
    """Read one run dir; never raises for a missing or unreadable piece."""
    overrides = _read_yaml(run_dir / ".hydra" / "overrides.yaml")
    overrides = [str(o) for o in overrides] if isinstance(overrides, list) else []
    run = Run(
        path=run_dir,
        job=job,
        parts=run_name_parts(overrides, _choices(run_dir, overrides)),
        status="ok",
        rows=read_csv_rows(run_dir),
        sample=latest_sample(run_dir),
    )
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text())
            if not isinstance(metrics, dict):
                raise ValueError("not a JSON object")
            run.metrics = metrics
        except ValueError as err:
            run.status, run.error = "failed", f"unreadable metrics.json ({err})"
    else:
        run.status, run.error = "failed", "no metrics.json (the job failed or is still running)"
    if (run_dir / "failed.json").is_file():
        run.status, run.error = "failed", failure_message(run_dir / "failed.json")
    return run


def load_runs(inputs: Sequence[Path]) -> list[Run]:
    """Every run of ``inputs`` (see :func:`find_run_dirs`), its ``job`` the dir's path relative
    to the folder that holds them all."""
    dirs = find_run_dirs(inputs)
    if not dirs:
        return []
    base = Path(os.path.commonpath([d.resolve().parent for d in dirs]))
    return [load_run(d, d.resolve().relative_to(base).as_posix()) for d in dirs]


# --------------------------------------------------------------------------- steps and bests


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def has_d_steps(run: Run) -> bool:
    return any(key in row for row in run.rows for key in D_STEP_COLUMNS)


def by_d_steps(runs: Sequence[Run]) -> bool:
    """Whether the report counts D steps: every run with a CSV log logs them."""
    return all(has_d_steps(r) for r in runs if r.rows)


def row_steps(run: Run, d_steps: bool) -> list[float | None]:
    """The x of each CSV row: Lightning's ``step``, or with ``d_steps`` the row's D-step count —
    its own ``d_steps`` / ``train/d_steps``, else interpolated from its ``step`` between the rows
    (and the final ``global_step``/``d_steps`` of metrics.json) that have both."""
    if not d_steps or not has_d_steps(run):
        return [row.get("step") for row in run.rows]
    anchors: dict[float, float] = {}
    for row in run.rows:
        d = next((row[k] for k in D_STEP_COLUMNS if k in row), None)
        if d is not None and "step" in row:
            anchors.setdefault(row["step"], d)
    final_step, final_d = (_number(run.metrics.get(k)) for k in ("global_step", "d_steps"))
    if final_step is not None and final_d is not None:
        anchors.setdefault(final_step, final_d)
    known = sorted(anchors.items())
    xs: list[float | None] = []
    for row in run.rows:
        d = next((row[k] for k in D_STEP_COLUMNS if k in row), None)
        if d is None and "step" in row and known:
            d = _interpolate(row["step"], known)
        xs.append(d)
    return xs


def _interpolate(x: float, points: Sequence[tuple[float, float]]) -> float:
    """Piecewise-linear through sorted ``points``, constant beyond the ends."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def curve_keys(runs: Sequence[Run]) -> list[str]:
    """The logged metrics of all runs' CSV logs, sorted."""
    return sorted({k for run in runs for row in run.rows for k in row} - STEP_COLUMNS)


def curves(run: Run, d_steps: bool) -> dict[str, list[tuple[float, float]]]:
    """Metric -> ``(x, value)`` points of a run's CSV log, in log order (NaN values left out)."""
    points: dict[str, list[tuple[float, float]]] = {}
    for x, row in zip(row_steps(run, d_steps), run.rows, strict=True):
        if x is None:
            continue
        for key, value in row.items():
            if key not in STEP_COLUMNS and not math.isnan(value):
                points.setdefault(key, []).append((x, value))
    return points


def best_values(run: Run, d_steps: bool = True) -> dict[str, tuple[float, float | None]]:
    """Metric -> ``(best value, its step)`` over the CSV log and the final metrics.json value,
    for every metric with a :func:`best_mode`; the final value's step is the run's last D step
    (or global step)."""
    candidates = curves(run, d_steps)
    counted = d_steps and (has_d_steps(run) or not run.rows)  # the unit row_steps used
    final_x = _number(run.metrics.get("d_steps" if counted else "global_step"))
    for key, value in run.metrics.items():
        number = _number(value)
        if number is not None and not math.isnan(number) and key not in STEP_COLUMNS:
            candidates.setdefault(key, []).append((final_x, number))  # type: ignore[arg-type]
    best: dict[str, tuple[float, float | None]] = {}
    for key, points in candidates.items():
        mode = best_mode(key)
        if mode is None or not points:
            continue
        pick = max if mode == "max" else min
        x, value = pick(points, key=lambda p: p[1])  # first of equal values: the earliest
        best[key] = (value, x)
    return best


# --------------------------------------------------------------------------- the table


def fmt(value: object, digits: int = 4) -> str:
    """A cell: integers as integers, other numbers to ``digits`` significant digits."""
    number = _number(value)
    if number is None:
        return MISSING if value is None else str(value)
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.{digits}g}"


def _human_time(seconds: object) -> str:
    number = _number(seconds)
    if number is None:
        return MISSING
    if number < 60:
        return f"{number:.1f} s"
    minutes, secs = divmod(round(number), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def columns(runs: Sequence[Run]) -> tuple[list[str], list[str]]:
    """``(final metric keys, best keys)``: sorted, the same for every run (wall time apart)."""
    final = sorted({k for run in runs for k in run.metrics} - {"wall_time_s"})
    logged = {k for run in runs for k in run.metrics} | set(curve_keys(runs))
    return final, sorted(k for k in logged if best_mode(k) and k not in STEP_COLUMNS)


def table(runs: Sequence[Run], digits: int = 6) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of ``runs.csv``: job, run, status, wall_time_s, the final metrics,
    ``best:KEY`` columns and a note, every cell a string (empty when the run lacks it)."""
    final, best_keys = columns(runs)
    d_steps = by_d_steps(runs)
    header = ["job", "run", "status", "wall_time_s", *final, *(f"best:{k}" for k in best_keys)]
    rows = []
    for run in runs:
        best = best_values(run, d_steps)
        rows.append(
            [
                run.job,
                run.name,
                run.status,
                fmt(run.metrics.get("wall_time_s"), digits),
                *(fmt(run.metrics.get(k), digits) for k in final),
                *(fmt(best[k][0], digits) if k in best else MISSING for k in best_keys),
                "; ".join(run.notes),
            ]
        )
    return [*header, "note"], rows


def write_csv(runs: Sequence[Run], path: Path) -> Path:
    header, rows = table(runs)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _shorten(text: str, limit: int | None = None) -> str:
    """One line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _md_cell(text: str, limit: int | None = None) -> str:
    return _shorten(text, limit).replace("|", "\\|")


def common_parts(runs: Sequence[Run]) -> list[str]:
    """The name parts every run shares (in the first run's order); none for a single run."""
    if len(runs) < 2:
        return []
    return [p for p in runs[0].parts if all(p in r.parts for r in runs[1:])]


def labels(runs: Sequence[Run]) -> list[str]:
    """Short run labels for figures: ``job: the name parts not shared by all runs``."""
    common = set(common_parts(runs))
    out = []
    for run in runs:
        own = [p for p in run.parts if p not in common]
        out.append(f"{run.job}: {','.join(own) or run.name}")
    return out


def write_markdown(
    runs: Sequence[Run], path: Path, sources: Sequence[Path], figures: Sequence[Path]
) -> Path:
    final, best_keys = columns(runs)
    d_steps = by_d_steps(runs)
    unit = "D step" if d_steps else "step"
    header = ["job", "run", "status", "wall time", *final, *(f"best {k}" for k in best_keys)]
    lines = [
        f"# Runs of {', '.join(f'`{s}`' for s in sources)}",
        "",
        f"{len(runs)} runs, {sum(r.status == 'ok' for r in runs)} ok, "
        f"{sum(r.status != 'ok' for r in runs)} failed.",
    ]
    sweep = _sweep_overrides(sources)
    if sweep:
        lines += ["", f"Sweep: `python train.py -m {' '.join(sweep)}`"]
    common = common_parts(runs)
    if common:
        lines += ["", f"Shared by every run (left out of the run column): `{','.join(common)}`"]
    lines += [
        "",
        f"Final values from each run's `metrics.json`; **best** is the best logged or final "
        f"value (max for accuracies and face detection, min for losses, bits/dim, FID/KID/"
        f"FCD/KCD) and `@N` the {unit} it was reached at.",
        "",
        "| " + " | ".join(_md_cell(h) for h in [*header, "note"]) + " |",
        "|" + "|".join("---" if i < 3 else "---:" for i in range(len(header))) + "|---|",
    ]
    for run, label in zip(runs, labels(runs), strict=True):
        best = best_values(run, d_steps)
        cells = [
            run.job,
            f"`{label.split(': ', 1)[1]}`",
            run.status if run.status == "ok" else f"**{run.status}**",
            _human_time(run.metrics.get("wall_time_s")),
            *(fmt(run.metrics.get(k)) for k in final),
            *(_best_cell(best.get(k)) for k in best_keys),
            "; ".join(run.notes),
        ]
        limits = [None] * (len(cells) - 1) + [200]
        lines.append(
            "| " + " | ".join(_md_cell(c, n) for c, n in zip(cells, limits, strict=True)) + " |"
        )
    for figure in figures:
        lines += ["", f"![{figure.stem}]({figure.name})"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _best_cell(best: tuple[float, float | None] | None) -> str:
    if best is None:
        return MISSING
    value, x = best
    return fmt(value) if x is None else f"{fmt(value)} @{fmt(x)}"


def _sweep_overrides(sources: Sequence[Path]) -> list[str]:
    """The task overrides of a single multirun dir's ``multirun.yaml`` (the sweep's command)."""
    if len(sources) != 1:
        return []
    cfg = _read_yaml(sources[0] / "multirun.yaml")
    try:
        task = cfg["hydra"]["overrides"]["task"]  # type: ignore[index]
    except (KeyError, TypeError):
        return []
    return [str(o) for o in task] if isinstance(task, list) else []


# --------------------------------------------------------------------------- figures


def plot_curves(runs: Sequence[Run], path: Path, ncols: int = 4) -> Path | None:
    """``curves.png``: a panel per CSV metric, a line per run, one legend; None without logs."""
    keys = curve_keys(runs)
    if not keys:
        return None
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    d_steps = by_d_steps(runs)
    names = labels(runs)
    palette = colormaps["tab10" if len(runs) <= 10 else "tab20"]
    ncols = min(ncols, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    legend_rows = math.ceil(len(runs) / min(3, len(runs)))
    fig = Figure(figsize=(4.2 * ncols, 3.0 * nrows + 0.3 * legend_rows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    panel = {key: i for i, key in enumerate(keys)}
    handles: dict[str, object] = {}
    for i, run in enumerate(runs):
        color = palette(i % palette.N)
        style = ("-", "--", ":", "-.")[(i // palette.N) % 4]
        for key, points in curves(run, d_steps).items():
            xs, ys = zip(*sorted(points), strict=True)
            (line,) = axes[panel[key]].plot(
                xs,
                ys,
                linestyle=style,
                marker="o" if len(points) <= 20 else None,
                markersize=3,
                color=color,
                linewidth=1.2,
            )
            handles.setdefault(names[i], line)
    for ax, key in zip(axes, keys, strict=False):
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("D step" if d_steps else "step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    common = common_parts(runs)
    if common:
        fig.suptitle("\n".join(wrap_text(",".join(common), 160, len)), fontsize=9)
    fig.legend(
        list(handles.values()),
        ["\n".join(wrap_text(n, 70, len)) for n in handles],
        loc="outside lower center",
        ncol=min(3, len(handles)),
        fontsize=8,
    )
    fig.savefig(path, dpi=100)
    return path


def _font(size: int = 14):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


def wrap_text(text: str, width: float, measure) -> list[str]:
    """Greedy wrap of ``text`` into lines no wider than ``width`` by ``measure(str) -> px``,
    breaking after commas and spaces, and inside a word only when it alone is too wide."""
    lines: list[str] = []
    line = ""
    for token in re.findall(r"[^,\s]*[,\s]?", text):
        if not token:
            continue
        if line and measure(line + token) > width:
            lines.append(line.rstrip())
            line = ""
        while len(token) > 1 and measure(token) > width:
            cut = len(token) - 1
            while cut > 1 and measure(token[:cut]) > width:
                cut -= 1
            lines.append(token[:cut])
            token = token[cut:]
        line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def sample_sheet(runs: Sequence[Run], path: Path, per_row: int = SAMPLES_PER_ROW) -> Path | None:
    """``samples.png``: each run's latest sample grid, all at one height, labelled underneath;
    runs without samples left out. None when no run has any."""
    from PIL import Image, ImageDraw

    tiles: list[tuple[Image.Image, str]] = []
    for run, label in zip(runs, labels(runs), strict=True):
        if run.sample is None:
            continue
        try:
            image = Image.open(run.sample).convert("RGB")
        except OSError:
            continue
        step = run.sample.stem.removeprefix("step_").lstrip("0") or "0"
        status = "" if run.status == "ok" else f" ({run.status})"
        tiles.append((image, f"{label} · step {step}{status}"))
    if not tiles:
        return None
    low, high = SAMPLE_HEIGHT
    height = min(max(low, max(im.height for im, _ in tiles)), high)
    font = _font()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength
    ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (11, 3)
    line_height = ascent + descent + 2
    gap = GAP
    cells = []
    for image, label in tiles:
        width = max(1, round(image.width * height / image.height))
        resample = Image.Resampling.NEAREST if height >= image.height else Image.Resampling.LANCZOS
        lines = wrap_text(label, width, lambda s: measure(s, font=font))
        cells.append((image.resize((width, height), resample), lines))
    grid_rows = [cells[i : i + per_row] for i in range(0, len(cells), per_row)]
    label_heights = [max(len(c[1]) for c in row) * line_height + 6 for row in grid_rows]
    sheet_width = max(sum(c[0].width for c in row) + gap * (len(row) + 1) for row in grid_rows)
    sheet_height = sum(height + h + gap for h in label_heights) + gap
    sheet = Image.new("RGB", (sheet_width, sheet_height), "white")
    draw = ImageDraw.Draw(sheet)
    y = gap
    for row, label_height in zip(grid_rows, label_heights, strict=True):
        x = gap
        for image, lines in row:
            sheet.paste(image, (x, y))
            for j, text in enumerate(lines):
                draw.text((x, y + height + 4 + j * line_height), text, fill="black", font=font)
            x += image.width + gap
        y += height + label_height + gap
    sheet.save(path)
    return path


# --------------------------------------------------------------------------- the command


def print_summary(runs: Sequence[Run], written: Sequence[Path], n_metrics: int = 4) -> None:
    """A rich table: job, run label, status, wall time, a few headline metrics, note."""
    from rich.console import Console
    from rich.table import Table

    keys = sorted({k for r in runs for k in r.metrics} - {"wall_time_s"})
    headline = [k for k in keys if best_mode(k) and not k.startswith("train/")]
    headline = (headline or [k for k in keys if best_mode(k)])[:n_metrics]
    table_ = Table(title=f"{len(runs)} runs")
    for column in ["job", "run", "status", "wall time", *headline, "note"]:
        table_.add_column(column, justify="right" if column in headline else "left")
    for run, label in zip(runs, labels(runs), strict=True):
        table_.add_row(
            run.job,
            label.split(": ", 1)[1],
            run.status if run.status == "ok" else f"[red]{run.status}[/red]",
            _human_time(run.metrics.get("wall_time_s")),
            *(fmt(run.metrics.get(k)) for k in headline),
            _shorten("; ".join(run.notes), 80),
        )
    console = Console(width=max(Console().width, 120))
    console.print(table_)
    for path in written:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)


def report(inputs: Sequence[Path], out: Path | None = None, quiet: bool = False) -> dict[str, Path]:
    """Write the report of the runs under ``inputs`` into ``out``; returns ``{file name: path}``
    of what was written. Raises ``FileNotFoundError`` for a missing input and ``ValueError``
    when there is no run."""
    inputs = [Path(p) for p in inputs]
    for path in inputs:
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not a directory")
    runs = load_runs(inputs)
    if not runs:
        names = ", ".join(str(p) for p in inputs)
        raise ValueError(
            f"no runs in {names}: expected run dirs (with .hydra/overrides.yaml or metrics.json) "
            "or a multirun dir holding them (python train.py -m ... writes multirun/DATE/TIME/N/)"
        )
    if out is None:
        base = inputs[0] if len(inputs) == 1 else Path(os.path.commonpath(inputs))
        out = base / "report"
    out.mkdir(parents=True, exist_ok=True)
    figures = [
        p
        for p in (plot_curves(runs, out / "curves.png"), sample_sheet(runs, out / "samples.png"))
        if p
    ]
    written = {
        "runs.csv": write_csv(runs, out / "runs.csv"),
        "runs.md": write_markdown(runs, out / "runs.md", inputs, figures),
        **{p.name: p for p in figures},
    }
    if not quiet:
        print_summary(runs, list(written.values()))
    return written


USAGE = """usage: python -m callbacks.report MULTIRUN_DIR [RUN_DIR ...] [out=DIR]

Compare runs: writes runs.md, runs.csv, curves.png and samples.png into out
(default MULTIRUN_DIR/report)."""


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (2 for bad arguments or no runs)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or {"-h", "--help"} & set(args):
        print(USAGE, file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    out: Path | None = None
    inputs: list[Path] = []
    for arg in args:
        if arg.startswith("out="):
            out = Path(arg.removeprefix("out="))
        elif re.match(r"^[\w.]+=", arg) and not Path(arg).exists():
            print(f"report: unknown option {arg!r} (the only option is out=DIR)", file=sys.stderr)
            return 2
        else:
            inputs.append(Path(arg))
    if not inputs:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        report(inputs, out)
    except (FileNotFoundError, ValueError) as err:
        print(f"report: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
