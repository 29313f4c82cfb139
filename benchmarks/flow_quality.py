"""Glow and conditional Glow on the procedural sets, for a fixed CPU budget per run (issue 5).

Three measurements, each run trained with ``python train.py`` for ``minutes`` of wall time:

1. ``glow_celeba``: the validation bits/dim curve of ``model=glow`` on ``toy_celeba`` (CelebA's
   partition-1 val split) against the optimizer step, at ``n_bits=8`` by default so it compares
   with the 8 bits/dim of a uniform model (a uniform density scores exactly ``n_bits``).
2. ``cglow_celeba``: attribute accuracy of ``model=cglow`` samples on ``toy_celeba``, every
   combination of the data's attributes, read back by our CelebA attribute classifier (the
   ``celeba_attributes`` metric preset). The classifier is trained first, on a separate draw of
   the toy set (``toy_seed=1``), and its held-out val and test accuracies are reported.
3. ``cglow_iclevr_additive`` / ``cglow_iclevr_affine``: the ICLEVR evaluator's top-k accuracy
   (``acc_test``, ``acc_new_test``) of ``model=cglow`` on ``toy_iclevr`` with additive and affine
   couplings (``model.flow.affine=false/true``). The evaluator is trained first as
   ``benchmarks.conditional_quality`` trains it, unless ``evaluator=PATH`` reuses one.

Every run also reports its validation bits/dim (ICLEVR holds out ``val_fraction`` of its images).
Images are ``image_size`` (32) square; the flow is ``levels`` x ``steps`` with couplings of width
``hidden`` (defaults sized for one CPU thread: about 0.5 s per batch of 64).

    OMP_NUM_THREADS=1 python -m benchmarks.flow_quality
    python -m benchmarks.flow_quality out=/tmp/fq minutes=2 runs=glow_celeba
    python -m benchmarks.flow_quality runs=cglow_iclevr_additive,cglow_iclevr_affine \
        evaluator=benchmarks/results/conditional_quality/iclevr_a/iclevr_evaluator.pth

Writes ``OUT/flow_quality.json`` (settings, machine, scorers' held-out accuracies, every run's
curves, first/best/final bits/dim and best/final accuracies) and ``OUT/flow_quality.png``.
Runs are sequential; each run's Hydra dir (samples, checkpoints, CSV log) is kept under
``OUT/runs/NAME`` and its output in ``OUT/runs/NAME.log``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import conditional_quality
from benchmarks.common import (
    REPO,
    Line,
    Panel,
    machine,
    max_time,
    metric_curve,
    plot_panels,
    run_logged,
)
from datamodules.errors import DataError
from metrics.command import parse_key_values

log = logging.getLogger(__name__)

VAL_BPD = "val/bits_per_dim"
TRAIN_BPD = "train/bits_per_dim"
# The metric preset (conf/metric/NAME.yaml, added as callbacks.NAME) that scores each data set.
SCORERS = {"celeba": "celeba_attributes", "iclevr": "iclevr_accuracy"}
# Accuracies drawn in the plot (all acc_* columns go to the JSON).
PLOTTED = ("acc_mean_", "acc_all_", "acc_test", "acc_new_test")


@dataclasses.dataclass(frozen=True)
class Run:
    """One benchmarked run: the toy set it trains on (``celeba`` or ``iclevr``), whether the model
    is conditional (scored by the set's scorer) and its model overrides."""

    data: str
    conditional: bool
    overrides: tuple[str, ...]


RUNS: dict[str, Run] = {
    "glow_celeba": Run("celeba", False, ("model=glow",)),
    "cglow_celeba": Run("celeba", True, ("model=cglow",)),
    "cglow_iclevr_additive": Run("iclevr", True, ("model=cglow", "model.flow.affine=false")),
    "cglow_iclevr_affine": Run("iclevr", True, ("model=cglow", "model.flow.affine=true")),
    # Affine, with the coupling log-scale soft-clamped (finite decodes far from the data) and the
    # auxiliary classifier weighted as much as the likelihood, so the top latent must carry y.
    "cglow_iclevr_aux": Run(
        "iclevr",
        True,
        ("model=cglow", "model.flow.affine=true", "model.flow.clamp=2.0", "model.aux_weight=1.0"),
    ),
}


@dataclasses.dataclass(frozen=True)
class Options:
    """``key=value`` arguments; ``root`` is where the procedural sets are written."""

    root: str = "data/benchmarks"
    out: str = "benchmarks/results/flow_quality"
    minutes: float = 10.0
    image_size: int = 32
    runs: str = ",".join(RUNS)
    # Flow size (conf/model/glow.yaml: levels 3, steps 8, hidden 128; the paper 3 x 32 x 512).
    levels: int = 3
    steps: int = 8
    hidden: int = 64
    warmup_steps: int = 100
    # Colour depth of the likelihood: the unconditional run (8: compare with 8 bits/dim of a
    # uniform model) and the conditional runs (5, the Glow default: smoother samples).
    n_bits: int = 8
    cond_n_bits: int = 5
    every_n_steps: int = 100
    # Conditional runs: the final checkpoint is also scored at each of these sampling
    # temperatures (the curve during training samples at 0.7).
    temperatures: str = "0,0.3,0.5,0.7,1.0"
    n_images: int = 2000
    n_scenes: int = 1000
    val_fraction: float = 0.1
    evaluator: str = ""
    classifier: str = ""
    evaluator_epochs: int = 6
    classifier_epochs: int = 10
    seed: int = 0


USAGE = (
    "usage: python -m benchmarks.flow_quality [out=DIR root=DIR minutes=10 image_size=32"
    f" runs={Options.runs} levels=3 steps=8 hidden=64 warmup_steps=100 n_bits=8 cond_n_bits=5"
    " every_n_steps=100 temperatures=0,0.3,0.5,0.7,1.0 n_images=2000 n_scenes=1000"
    " val_fraction=0.1 evaluator=CHECKPOINT.pth"
    " classifier=CLASSIFIER.pt evaluator_epochs=6 classifier_epochs=10 seed=0]"
)


def run_n_bits(run: Run, options: Options) -> int:
    """The colour depth ``run`` measures its likelihood at (a uniform model scores this)."""
    return options.cond_n_bits if run.conditional else options.n_bits


def data_overrides(run: Run, options: Options) -> list[str]:
    """The data config of ``run``: its toy set under ``root``, at ``image_size``."""
    root = Path(options.root).resolve()
    if run.data == "celeba":
        data = ["data=toy_celeba", f"data.root={root / 'toy_celeba'}"]
        data.append(f"data.n_images={options.n_images}")
    else:
        data = ["data=toy_iclevr", f"data.root={root / 'toy_iclevr'}"]
        data += [f"data.n_scenes={options.n_scenes}", f"data.val_fraction={options.val_fraction}"]
    return [*data, f"data.image_size={options.image_size}"]


def train_command(
    name: str, options: Options, run_dir: Path, scorer: str | Path = "SCORER.pt"
) -> list[str]:
    """The ``python train.py`` command of run ``name``; a conditional run is scored by the
    checkpoint ``scorer`` (the CelebA classifier or the ICLEVR evaluator)."""
    run = RUNS[name]
    command = [
        sys.executable,
        str(REPO / "train.py"),
        *run.overrides,
        f"model.n_bits={run_n_bits(run, options)}",
        f"model.flow.levels={options.levels}",
        f"model.flow.steps={options.steps}",
        f"model.flow.hidden={options.hidden}",
        f"model.warmup_steps={options.warmup_steps}",
        *data_overrides(run, options),
        f"seed={options.seed}",
        "trainer.max_epochs=100000",
        f"+trainer.max_time={max_time(options.minutes)}",
        "logger=csv",
        "~callbacks.progress_bar",
        f"callbacks.sample_grid.every_n_steps={options.every_n_steps}",
        f"optimized_metric={VAL_BPD}",
        f"hydra.run.dir={run_dir}",
    ]
    if run.conditional:
        callback = SCORERS[run.data]
        command += [
            f"+metric@callbacks.{callback}={callback}",
            f"callbacks.{callback}.evaluator.path={Path(scorer).resolve()}",
            f"callbacks.{callback}.every_n_steps={options.every_n_steps}",
        ]
    return command


def curves(run_dir: Path) -> dict[str, list[dict[str, float]]]:
    """The run's CSV log as curves against ``step``, the number of updates done: validation and
    training bits/dim, and the accuracies.

    Lightning logs the training and epoch-end validation rows at its 0-based step (``updates - 1``:
    the validation after the first 25 updates is row ``step`` 24); the accuracy callback logs
    ``d_steps``, which for a flow counts updates. Both become ``step`` = updates done.
    """
    accuracy = [
        {"step": row.pop("d_steps"), **row} for row in metric_curve(run_dir, "d_steps", "acc_")
    ]
    found = {"val": metric_curve(run_dir, "step", VAL_BPD), "accuracy": accuracy}
    found["train"] = metric_curve(run_dir, "step", TRAIN_BPD)
    for row in found["val"] + found["train"]:
        row["step"] += 1.0
    return found


def summarize(name: str, options: Options, run_dir: Path, wall_s: float) -> dict:
    """One finished run's entry of the report, from its CSV log and ``metrics.json``."""
    run = RUNS[name]
    found = curves(run_dir)
    metrics_file = run_dir / "metrics.json"
    final = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    val = [row[VAL_BPD] for row in found["val"]]
    keys = sorted({key for row in found["accuracy"] for key in row if key.startswith("acc_")})
    last = found["accuracy"][-1] if found["accuracy"] else {}
    result = {
        "name": name,
        "data": f"toy_{run.data}",
        "overrides": list(run.overrides),
        "n_bits": run_n_bits(run, options),
        "uniform_bits_per_dim": float(run_n_bits(run, options)),
        "wall_s": round(wall_s, 1),
        "steps": final.get("g_steps"),
        VAL_BPD: {"first": val[0], "best": min(val), "final": val[-1]} if val else {},
        "final_train_bits_per_dim": found["train"][-1][TRAIN_BPD] if found["train"] else None,
        "final_accuracy": {key: last[key] for key in keys if key in last},
        "best_accuracy": {key: max(r.get(key, 0.0) for r in found["accuracy"]) for key in keys},
        "val_curve": found["val"],
        "train_curve": found["train"],
        "accuracy_curve": found["accuracy"],
    }
    return result


def accuracy_by_temperature(
    run_dir: Path, callback: str, temperatures: Sequence[float]
) -> dict[str, dict[str, float]]:
    """The accuracies of the run's final checkpoint with samples drawn at each temperature
    (keys as the temperatures print), by the run's own scorer ``callbacks.CALLBACK``: lower
    temperatures trade diversity for cleaner samples."""
    from hydra.utils import instantiate

    from runtime.checkpoint import load_run

    run_cfg, datamodule, model = load_run(run_dir / "checkpoints" / "last.ckpt")
    node = run_cfg.callbacks[callback]
    node.best_dirpath, node.monitor, node.every_n_steps = None, None, None
    scores = {}
    for temperature in temperatures:
        node.sample_kwargs = {"temperature": temperature}
        scores[str(temperature)] = instantiate(node).score(model, datamodule)
    return scores


def run_training(name: str, options: Options, out: Path, scorer: str | Path = "") -> dict:
    """Train run ``name`` for the budget; returns its report entry."""
    run_dir = out / "runs" / name
    command = train_command(name, options, run_dir, scorer or "SCORER.pt")
    log.info("%s: %s", name, " ".join(command[1:]))
    status, wall = run_logged(command, out / "runs" / f"{name}.log")
    if status != 0:
        log.error("%s failed (exit %d); see %s.log", name, status, run_dir)
        return {"name": name, "overrides": list(RUNS[name].overrides), "failed": status}
    result = summarize(name, options, run_dir, wall)
    if RUNS[name].conditional:
        temperatures = [float(t) for t in options.temperatures.split(",") if t]
        result["accuracy_by_temperature"] = accuracy_by_temperature(
            run_dir, SCORERS[RUNS[name].data], temperatures
        )
        log.info("%s: accuracy by temperature %s", name, result["accuracy_by_temperature"])
    log.info(
        "%s: %s steps, val bits/dim %s (uniform %s), final accuracy %s",
        name,
        result["steps"],
        result[VAL_BPD],
        result["uniform_bits_per_dim"],
        result["final_accuracy"],
    )
    return result


def celeba_classifier(options: Options, out: Path) -> tuple[str, dict | None]:
    """The CelebA attribute classifier to score with (trained here on a separate draw of the toy
    set, ``toy_seed=1``, unless ``classifier`` is given) and its held-out accuracies: val of the
    kept epoch and test (None when given)."""
    if options.classifier:
        return options.classifier, None
    from metrics.train_celeba_classifier import Options as ClfOptions
    from metrics.train_celeba_classifier import (
        load_splits,
        save_checkpoint,
        score,
        train_classifier,
    )

    clf_options = ClfOptions(
        root=str(Path(options.root) / "toy_celeba_clf"),
        out=str(out / "celeba_classifier.pt"),
        image_size=options.image_size,
        toy=True,
        n_images=options.n_images,
        toy_seed=1,
        epochs=options.classifier_epochs,
        seed=options.seed,
    )
    splits, attributes = load_splits(clf_options)
    classifier, history = train_classifier(
        *splits["train"],
        attributes,
        val=splits.get("val"),
        epochs=clf_options.epochs,
        seed=clf_options.seed,
    )
    save_checkpoint(classifier, clf_options.out)
    best = max(history, key=lambda row: row.get("val_acc_mean", -1.0))
    held_out = {
        "attributes": list(attributes),
        "epoch": best["epoch"],
        "val": {key[4:]: value for key, value in best.items() if key.startswith("val_")},
        "test": score(classifier, splits["test"]) if "test" in splits else None,
    }
    log.info("CelebA classifier: held-out %s", held_out)
    return clf_options.out, held_out


def iclevr_evaluator(options: Options, out: Path) -> tuple[str, float | None]:
    """The ICLEVR evaluator (``benchmarks.conditional_quality``'s, trained the same way into
    ``OUT/iclevr_evaluator.pth`` unless ``evaluator`` is given) and its held-out top-k accuracy."""
    shared = conditional_quality.Options(
        root=options.root,
        image_size=options.image_size,
        evaluator=options.evaluator,
        evaluator_epochs=options.evaluator_epochs,
        seed=options.seed,
    )
    return conditional_quality.iclevr_evaluator(shared, out)


def plot(results: Sequence[dict], path: Path) -> None:
    """Validation bits/dim against step (one panel per colour depth, the uniform model as a
    dashed line), CelebA attribute accuracy and ICLEVR accuracy (one line per run and set)."""
    done = [result for result in results if "failed" not in result]
    panels = []
    for n_bits in sorted({result["n_bits"] for result in done}, reverse=True):
        lines = [
            Line(r["name"], [(row["step"], row[VAL_BPD]) for row in r["val_curve"]])
            for r in done
            if r["n_bits"] == n_bits
        ]
        panels.append(
            Panel(
                f"validation bits/dim at {n_bits} bits",
                lines,
                ylabel="bits/dim",
                hlines={f"uniform model ({n_bits} bits/dim)": float(n_bits)},
            )
        )
    for data, title in [("toy_celeba", "CelebA attributes"), ("toy_iclevr", "ICLEVR evaluator")]:
        lines = []
        for result in (r for r in done if r["data"] == data):
            keys = sorted({k for row in result["accuracy_curve"] for k in row if k != "step"})
            for key in (k for k in keys if k.startswith(PLOTTED)):
                points = [(row["step"], row[key]) for row in result["accuracy_curve"] if key in row]
                lines.append(Line(f"{result['name']} {key}", points))
        panels.append(Panel(title, lines, ylabel="accuracy", ylim=(0.0, 1.0)))
    plot_panels(panels, path)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        options = parse_key_values(sys.argv[1:] if argv is None else argv, Options(), USAGE)
    except DataError as err:
        print(err, file=sys.stderr)
        return 2
    names = [name for name in options.runs.split(",") if name]
    unknown = sorted(set(names) - set(RUNS))
    if unknown:
        print(f"unknown runs {unknown}; choose from {sorted(RUNS)}", file=sys.stderr)
        return 2
    out = Path(options.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    report: dict = {
        "settings": dataclasses.asdict(options),
        "machine": {**machine(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "runs": [],
    }
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    scorers: dict[str, str] = {}
    if any(RUNS[name].conditional and RUNS[name].data == "celeba" for name in names):
        scorers["celeba"], held_out = celeba_classifier(options, out)
        report["celeba_classifier"] = {"path": scorers["celeba"], "held_out": held_out}
    if any(RUNS[name].conditional and RUNS[name].data == "iclevr" for name in names):
        scorers["iclevr"], held_out = iclevr_evaluator(options, out)
        report["iclevr_evaluator"] = {"path": scorers["iclevr"], "held_out_accuracy": held_out}
    for name in names:
        scorer = scorers.get(RUNS[name].data, "") if RUNS[name].conditional else ""
        report["runs"].append(run_training(name, options, out, scorer))
    report["started"], report["finished"] = started, time.strftime("%Y-%m-%d %H:%M:%S")
    (out / "flow_quality.json").write_text(json.dumps(report, indent=2))
    plot(report["runs"], out / "flow_quality.png")
    log.info("wrote %s and %s", out / "flow_quality.json", out / "flow_quality.png")
    return 0 if all("failed" not in result for result in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
