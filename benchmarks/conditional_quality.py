"""Condition accuracy of the conditional GANs on the procedural sets, for a fixed CPU budget.

ICLEVR part: trains our own ICLEVR evaluator on ``toy_iclevr`` (ResNet18 in the course's
checkpoint format; its held-out top-k accuracy is reported and must reach 0.95), then trains each
ICLEVR model with ``python train.py`` for ``minutes`` of wall time and records the evaluator's
accuracy on the toy ``test`` and ``new_test`` condition sets every ``every_n_steps`` D steps.
Anime part: trains the hair/eye colour classifier on ``toy_anime_tags``, then the anime study's
cGAN with and without mismatch negatives, scored on fixed tag pairs.

    python -m benchmarks.conditional_quality out=benchmarks/results/conditional_quality
    python -m benchmarks.conditional_quality out=/tmp/cq minutes=2 runs=projection_gan anime=false

Writes ``OUT/conditional_quality.json`` (settings, machine, evaluator accuracy, every run's curve,
best and final scores) and ``OUT/conditional_quality.png`` (the curves). Runs are sequential;
each run's Hydra dir (samples, checkpoints, logs) is kept under ``OUT/runs/``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

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
from metrics.command import parse_key_values

log = logging.getLogger(__name__)

# Overrides shared by the cDCGAN ablation below: rebinding negatives, MSGAN's term, and the
# stabilised recipe's training (DiffAugment, batches of 64) on the study's networks.
REBIND = ["model.mismatch_negatives=true", "model.mismatch_kind=rebind"]
MSGAN = ["model.mode_seeking_weight=0.1"]
CDCGAN_NEGATIVES = ["model=cdcgan_iclevr", *REBIND, *MSGAN]
CDCGAN_TIPS = [*CDCGAN_NEGATIVES, "model.augment=[translation,cutout]"]
CDCGAN_AUX = [
    *CDCGAN_NEGATIVES,
    "model.augment=[translation]",
    "model.discriminator.aux_head=true",
    "model.aux_weight=1.0",
]
# The study's networks with the auxiliary classifier and joint batches (G's step too), two G
# steps per D step: the base of the joint runs; then with rebinding and reshaping negatives, the
# base of the auxiliary-weight runs.
AUX_JOINT = [
    *CDCGAN_AUX,
    "model.g_repeats=2",
    "model.d_joint_batch=true",
    "model.g_joint_batch=true",
]
AUX_JOINT_RESHAPE = [*AUX_JOINT, "model.mismatch_kind=rebind_reshape"]
# The study's G with conditional BatchNorm: the condition scales and shifts every layer's
# features instead of joining the noise at the input only.
CBN_G = ["model.generator._target_=gans.nets.cbn_generator.ConditionalBNGenerator"]

# Each ICLEVR run: the model config and the overrides that make it the benchmarked recipe.
ICLEVR_RUNS: dict[str, list[str]] = {
    # The original study's cDCGAN, unchanged (G updated 4 times per D update, batches of 16).
    "cdcgan_iclevr": ["model=cdcgan_iclevr", "data.batch_size=16"],
    # The study's networks and batch, with the anime study's trick: D also sees real images under
    # wrongly bound conditions as fakes.
    "cdcgan_iclevr_rebind": ["model=cdcgan_iclevr", "data.batch_size=16", *REBIND],
    # The same with MSGAN's mode-seeking term against the per-condition collapse that 4 G steps
    # per D step bring (as in projection_acgan_msgan).
    "cdcgan_iclevr_msgan": ["model=cdcgan_iclevr", "data.batch_size=16", *REBIND, *MSGAN],
    # The study's networks trained as projection_acgan_msgan is (no auxiliary classifier: its D
    # has none): batches of 64, DiffAugment, rebinding negatives, MSGAN, one G step per D step;
    # then two, against a BatchNorm D that outpaces G at one; then a spectral-norm D with hinge.
    "cdcgan_iclevr_tips": [*CDCGAN_TIPS, "model.g_repeats=1"],
    "cdcgan_iclevr_tips_g2": [*CDCGAN_TIPS, "model.g_repeats=2"],
    "cdcgan_iclevr_tips_sn": [
        *CDCGAN_TIPS,
        "model.g_repeats=1",
        "loss@model.loss=hinge",
        "model.discriminator.spectral=true",
        "model.discriminator.norm=none",
    ],
    # The tips plus ACGAN's auxiliary classifier on its own BatchNorm trunk (the lever that took
    # the projection D past 0.8), shifts only (cutout can hide an object the classifier is told
    # of): with two G steps per D step on batches of 64, with one (as the projection D is
    # trained), and with the study's batches of 16 and four G steps.
    "cdcgan_iclevr_aux": [*CDCGAN_AUX, "model.g_repeats=2"],
    "cdcgan_iclevr_aux_g1": [*CDCGAN_AUX, "model.g_repeats=1"],
    "cdcgan_iclevr_aux_b16": [*CDCGAN_AUX, "data.batch_size=16"],
    # The study's D (with and without the aux trunk) against a conditional-BatchNorm G.
    "cdcgan_iclevr_aux_cbn": [*CDCGAN_AUX, *CBN_G, "model.g_repeats=1"],
    "cdcgan_iclevr_cbn": [
        *CDCGAN_NEGATIVES,
        "model.augment=[translation]",
        *CBN_G,
        "model.g_repeats=1",
    ],
    # Two time-scales the other way round: the BatchNorm D wins, so D learns more slowly than G.
    "cdcgan_iclevr_aux_slow_d": [*CDCGAN_AUX, "model.g_repeats=2", "model.d_opt.lr=1e-4"],
    "cdcgan_iclevr_aux_g1_slow_d": [*CDCGAN_AUX, "model.g_repeats=1", "model.d_opt.lr=5e-5"],
    # The best cDCGAN recipe scored by an EMA of G (the one fix on the list not yet tried
    # on the study's networks).
    "cdcgan_iclevr_aux_ema": [*CDCGAN_AUX, "model.g_repeats=2", "model.ema_decay=0.999"],
    # The same with D's BatchNorm statistics from real batches only: trained on separate real,
    # fake and mismatched batches, the study's BatchNorm D tells those batches apart by their own
    # statistics (see benchmarks/binding_probe.py) rather than judging each image.
    "cdcgan_iclevr_aux_realstats": [*CDCGAN_AUX, "model.g_repeats=2", "model.d_bn_real_stats=true"],
    # The same with reals, fakes and mismatched pairs through D as one batch: the shortcut gone.
    "cdcgan_iclevr_aux_joint": [*CDCGAN_AUX, "model.g_repeats=2", "model.d_joint_batch=true"],
    # ... and G's step too shows D its fakes beside the reals, under the statistics D learns with.
    "cdcgan_iclevr_aux_joint_g": AUX_JOINT,
    # ... with half the mismatch negatives an object given another shape instead of a rebinding:
    # the study's G draws the asked-for colours but blocks for every shape.
    "cdcgan_iclevr_aux_joint_reshape": AUX_JOINT_RESHAPE,
    # ... with G pulled three times harder towards images D's classifier reads as their
    # conditions (D's classifier trained as before).
    "cdcgan_iclevr_aux_joint_reshape_gaux3": [*AUX_JOINT_RESHAPE, "model.g_aux_weight=3.0"],
    # ... ten times (G's classifier term then as large as its adversarial term):
    # experiment=iclevr_cdcgan_tuned.
    "cdcgan_iclevr_aux_joint_reshape_gaux10": [*AUX_JOINT_RESHAPE, "model.g_aux_weight=10.0"],
    # The joint D (which reads shapes as well as the projection D, benchmarks/binding_probe.py)
    # against the conditional-BatchNorm G in place of the study's.
    "cdcgan_iclevr_aux_joint_cbn": [*AUX_JOINT, *CBN_G],
    # ... with rebinding and reshaping negatives, the lever that fixed the study's G's shapes.
    "cdcgan_iclevr_aux_joint_cbn_reshape": [*AUX_JOINT_RESHAPE, *CBN_G],
    "acgan": ["model=acgan"],
    "projection_gan": ["model=projection_gan"],
    # The stabilised recipe: conditional BatchNorm G, SN projection D with an auxiliary
    # classifier, hinge loss, DiffAugment.
    "projection_acgan": ["model=projection_acgan"],
    # The same with the aux classifier on its own BatchNorm trunk and shifts only.
    "projection_acgan_bn": ["model=projection_acgan_bn"],
    # The same, with real images under wrongly bound conditions as extra negatives for D.
    "projection_acgan_rebind": ["model=projection_acgan_rebind"],
    # The same, with MSGAN's mode-seeking term against per-condition collapse.
    "projection_acgan_msgan": ["model=projection_acgan_msgan"],
    # The msgan recipe with D's BatchNorm statistics learnt from real batches only.
    "projection_acgan_realstats": ["model=projection_acgan_realstats"],
}
ANIME_RUNS: dict[str, list[str]] = {
    "cgan_mlds_mismatch": ["model=cgan_mlds", "model.mismatch_negatives=true"],
    "cgan_mlds_no_mismatch": ["model=cgan_mlds", "model.mismatch_negatives=false"],
}


@dataclasses.dataclass(frozen=True)
class Options:
    """``key=value`` arguments; ``root`` is where the procedural sets are written."""

    root: str = "data/benchmarks"
    out: str = "benchmarks/results/conditional_quality"
    minutes: float = 20.0
    image_size: int = 32
    width: int = 32
    runs: str = ",".join(ICLEVR_RUNS)
    # toy_iclevr scenes, each written with 1, 2 and 3 objects (3 images a scene): 6000 gives
    # 18,000 training images, the size of ICLEVR's train.json (18,009).
    n_scenes: int = 1000
    anime: bool = True
    every_n_steps: int = 250
    n_repeats: int = 4
    evaluator: str = ""
    classifier: str = ""
    evaluator_epochs: int = 6
    seed: int = 0


USAGE = (
    "usage: python -m benchmarks.conditional_quality [out=DIR root=DIR minutes=20 image_size=32"
    f" width=32 runs={Options.runs} n_scenes=1000 anime=true every_n_steps=250 n_repeats=4"
    " evaluator=CHECKPOINT.pth classifier=CLASSIFIER.pt evaluator_epochs=6 seed=0]"
)


def train_command(
    callback: str, overrides: Sequence[str], options: Options, run_dir: Path
) -> list[str]:
    """The ``python train.py`` command of one benchmarked run scored by ``callbacks.CALLBACK``."""
    return [
        sys.executable,
        str(REPO / "train.py"),
        *overrides,
        f"model.generator.width={options.width}",
        f"model.discriminator.width={options.width}",
        f"data.image_size={options.image_size}",
        f"seed={options.seed}",
        "trainer.max_epochs=100000",
        f"+trainer.max_time={max_time(options.minutes)}",
        "logger=csv",
        "~callbacks.progress_bar",
        f"callbacks.sample_grid.every_n_steps={options.every_n_steps}",
        f"hydra.run.dir={run_dir}",
        f"callbacks.{callback}.every_n_steps={options.every_n_steps}",
        f"callbacks.{callback}.n_repeats={options.n_repeats}",
    ]


def accuracy_curve(run_dir: Path) -> list[dict[str, float]]:
    """The rows of the run's CSV log that hold scores: ``d_steps``, every ``acc_*`` and every
    ``div_*`` (pixel distance between draws of one condition)."""
    return metric_curve(run_dir, "d_steps", ("acc_", "div_"))


def run_training(
    name: str, callback: str, overrides: list[str], options: Options, out: Path
) -> dict:
    """Train one model for the budget; returns its curve, best and final scores."""
    run_dir = out / "runs" / name
    command = train_command(callback, overrides, options, run_dir)
    log.info("%s: %s", name, " ".join(command[1:]))
    status, wall = run_logged(command, out / "runs" / f"{name}.log")
    if status != 0:
        log.error("%s failed (exit %d); see %s.log", name, status, run_dir)
        return {"name": name, "overrides": overrides, "failed": status, "wall_s": wall}
    curve = accuracy_curve(run_dir)
    final = json.loads((run_dir / "metrics.json").read_text())
    keys = sorted({k for row in curve for k in row if k.startswith("acc_")})
    diversity = sorted({k for row in curve for k in row if k.startswith("div_")})
    result = {
        "name": name,
        "overrides": overrides,
        "wall_s": round(wall, 1),
        "d_steps": final.get("d_steps"),
        "g_steps": final.get("g_steps"),
        "final": {k: curve[-1][k] for k in keys} if curve else {},
        "best": {k: max(row.get(k, 0.0) for row in curve) for k in keys},
        "final_diversity": {k: curve[-1][k] for k in diversity} if curve else {},
        "curve": curve,
    }
    log.info("%s: final %s best %s", name, result["final"], result["best"])
    return result


def iclevr_evaluator(options: Options, out: Path) -> tuple[str, float | None]:
    """The evaluator checkpoint to score with (trained here unless ``evaluator`` is given) and
    its held-out top-k accuracy (None when given)."""
    if options.evaluator:
        return options.evaluator, None
    from metrics.train_iclevr_evaluator import Options as EvalOptions
    from metrics.train_iclevr_evaluator import load_training_set, save_checkpoint, train_evaluator

    eval_options = EvalOptions(
        root=str(Path(options.root) / "toy_iclevr_eval"),
        out=str(out / "iclevr_evaluator.pth"),
        image_size=options.image_size,
        toy=True,
    )
    images, conditions, groups = load_training_set(eval_options)
    network, history = train_evaluator(
        images, conditions, epochs=options.evaluator_epochs, groups=groups, seed=options.seed
    )
    save_checkpoint(network, eval_options.out)
    held_out = max(row["val_acc"] for row in history)
    log.info("ICLEVR evaluator: held-out top-k accuracy %.4f", held_out)
    return eval_options.out, held_out


def tags_classifier(options: Options, out: Path) -> tuple[str, dict[str, float] | None]:
    """The anime hair/eye classifier (trained here unless ``classifier`` is given) and its
    held-out accuracies."""
    if options.classifier:
        return options.classifier, None
    from metrics.train_anime_tags_classifier import Options as ClfOptions
    from metrics.train_anime_tags_classifier import (
        load_training_set,
        save_checkpoint,
        train_classifier,
    )

    clf_options = ClfOptions(
        root=str(Path(options.root) / "toy_anime_clf"),
        out=str(out / "anime_tags_classifier.pt"),
        image_size=options.image_size,
        toy=True,
    )
    images, conditions, groups = load_training_set(clf_options)
    classifier, history = train_classifier(images, conditions, groups, seed=options.seed)
    save_checkpoint(classifier, clf_options.out)
    best = max(history, key=lambda row: row.get("val_acc_both", -1.0))
    return clf_options.out, {k: v for k, v in best.items() if k.startswith("val_")}


def plot(results: Sequence[dict], path: Path) -> None:
    """Accuracy and within-condition diversity against D steps, one panel per score and set, one
    line per run."""
    rows = [row for result in results for row in result.get("curve", [])]
    keys = sorted({key for row in rows for key in row if key != "d_steps"})
    panels = []
    for key in keys:
        lines = [
            Line(
                r["name"], [(row["d_steps"], row[key]) for row in r.get("curve", []) if key in row]
            )
            for r in results
        ]
        if key.startswith("div_"):
            panels.append(Panel(key, lines, xlabel="D steps", ylabel="pixel distance"))
        else:
            panels.append(Panel(key, lines, xlabel="D steps", ylabel="accuracy", ylim=(0.0, 1.0)))
    plot_panels(panels, path)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = parse_key_values(sys.argv[1:] if argv is None else argv, Options(), USAGE)
    out = Path(options.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    report: dict = {"settings": dataclasses.asdict(options), "machine": machine(), "runs": []}
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    names = [n for n in options.runs.split(",") if n]
    unknown = sorted(set(names) - set(ICLEVR_RUNS))
    if unknown:
        print(f"unknown runs {unknown}; choose from {sorted(ICLEVR_RUNS)}", file=sys.stderr)
        return 2
    if names:
        evaluator, held_out = iclevr_evaluator(options, out)
        report["iclevr_evaluator"] = {"path": evaluator, "held_out_accuracy": held_out}
        data = [
            "data=toy_iclevr",
            f"data.root={Path(options.root).resolve() / 'toy_iclevr'}",
            f"data.n_scenes={options.n_scenes}",
            "+metric@callbacks.iclevr_accuracy=iclevr_accuracy",
            f"callbacks.iclevr_accuracy.evaluator.path={Path(evaluator).resolve()}",
            "optimized_metric=acc_test",
        ]
        for name in names:
            overrides = [*ICLEVR_RUNS[name], *data]
            report["runs"].append(run_training(name, "iclevr_accuracy", overrides, options, out))
    if options.anime:
        classifier, held_out = tags_classifier(options, out)
        report["anime_classifier"] = {"path": classifier, "held_out": held_out}
        data = [
            "data=toy_anime_tags",
            f"data.root={Path(options.root).resolve() / 'toy_anime_tags'}",
            "+metric@callbacks.tags_accuracy=anime_tags_accuracy",
            f"callbacks.tags_accuracy.evaluator.path={Path(classifier).resolve()}",
            "optimized_metric=acc_both_pairs",
        ]
        for name, overrides in ANIME_RUNS.items():
            overrides = [*overrides, *data]
            report["runs"].append(run_training(name, "tags_accuracy", overrides, options, out))
    report["started"], report["finished"] = started, time.strftime("%Y-%m-%d %H:%M:%S")
    (out / "conditional_quality.json").write_text(json.dumps(report, indent=2))
    plot(report["runs"], out / "conditional_quality.png")
    log.info("wrote %s", out / "conditional_quality.json")
    return 0 if all("failed" not in r for r in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
