"""StarGAN translation quality on the procedural CelebA faces, for a fixed CPU budget.

Trains the CelebA attribute classifier on ``toy_celeba`` with StarGAN's five domains
(Black_Hair, Blond_Hair, Brown_Hair, Male, Young; its held-out accuracy is reported), then trains
``model=stargan`` on the same faces with ``python train.py`` and scores it every
``every_n_steps`` D steps with the ``stargan_accuracy`` metric (``TranslationAccuracy``): the
test faces translated to every single-domain change and read back by the classifier.

    python -m benchmarks.stargan_quality out=benchmarks/results/stargan_quality
    python -m benchmarks.stargan_quality out=/tmp/sq minutes=0.5 steps=40 every_n_steps=20 \
        n_images=400 clf_epochs=1 n_scored=16

The learning rates fall linearly to 0 over the second half of ``steps`` D steps
(``model.total_steps``, ``model.decay_start = steps / 2``), where training stops; ``steps=0``
derives them from the budget, ``minutes * 60 * 0.8 / sec_per_step`` (``sec_per_step``: the
measured seconds per D step of this recipe on your machine). ``minutes`` also caps the run
(``trainer.max_time``), so a slower machine stops before the decay ends (``reached_total_steps``
says so).

Writes ``OUT/stargan_quality.json`` (settings, machine, classifier accuracy, the curve of every
score against D steps, final and best scores, wall time and seconds per D step),
``OUT/stargan_quality.png`` (target accuracies and reconstruction L1 against D steps) and
``OUT/stargan_translations.png`` (the run's last translation grid: a row per fixed face, the face
then each single-domain change, columns named in ``OUT/stargan_translations.txt``). The run's
Hydra dir (checkpoints, samples, CSV log) is kept under ``OUT/runs/stargan``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from benchmarks.common import REPO, Line, Panel, metric_curve, plot_panels, run_logged
from benchmarks.conditional_quality import machine, max_time
from callbacks.translation_accuracy import held_out_faces, target_accuracy
from gans.domains import HAIR_ATTRIBUTES, hair_indices, single_domain_targets
from metrics.command import parse_key_values

log = logging.getLogger(__name__)
DOMAINS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
PREFIX = "stargan_"
CALLBACK = "stargan_accuracy"
BUDGET_SHARE = 0.8  # of the budget planned for D steps; the rest starts up and scores


@dataclasses.dataclass(frozen=True)
class Options:
    """``key=value`` arguments; ``root`` is where the procedural faces are written."""

    root: str = "data/benchmarks"
    out: str = "benchmarks/results/stargan_quality"
    minutes: float = 30.0
    steps: int = 0
    sec_per_step: float = 0.1
    image_size: int = 32
    width: int = 32
    n_res: int = 3
    n_critic: int = 5
    batch_size: int = 16
    n_images: int = 4000
    toy_seed: int = 0
    every_n_steps: int = 500
    n_scored: int = 200
    classifier: str = ""
    clf_epochs: int = 10
    seed: int = 0

    @property
    def total_steps(self) -> int:
        """D steps of the run: ``steps``, or what the budget allows at ``sec_per_step`` (a
        multiple of ``every_n_steps``, so the last score falls on the last step)."""
        if self.steps > 0:
            return self.steps
        planned = int(self.minutes * 60 * BUDGET_SHARE / self.sec_per_step)
        return max(planned // self.every_n_steps, 1) * self.every_n_steps

    @property
    def data_root(self) -> Path:
        return Path(self.root).resolve() / "toy_celeba_stargan"


USAGE = (
    "usage: python -m benchmarks.stargan_quality [out=DIR root=DIR minutes=30 steps=0"
    " sec_per_step=0.1 image_size=32 width=32 n_res=3 n_critic=5 batch_size=16 n_images=4000"
    " toy_seed=0 every_n_steps=500 n_scored=200 classifier=CLASSIFIER.pt clf_epochs=10 seed=0]"
)


def train_command(options: Options, classifier: str | Path, run_dir: Path) -> list[str]:
    """The ``python train.py`` command of the benchmarked StarGAN run."""
    total = options.total_steps
    every = options.every_n_steps
    return [
        sys.executable,
        str(REPO / "train.py"),
        "model=stargan",
        "data=toy_celeba",
        f"data.root={options.data_root}",
        f"data.n_images={options.n_images}",
        f"data.toy_seed={options.toy_seed}",
        f"data.image_size={options.image_size}",
        f"data.batch_size={options.batch_size}",
        f"data.attributes=[{','.join(DOMAINS)}]",
        f"model.generator.width={options.width}",
        f"model.generator.n_res={options.n_res}",
        f"model.discriminator.width={options.width}",
        f"model.n_critic={options.n_critic}",
        f"model.total_steps={total}",
        f"model.decay_start={total // 2}",
        f"seed={options.seed}",
        "trainer.max_epochs=-1",
        f"+trainer.max_time={max_time(options.minutes)}",
        "logger=csv",
        "~callbacks.progress_bar",
        f"callbacks.sample_grid.every_n_steps={every}",
        f"callbacks.translation_grid.every_n_steps={every}",
        f"+metric@callbacks.{CALLBACK}=stargan_accuracy",
        f"callbacks.{CALLBACK}.evaluator.path={Path(classifier).resolve()}",
        f"callbacks.{CALLBACK}.every_n_steps={every}",
        f"callbacks.{CALLBACK}.n_images={options.n_scored}",
        "optimized_metric=stargan_target_acc",
        f"hydra.run.dir={run_dir}",
    ]


def score_curve(run_dir: Path) -> list[dict[str, float]]:
    """The rows of the run's CSV log that hold translation scores: ``d_steps`` and every
    ``stargan_*``, in file order."""
    return metric_curve(run_dir, "d_steps", PREFIX)


def summarise(curve: Sequence[dict[str, float]]) -> dict[str, dict]:
    """Final scores, the best of each (highest accuracy, lowest ``rec_l1``) and the scores at the
    step with the best ``stargan_target_acc`` (the kept ``best.ckpt``)."""
    if not curve:
        return {"final": {}, "best": {}, "at_best_target_acc": {}}
    keys = sorted({k for row in curve for k in row if k.startswith(PREFIX)})
    best = {}
    for key in keys:
        values = [row[key] for row in curve if key in row]
        best[key] = min(values) if key.endswith("rec_l1") else max(values)
    scored = [row for row in curve if f"{PREFIX}target_acc" in row]
    at_best = max(scored, key=lambda row: row[f"{PREFIX}target_acc"]) if scored else {}
    return {"final": dict(curve[-1]), "best": best, "at_best_target_acc": dict(at_best)}


def train_attribute_classifier(options: Options, out: Path) -> tuple[str, dict | None]:
    """The classifier checkpoint (trained on the toy train split unless ``classifier`` is given)
    and its held-out accuracy: val of the kept epoch and test (None when given)."""
    if options.classifier:
        return options.classifier, None
    from metrics.celeba_classifier import MEAN
    from metrics.train_celeba_classifier import Options as ClfOptions
    from metrics.train_celeba_classifier import (
        load_splits,
        save_checkpoint,
        score,
        train_classifier,
    )

    clf_options = ClfOptions(
        root=str(options.data_root),
        out=str(out / "celeba_classifier.pt"),
        attributes=",".join(DOMAINS),
        epochs=options.clf_epochs,
        image_size=options.image_size,
        seed=options.seed,
        toy=True,
        n_images=options.n_images,
        toy_seed=options.toy_seed,
    )
    splits, attributes = load_splits(clf_options)
    started = time.perf_counter()
    classifier, history = train_classifier(
        *splits["train"],
        attributes,
        val=splits.get("val"),
        epochs=clf_options.epochs,
        seed=clf_options.seed,
    )
    save_checkpoint(classifier, clf_options.out)
    best = max(history, key=lambda row: row.get(f"val_{MEAN}", -1.0))
    held_out: dict = {
        "epoch": best["epoch"],
        "val": {k[4:]: round(v, 4) for k, v in best.items() if k.startswith("val_")},
        "train_images": len(splits["train"][0]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if "test" in splits:
        held_out["test"] = {k: round(v, 4) for k, v in score(classifier, splits["test"]).items()}
    log.info("attribute classifier: %s", held_out)
    return clf_options.out, held_out


def last_grid(run_dir: Path) -> Path | None:
    """The run's last ``translations/step_XXXXXX.png``, or None."""
    grids = sorted((run_dir / "translations").glob("step_*.png"))
    return grids[-1] if grids else None


