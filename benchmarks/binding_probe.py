"""How fast each conditional discriminator learns the condition on its own, without a G.

A conditional GAN's G learns which objects to draw, and how colour and shape bind, only from D's
conditional judgement. This probe trains each model's D (from its ``conf/model`` config, with its
own optimizer) as a plain classifier on real ``toy_iclevr`` images: each image with its conditions
is "real"; the same image under its objects' colours and shapes wrongly bound (``rebound``: "red
cube, blue sphere" read as "red sphere, blue cube") or under another image's conditions
(``mismatched``) is "fake". Every ``every`` steps it reports, on held-out images, the share for
which D scores the right conditions above the wrongly bound ones (``binding``) and above another
image's (``content``), and above the same objects with one given another shape of its colour
(``shape``: D is not trained on these, so it says whether D reads shapes at all), each image
judged on its own; and the same shares judged as a GAN step
judges (``binding_batch``, ``content_batch``): in training mode, on batches whose rows are all
right or all wrong. A BatchNorm D (the ICLEVR study's) can score those perfectly by telling the
batches apart from their statistics while it judges single images little better than chance,
and a G trained against it gets that batch-level signal. ``joint=true`` trains D on one batch of
all three pairings, which takes the shortcut away.

    python -m benchmarks.binding_probe root=data/benchmarks out=benchmarks/results/binding_probe

Writes ``OUT/binding_probe.json`` (settings, machine, each model's curve and speed) and
``OUT/binding_probe.png`` (the curves).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks.common import REPO, Line, Panel, machine, plot_panels
from gans.conditioning import (
    MISMATCH_KINDS,
    BindingTable,
    mismatched,
    rebound,
    reshaped,
    wrong_conditions,
)
from gans.fused import build_optimizer
from metrics.command import parse_key_values

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Options:
    """``key=value`` arguments; ``root`` is where ``toy_iclevr`` is written (or found)."""

    root: str = "data/benchmarks"
    out: str = "benchmarks/results/binding_probe"
    models: str = "cdcgan_iclevr,projection_gan"
    steps: int = 1000
    every: int = 200
    image_size: int = 32
    width: int = 32
    batch_size: int = 64
    # toy_iclevr scenes (3 images each): 6000 gives the 18,000 images of the README's runs.
    n_scenes: int = 6000
    val_fraction: float = 0.05
    val_batches: int = 8
    # Train D on one batch holding the right and both wrong pairings (BatchNorm statistics shared,
    # as BigGAN's D step joins real and fake) instead of three separate batches (our GAN step).
    joint: bool = False
    # The wrong conditions D is trained on beside another image's, as model.mismatch_kind makes
    # them: rebind, reshape (one object given another shape) or rebind_reshape.
    mismatch_kind: str = "rebind"
    threads: int = 0
    seed: int = 0


USAGE = (
    "usage: python -m benchmarks.binding_probe [root=DIR out=DIR models=cdcgan_iclevr,"
    "projection_gan steps=1000 every=200 image_size=32 width=32 batch_size=64 n_scenes=6000"
    " val_fraction=0.05 val_batches=8 joint=false mismatch_kind=rebind threads=0 seed=0]"
)


def compose_model(model: str, options: Options) -> Any:
    """The composed ``train`` config for ``model=MODEL data=toy_iclevr`` at the probe's sizes."""
    from hydra import compose, initialize_config_dir

    overrides = [
        f"model={model}",
        "data=toy_iclevr",
        f"data.root={Path(options.root) / 'toy_iclevr'}",
        f"data.n_scenes={options.n_scenes}",
        f"data.image_size={options.image_size}",
        f"data.batch_size={options.batch_size}",
        f"data.val_fraction={options.val_fraction}",
        f"model.discriminator.width={options.width}",
    ]
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=overrides)


def judge(d: nn.Module, images: Tensor, conditions: Tensor) -> Tensor:
    """D's real/fake logits ``(N,)`` (an ACGAN D's class logits are left out)."""
    out = d(images, conditions)
    return out[0] if isinstance(out, tuple) else out


def pairwise_accuracy(right: Tensor, wrong: Tensor, valid: Tensor | None = None) -> float:
    """Share of rows (where ``valid``) whose right-condition logit is above the wrong one."""
    wins = right > wrong
    if valid is not None:
        wins = wins[valid]
    return wins.float().mean().item() if wins.numel() else float("nan")


def negatives(conditions: Tensor, table: BindingTable) -> tuple[Tensor, Tensor, Tensor]:
    """The wrongly bound conditions, another image's, and which rows have a real rebinding (rows
    without one fall back to another image's conditions, so they say nothing about binding)."""
    bound, other = rebound(conditions, table), mismatched(conditions)
    return bound, other, (bound != other).any(dim=1)


def shape_negatives(conditions: Tensor, table: BindingTable) -> tuple[Tensor, Tensor]:
    """Conditions with one object given another shape of its colour, and which rows have one
    (the rest fall back to another image's conditions)."""
    changed = reshaped(conditions, table)
    return changed, (changed != mismatched(conditions)).any(dim=1)


