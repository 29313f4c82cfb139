"""Score a checkpoint: ``python evaluate.py ckpt_path=RUN/checkpoints/last.ckpt``.

Rebuilds the run from its saved config, then asks each of its metric callbacks (those with a
``score(pl_module, datamodule) -> dict`` method) to score the checkpoint's generator; prints a
table and writes the metrics as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from datamodules.errors import DataError
from datamodules.spec import DataSpec
from runtime import resolvers
from runtime.checkpoint import load_run
from runtime.errors import report_data_errors
from runtime.instantiate import instantiate_callbacks, instantiate_node

resolvers.register()


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """The metrics of ``cfg.ckpt_path`` by its run's metric callbacks (also written as JSON)."""
    run_cfg, datamodule, model = load_run(cfg.ckpt_path, cfg.get("run_overrides"))
    scorers = [c for c in instantiate_callbacks(run_cfg.get("callbacks")) if hasattr(c, "score")]
    if cfg.get("evaluator_ckpt"):
        scorers.append(evaluator_scorer(cfg, model))
    if cfg.get("image_metrics"):
        scorers.append(image_quality_scorer(cfg, model))
    metrics: dict[str, float] = {"d_steps": model.d_steps, "g_steps": model.g_steps}
    for scorer in scorers:
        metrics.update(scorer.score(model, datamodule))
    run_dir = Path(cfg.ckpt_path).parent.parent
    out = Path(cfg.out) if cfg.get("out") else run_dir / "eval_metrics.json"
    out.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    table = Table(title=f"{cfg.ckpt_path}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in sorted(metrics.items()):
        table.add_row(key, f"{value:.4g}")
    Console().print(table)
    Console().print(f"written to {out}")
    return metrics


def metric_preset(name: str) -> DictConfig:
    """``conf/metric/NAME.yaml`` set up to score a checkpoint once: no monitor, no best.ckpt."""
    preset = OmegaConf.load(Path(__file__).parent / "conf" / "metric" / f"{name}.yaml")
    preset.monitor, preset.best_dirpath = None, None
    return preset


def evaluator_scorer(cfg: DictConfig, model: Any) -> Any:
    """The metric preset for the model, scoring with ``cfg.evaluator_ckpt``: ``translation`` for
    an image-to-image model (one with ``translate``, as StarGAN), else the data's condition
    kind."""
    spec: DataSpec = model.spec
    kind = "translation" if hasattr(model, "translate") else spec.condition_kind
    name = cfg.metric_presets.get(kind)
    if name is None:
        raise DataError(
            f"evaluator_ckpt= scores conditional models; this checkpoint's data has condition kind"
            f" {kind!r} (presets exist for {sorted(cfg.metric_presets)})."
        )
    preset = metric_preset(name)
    preset.evaluator.path = str(cfg.evaluator_ckpt)
    if "attributes" in preset.evaluator:  # CelebA classifier: score the model's columns by name
        preset.evaluator.attributes = list(spec.condition_names)
    return instantiate_node(preset, "evaluator")


def image_quality_scorer(cfg: DictConfig, model: Any) -> Any:
    """``ImageQuality`` over ``cfg.n_images`` images: ``image_metrics=fid`` with
    ``inception_weights`` (fid, kid_*), ``image_metrics=fcd`` with ``classifier_ckpt`` in the
    feature space of the data's classifier (fcd, kcd_*; the preset by the data's name)."""
    kind = cfg.image_metrics
    if kind == "fid":
        preset = metric_preset("fid")
        preset.inception_weights = cfg.inception_weights
    elif kind == "fcd":
        data = model.spec.name.removeprefix("toy_")
        name = cfg.fcd_presets.get(data)
        if name is None:
            raise DataError(
                f"image_metrics=fcd has no classifier preset for the data {data!r} (fcd_presets"
                f" has {sorted(cfg.fcd_presets)}); use image_metrics=fid inception_weights=PATH."
            )
        if not cfg.get("classifier_ckpt"):
            raise DataError(
                f"image_metrics=fcd scores in a classifier's feature space: give"
                f" classifier_ckpt=PATH, a classifier of the data (conf/metric/{name}.yaml says"
                " how to train one)."
            )
        preset = metric_preset(name)
        preset.classifier.path = str(cfg.classifier_ckpt)
        preset.inception_weights = cfg.get("inception_weights")
    else:
        raise DataError(f"image_metrics must be fid, fcd or null, got {kind!r}")
    preset.n_images = cfg.n_images
    preset.every_n_steps = None
    return instantiate_node(preset, "image metric", _convert_="all")


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    report_data_errors(lambda: evaluate(cfg))


if __name__ == "__main__":
    main()