def run_training(options: Options, classifier: str, out: Path) -> dict:
    """Train StarGAN for the budget; returns its curve, final and best scores and timing."""
    run_dir = out / "runs" / "stargan"
    command = train_command(options, classifier, run_dir)
    log.info("stargan: %s", " ".join(command[1:]))
    status, wall = run_logged(command, out / "runs" / "stargan.log")
    result: dict = {"command": command[1:], "wall_s": round(wall, 1)}
    if status != 0:
        log.error("stargan failed (exit %d); see %s", status, out / "runs" / "stargan.log")
        return {**result, "failed": status}
    final = json.loads((run_dir / "metrics.json").read_text())
    d_steps = int(final.get("d_steps", 0))
    fit_s = float(final.get("wall_time_s", wall))
    curve = score_curve(run_dir)
    result |= {
        "d_steps": d_steps,
        "g_steps": final.get("g_steps"),
        "total_steps": options.total_steps,
        "reached_total_steps": d_steps >= options.total_steps,
        "fit_s": round(fit_s, 1),
        "seconds_per_d_step": round(fit_s / d_steps, 4) if d_steps else None,
        **summarise(curve),
        "curve": curve,
    }
    grid = last_grid(run_dir)
    if grid is not None:
        shutil.copyfile(grid, out / "stargan_translations.png")
        columns = run_dir / "translations" / "columns.txt"
        if columns.is_file():
            shutil.copyfile(columns, out / "stargan_translations.txt")
        result["translation_grid"] = {"source": str(grid), "copy": "stargan_translations.png"}
    log.info("stargan: final %s", result["final"])
    return result


