"""StarGAN's translation accuracy and cycle reconstruction on fixed real faces (DESIGN §5).

``n_images`` real faces (the datamodule's test split, else val, else train; a fixed, seeded
choice) are translated to every single-domain change (``pl_module.single_domain_targets``: set
each hair colour, flip each other attribute), and a CelebA attribute classifier reads the
attributes back from each translation. Scores, with the default prefix ``stargan``:

- ``stargan_target_acc``: the share of target attributes read right, over every face, change
  and attribute (the changed attribute must change, the others must stay);
  ``stargan_target_acc_<change>`` per change (``stargan_target_acc_flip_Male``).
- ``stargan_changed_acc``: the same share over the changed attributes only (the paper's
  per-attribute transfer accuracy; 0 for a G that copies its input).
- ``stargan_all_acc``: the share of translations with every attribute right.
- ``stargan_rec_l1``: the cycle reconstruction error, mean |x - G(G(x, c'), c)| in [-1, 1] units
  (the training's cycle: translate to the target, then back to the original labels).

The scoring maths are the pure functions below; the callback feeds them the model and the data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor

from callbacks.periodic_score import PeriodicScore
from datamodules.errors import DataError
from datamodules.transforms import to_value_range

SPLITS = ("test", "val", "train")  # where the scored faces come from, in order of preference
PREFIX = "stargan"

Translate = Callable[[Tensor, Tensor], Tensor]  # (images, 0/1 targets) -> images, same range
Classify = Callable[[Tensor], Tensor]  # images in [-1, 1] -> 0/1 attributes (N, D)


class AttributeReader(Protocol):
    """Reads 0/1 attributes ``(N, D)`` (the model's domains, in order) from images in [-1, 1]."""

    def predict(self, images: Tensor) -> Tensor: ...


# Scoring maths


def change_key(name: str) -> str:
    """A change's name as a metric-key suffix: ``"flip Male"`` -> ``"flip_Male"``."""
    return "_".join(name.split())


def attribute_hits(predicted: Tensor, targets: Tensor) -> Tensor:
    """Bool ``(N, D)``: each attribute read as the target says (both thresholded at 0.5)."""
    if predicted.shape != targets.shape:
        raise ValueError(
            f"predictions {tuple(predicted.shape)} and targets {tuple(targets.shape)} differ"
        )
    return (predicted.cpu() > 0.5) == (targets.cpu() > 0.5)


def target_accuracy(
    predicted: Mapping[str, Tensor],
    targets: Mapping[str, Tensor],
    originals: Tensor | None = None,
    prefix: str = PREFIX,
) -> dict[str, float]:
    """Target-domain accuracy of translations, from the classifier's reading of them.

    Args:
        predicted: change name -> 0/1 attributes ``(N, D)`` read from the translations.
        targets: change name -> the 0/1 target labels ``(N, D)`` they were translated to.
        originals: the faces' own labels ``(N, D)``; given, ``{prefix}_changed_acc`` scores the
            attributes each change alters (left out when no change alters any).

    Returns:
        ``{prefix}_target_acc_<change>`` per change and ``{prefix}_target_acc`` overall (share of
        attributes right), ``{prefix}_all_acc`` (share of translations with every attribute
        right) and ``{prefix}_changed_acc``.
    """
    if not predicted or set(predicted) != set(targets):
        raise ValueError(
            f"predictions and targets must name the same changes, got {sorted(predicted)} and"
            f" {sorted(targets)}"
        )
    scores: dict[str, float] = {}
    hits, changed = [], []
    for name, target in targets.items():
        right = attribute_hits(predicted[name], target)
        scores[f"{prefix}_target_acc_{change_key(name)}"] = float(right.float().mean())
        hits.append(right)
        if originals is not None:
            changed.append(right[(target.cpu() > 0.5) != (originals.cpu() > 0.5)])
    every = torch.cat(hits)
    scores[f"{prefix}_target_acc"] = float(every.float().mean())
    scores[f"{prefix}_all_acc"] = float(every.all(1).float().mean())
    if changed and sum(len(c) for c in changed):
        scores[f"{prefix}_changed_acc"] = float(torch.cat(changed).float().mean())
    return scores


def to_signed_unit(images: Tensor, value_range: Sequence[float]) -> Tensor:
    """Images in ``value_range`` mapped linearly onto [-1, 1] (the classifier's input range)."""
    low, high = float(value_range[0]), float(value_range[1])
    return (images.float() - low) * (2.0 / (high - low)) - 1.0


def reconstruction_l1(
    images: Tensor, reconstructed: Tensor, value_range: Sequence[float] = (-1.0, 1.0)
) -> float:
    """Mean |x - x_rec| of images in ``value_range``, in [-1, 1] units (the cycle loss's L1)."""
    if images.shape != reconstructed.shape:
        raise ValueError(f"shapes differ: {tuple(images.shape)} and {tuple(reconstructed.shape)}")
    low, high = float(value_range[0]), float(value_range[1])
    error = (images.float().cpu() - reconstructed.float().cpu()).abs().mean()
    return float(error) * 2.0 / (high - low)


def in_batches(function: Translate, images: Tensor, labels: Tensor, batch_size: int) -> Tensor:
    """``function(images, labels)`` applied ``batch_size`` rows at a time, concatenated (CPU)."""
    return torch.cat(
        [
            function(x, c).cpu()
            for x, c in zip(images.split(batch_size), labels.split(batch_size), strict=True)
        ]
    )


def score_translations(
    translate: Translate,
    classify: Classify,
    images: Tensor,
    labels: Tensor,
    changes: Sequence[tuple[str, Tensor]],
    value_range: Sequence[float] = (-1.0, 1.0),
    batch_size: int = 64,
    prefix: str = PREFIX,
) -> dict[str, float]:
    """Translate ``images (N, C, H, W)`` (in ``value_range``, labels ``(N, D)``) to each change's
    targets, read the translations with ``classify``, and translate them back to ``labels``.

    Returns ``target_accuracy`` of the readings plus ``{prefix}_rec_l1``, the mean cycle
    reconstruction L1 over every change, in [-1, 1] units.
    """
    if not changes or len(images) == 0:
        raise ValueError("need at least one face and one change to score")
    predicted, targets, errors = {}, {}, []
    for name, target in changes:
        fake = in_batches(translate, images, target, batch_size)
        predicted[name] = classify(to_signed_unit(fake, value_range)).cpu()
        targets[name] = target.cpu()
        back = in_batches(translate, fake, labels, batch_size)
        errors.append(reconstruction_l1(images, back, value_range))
    scores = target_accuracy(predicted, targets, labels, prefix)
    scores[f"{prefix}_rec_l1"] = sum(errors) / len(errors)
    return scores


def choose_rows(n_total: int, n: int, seed: int) -> Tensor:
    """``min(n, n_total)`` distinct row indices drawn with ``seed``, in increasing order."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=generator)[:n].sort().values


def held_out_faces(datamodule: Any, n: int, seed: int) -> tuple[Tensor, Tensor, str] | None:
    """``n`` real faces of the datamodule as uint8 ``(n, 3, S, S)``, their 0/1 labels and the
    split they come from: the test split, else val, else train (a seeded choice of rows).

    A split-aware datamodule (``split_indices`` and ``cache(split)``, as CelebA's) is read through
    its image caches, whatever it has set up; any other through its ``test_set`` / ``val_set`` /
    ``train_set`` datasets. None when the datamodule gives no faces.
    """
    if datamodule is None:
        return None
    if hasattr(datamodule, "split_indices") and hasattr(datamodule, "cache"):
        for split in SPLITS:
            if len(datamodule.split_indices(split)):
                cached = datamodule.cache(split).load()
                rows = choose_rows(len(cached.images), n, seed)
                images = torch.from_numpy(np.asarray(cached.images[rows.numpy()]))
                return images, datamodule.conditions(cached.kept, split)[rows].float(), split
    for split in SPLITS:
        dataset = getattr(datamodule, f"{split}_set", None)
        if dataset is not None and len(dataset):
            rows = choose_rows(len(dataset), n, seed)
            images, labels = dataset.images[rows], dataset.conditions[rows]
            return images, labels.float(), split
    return None


# The callback


class TranslationAccuracy(PeriodicScore):
    """Every ``every_n_steps`` D steps and at the end of training, score the translations of
    fixed real faces (see the module doc), log the scores with ``d_steps`` and save ``best.ckpt``
    in ``best_dirpath`` when ``monitor`` improves.

    The module provides ``translate(images, targets)``, ``single_domain_targets(labels)``,
    ``domains``, ``spec`` and ``d_steps`` (as ``gans.stargan.StarGAN``).

    Args:
        evaluator: reads the model's domains, in its order, from images in [-1, 1]
            (``CelebAAttributeClassifier.from_checkpoint(path, attributes=data.attributes)``).
        n_images: real faces scored (all of the split when it holds fewer).
        every_n_steps: also score every this many D steps; None only at the end.
        monitor: the metric that picks the best checkpoint; None keeps none.
        mode: ``"max"`` (accuracies) or ``"min"`` (``stargan_rec_l1``).
        best_dirpath: folder of ``best.ckpt``.
        prefix: the metric names' prefix.
        seed: picks the faces, so every score is of the same faces.
        batch_size: faces translated at a time.
    """

    def __init__(
        self,
        evaluator: AttributeReader,
        n_images: int = 64,
        every_n_steps: int | None = 500,
        monitor: str | None = f"{PREFIX}_target_acc",
        mode: str = "max",
        best_dirpath: str | Path | None = None,
        prefix: str = PREFIX,
        seed: int = 0,
        batch_size: int = 64,
    ) -> None:
        super().__init__(every_n_steps, monitor, mode, best_dirpath)
        if n_images < 1 or batch_size < 1:
            raise ValueError(f"n_images and batch_size must be >= 1, got {n_images}, {batch_size}")
        self.evaluator = evaluator
        self.n_images = n_images
        self.prefix = prefix
        self.seed = seed
        self.batch_size = batch_size
        self.split: str | None = None  # where the scored faces came from
        self._faces: tuple[Tensor, Tensor] | None = None
        self._batch: tuple[Tensor, Tensor] | None = None  # the first training batch, a fallback

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._batch is None and getattr(trainer, "datamodule", None) is None:
            images, labels = batch
            self._batch = (images.detach().float().cpu(), labels.detach().float().cpu())

    def faces(self, pl_module: pl.LightningModule, datamodule: Any) -> tuple[Tensor, Tensor]:
        """The scored faces ``(N, C, H, W)`` in the data's range and their labels ``(N, D)``
        (chosen once, then reused)."""
        if self._faces is None:
            found = held_out_faces(datamodule, self.n_images, self.seed)
            if found is not None:
                images, labels, self.split = found
                self._faces = (to_value_range(images, pl_module.spec.value_range), labels)
            elif self._batch is not None:
                images, labels = self._batch
                self.split = "first training batch"
                self._faces = (images[: self.n_images], labels[: self.n_images])
            else:
                raise DataError(
                    "TranslationAccuracy needs real faces: a datamodule with a test, val or train"
                    " split (data=celeba or data=toy_celeba), or a training batch."
                )
        return self._faces

    @torch.no_grad()
    def score(self, pl_module: pl.LightningModule, datamodule: Any = None) -> dict[str, float]:
        """Target accuracies and cycle reconstruction L1 of ``pl_module``'s translations."""
        scored = getattr(self.evaluator, "scored", None)
        if scored is not None and tuple(scored) != tuple(pl_module.domains):
            raise DataError(
                f"The attribute classifier reads {list(scored)}, but the model's domains are"
                f" {list(pl_module.domains)}: load it with attributes= the model's"
                " data.attributes, in order."
            )
        images, labels = self.faces(pl_module, datamodule)
        return score_translations(
            pl_module.translate,
            self.evaluator.predict,
            images,
            labels,
            pl_module.single_domain_targets(labels),
            value_range=pl_module.spec.value_range,
            batch_size=self.batch_size,
            prefix=self.prefix,
        )