@torch.no_grad()
def held_out_scores(
    d: nn.Module, batches: Sequence[tuple[Tensor, Tensor]], table: BindingTable, per_batch: bool
) -> dict[str, float]:
    """``binding`` and ``content`` pairwise accuracies of D on held-out batches.

    Each image is judged on its own (D in eval mode: BatchNorm by its running statistics), or,
    with ``per_batch``, as the GAN step judges it: in training mode, in a batch whose rows are all
    right or all wrong, so that a BatchNorm D can tell the batches apart by their statistics.
    A copy of D judges, and the random reshaping draws from a generator of its own: training
    mode would move D's BatchNorm running statistics and its spectral norm's power iteration,
    and draws from the global generator would change training's, making the curve depend on
    how often it is scored.
    """
    d = copy.deepcopy(d).train(per_batch)
    right, bound_logits, other_logits, has_binding = [], [], [], []
    shape_logits, has_shape = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reshapes = [shape_negatives(conditions, table) for _, conditions in batches]
    for (images, conditions), (changed, changeable) in zip(batches, reshapes, strict=True):
        bound, other, valid = negatives(conditions, table)
        right.append(judge(d, images, conditions))
        bound_logits.append(judge(d, images, bound))
        other_logits.append(judge(d, images, other))
        shape_logits.append(judge(d, images, changed))
        has_binding.append(valid)
        has_shape.append(changeable)
    right_all, suffix = torch.cat(right), "_batch" if per_batch else ""
    return {
        f"binding{suffix}": pairwise_accuracy(
            right_all, torch.cat(bound_logits), torch.cat(has_binding)
        ),
        f"shape{suffix}": pairwise_accuracy(
            right_all, torch.cat(shape_logits), torch.cat(has_shape)
        ),
        f"content{suffix}": pairwise_accuracy(right_all, torch.cat(other_logits)),
    }


def scores(d: nn.Module, batches: Sequence[tuple[Tensor, Tensor]], table: BindingTable):
    """Both ways of judging (:func:`held_out_scores`): per image, and per batch."""
    return {
        **held_out_scores(d, batches, table, per_batch=False),
        **held_out_scores(d, batches, table, per_batch=True),
    }


def probe(model: str, options: Options) -> dict[str, Any]:
    """Train ``model``'s D on the probe task for ``options.steps`` steps; its curve and speed."""
    from hydra.utils import instantiate

    cfg = compose_model(model, options)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    spec = datamodule.spec
    torch.manual_seed(options.seed)
    factory = instantiate(cfg.model.discriminator)
    d = factory(image_size=spec.image_size, channels=spec.channels, cond_dim=spec.condition_dim)
    optimizer = build_optimizer(instantiate(cfg.model.d_opt), list(d.parameters()))
    table = BindingTable(spec.condition_names)
    held_out = [
        (datamodule.transform(images, train=False), conditions)
        for images, conditions in list(datamodule.val_dataloader())[: options.val_batches]
    ]
    if not held_out:
        raise ValueError(f"no held-out images: raise val_fraction (now {options.val_fraction})")
    curve: list[dict[str, float]] = []
    step, started = 0, time.perf_counter()
    while step < options.steps:
        for images, conditions in datamodule.train_dataloader():
            if step % options.every == 0:
                curve.append({"step": step, **scores(d, held_out, table)})
                log.info("%s step %d: %s", model, step, curve[-1])
            images = datamodule.transform(images, train=True)
            bound = wrong_conditions(conditions, options.mismatch_kind, table)
            other = mismatched(conditions)
            if options.joint:
                logits = judge(d, images.repeat(3, 1, 1, 1), torch.cat([conditions, bound, other]))
                real, fakes = logits[: len(images)], logits[len(images) :]
            else:
                real = judge(d, images, conditions)
                fakes = torch.cat([judge(d, images, bound), judge(d, images, other)])
            loss = F.binary_cross_entropy_with_logits(
                real, torch.ones_like(real)
            ) + F.binary_cross_entropy_with_logits(fakes, torch.zeros_like(fakes))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step == options.steps:
                break
    wall = time.perf_counter() - started
    curve.append({"step": step, **scores(d, held_out, table)})
    log.info("%s step %d: %s", model, step, curve[-1])
    return {
        "model": model,
        "joint": options.joint,
        "mismatch_kind": options.mismatch_kind,
        "discriminator": cfg.model.discriminator._target_,
        "steps": step,
        "wall_s": round(wall, 1),
        "steps_per_s": round(step / wall, 2),
        "final": curve[-1],
        "curve": curve,
    }


def plot(results: Sequence[dict[str, Any]], path: Path) -> None:
    """Binding and content accuracy against steps, one line per model: judged per image
    (solid) and per batch (dashed)."""
    panels = [
        Panel(
            title=f"{key}: right conditions above {what}",
            lines=[
                Line(
                    f"{r['model']}{label}",
                    [(p["step"], p[f"{key}{suffix}"]) for p in r["curve"]],
                    style=style,
                )
                for r in results
                for suffix, label, style in (("", "", ".-"), ("_batch", " (per batch)", ".--"))
            ],
            ylabel="held-out pairwise accuracy",
            ylim=(0.4, 1.02),
            hlines={"chance": 0.5},
        )
        for key, what in (
            ("binding", "wrongly bound"),
            ("shape", "one reshaped"),
            ("content", "another image's"),
        )
    ]
    plot_panels(panels, path)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = parse_key_values(sys.argv[1:] if argv is None else argv, Options(), USAGE)
    if options.steps < 1 or options.every < 1:
        print(f"steps and every must be >= 1.\n{USAGE}", file=sys.stderr)
        return 2
    # Another image's conditions are always among the negatives, so roll adds nothing.
    trainable = [kind for kind in MISMATCH_KINDS if kind != "roll"]
    if options.mismatch_kind not in trainable:
        kinds = ", ".join(trainable)
        print(f"mismatch_kind must be one of {kinds}.\n{USAGE}", file=sys.stderr)
        return 2
    if options.threads:
        torch.set_num_threads(options.threads)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "settings": dataclasses.asdict(options),
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    report["models"] = [probe(model, options) for model in options.models.split(",") if model]
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (out / "binding_probe.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report["models"], out / "binding_probe.png")
    log.info("wrote %s", out / "binding_probe.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