def copy_baseline(labels: Tensor) -> dict[str, float]:
    """The scores of a G that returns its input unchanged, for faces with ``labels (N, 5)`` and a
    classifier that reads real faces perfectly: every attribute a change leaves alone is right,
    every changed one wrong (``stargan_changed_acc`` 0)."""
    changes = single_domain_targets(labels, DOMAINS, hair_indices(DOMAINS, HAIR_ATTRIBUTES))
    return target_accuracy({name: labels for name, _ in changes}, dict(changes), labels)


def scored_labels(options: Options) -> Tensor:
    """The labels of the faces the ``stargan_accuracy`` metric scores (its default seed, 0)."""
    from datamodules.toy_celeba import ToyCelebADataModule

    data = ToyCelebADataModule(
        options.data_root,
        attributes=DOMAINS,
        image_size=options.image_size,
        n_images=options.n_images,
        toy_seed=options.toy_seed,
    )
    data.prepare_data()
    return held_out_faces(data, options.n_scored, seed=0)[1]


def plot(run: dict, path: Path, baseline: dict[str, float] | None = None) -> None:
    """Two panels against D steps: the target accuracies (overall, changed attributes, all
    right, then each change thinly; the copy-input baseline dashed) and the cycle L1."""
    curve = run.get("curve", [])
    keys = sorted({k for row in curve for k in row if k.startswith(PREFIX)})
    main_keys = [f"{PREFIX}{k}" for k in ("target_acc", "changed_acc", "all_acc")]
    per_change = [k for k in keys if k.startswith(f"{PREFIX}target_acc_")]

    def line(key: str, **style) -> Line:
        points = [(row["d_steps"], row[key]) for row in curve if key in row]
        return Line(key.removeprefix(PREFIX), points, **style)

    hlines = {}
    if baseline:
        hlines[f"copy input: target_acc {baseline[f'{PREFIX}target_acc']:.2f}"] = baseline[
            f"{PREFIX}target_acc"
        ]
    accuracy = Panel(
        "translations read back by the classifier",
        [line(k) for k in main_keys] + [line(k, style="-", alpha=0.5) for k in per_change],
        xlabel="D steps",
        ylabel="accuracy",
        ylim=(0.0, 1.0),
        hlines=hlines,
    )
    cycle = Panel(
        "cycle reconstruction |x - G(G(x, c'), c)|",
        [line(f"{PREFIX}rec_l1")],
        xlabel="D steps",
        ylabel="L1 in [-1, 1] units",
    )
    plot_panels([accuracy, cycle], path)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = parse_key_values(sys.argv[1:] if argv is None else argv, Options(), USAGE)
    out = Path(options.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    settings = {**dataclasses.asdict(options), "total_steps": options.total_steps}
    report: dict = {"settings": settings, "domains": list(DOMAINS), "machine": machine()}
    report["started"] = time.strftime("%Y-%m-%d %H:%M:%S")
    classifier, held_out = train_attribute_classifier(options, out)
    report["classifier"] = {"path": classifier, "held_out": held_out}
    report["copy_input_baseline"] = copy_baseline(scored_labels(options))
    report["run"] = run_training(options, classifier, out)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (out / "stargan_quality.json").write_text(json.dumps(report, indent=2))
    plot(report["run"], out / "stargan_quality.png", report["copy_input_baseline"])
    log.info("wrote %s", out / "stargan_quality.json")
    return 1 if "failed" in report["run"] else 0


if __name__ == "__main__":
    sys.exit(main())
