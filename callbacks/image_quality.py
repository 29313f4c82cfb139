"""Image quality of a generator: Fréchet and kernel distances between ``n_images`` generated and
``n_images`` real images (DESIGN §5), every N D steps and at the end of training, and in
``evaluate.py``.

With ``inception_weights`` (a local copy of the standard FID Inception v3 weights; they cannot be
downloaded here) it logs ``fid``, ``kid_mean``, ``kid_std``; with ``classifier`` (one of our
trained classifiers) the same distances in its feature space, named ``fcd``, ``kcd_mean``,
``kcd_std`` — never FID. Given both, it logs both. The distances come from torchmetrics
(``metrics.image_distance``).

The real images are a fixed, seeded choice of the datamodule's ``split`` (train by default); their
features are extracted once and kept. A conditional model generates one image per real image,
under that image's condition, so both sets follow the same condition distribution; an
unconditional one samples ``n`` images; an image-to-image model (StarGAN: ``translate``, no
``sample``) translates ``n`` other real images of the split to the chosen images' labels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor

from callbacks.periodic_score import PeriodicScore
from callbacks.translation_accuracy import choose_rows
from datamodules.errors import DataError
from datamodules.transforms import to_value_range
from metrics.image_distance import ClassifierFeatures, ImageDistance, InceptionFeatures

SPLITS = ("train", "val", "test")
NEEDS = (
    "ImageQuality needs inception_weights (a local copy of the standard FID Inception weights:"
    " +metric@callbacks.fid=fid callbacks.fid.inception_weights=PATH, or"
    " +metrics.fid.inception_weights=PATH with that preset) or a classifier to compute the"
    " distances in its feature space (fcd/kcd: +metric@callbacks.fcd=fcd_anime, fcd_celeba or"
    " fcd_iclevr with callbacks.fcd.classifier.path=PATH)."
)


def real_images(datamodule: Any, split: str, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``min(n, len(split))`` real images of the datamodule, uint8 ``(m, 3, S, S)``, with their
    float conditions ``(m, D)``: a seeded choice of rows of its ``{split}_set`` (set up first if
    it is not), else, for a split-aware datamodule (CelebA), of that split's image cache.

    Raises:
        DataError: when there is no datamodule or the split has no images (naming the split).
    """
    if datamodule is None:
        raise DataError(
            "ImageQuality compares generated images with the datamodule's real images, but got no"
            " datamodule (pass it to trainer.fit, or score through evaluate.py)."
        )
    dataset = getattr(datamodule, f"{split}_set", None)
    if dataset is None and hasattr(datamodule, "setup"):
        if hasattr(datamodule, "prepare_data"):
            datamodule.prepare_data()
        datamodule.setup("fit")
        dataset = getattr(datamodule, f"{split}_set", None)
    if dataset is not None and len(dataset):
        rows = choose_rows(len(dataset), n, seed)
        return dataset.images[rows], dataset.conditions[rows].float()
    split_aware = hasattr(datamodule, "split_indices") and hasattr(datamodule, "cache")
    if split_aware and len(datamodule.split_indices(split)):
        cached = datamodule.cache(split).load()
        rows = choose_rows(len(cached.images), n, seed)
        images = torch.from_numpy(np.asarray(cached.images[rows.numpy()]))
        return images, datamodule.conditions(cached.kept, split)[rows].float()
    raise DataError(
        f"{type(datamodule).__name__} has no {split!r} images to compare generated images with"
        + (" (data.val_fraction=0 leaves no val set)" if split == "val" else "")
        + "; choose another split (callbacks.NAME.split=train)."
    )


def generated_images(
    pl_module: pl.LightningModule,
    conditions: Tensor,
    batch_size: int,
    sources: Tensor | None = None,
    sample_kwargs: Mapping[str, Any] | None = None,
) -> Iterator[Tensor]:
    """Batches of generated images in [0, 1], one per row of ``conditions (n, D)``.

    A conditional model samples under the conditions (D > 0), an unconditional one samples ``n``
    images; with ``sources`` (uint8 real images, StarGAN), ``translate`` maps them to the
    conditions.
    """
    device = pl_module.device
    kwargs = dict(sample_kwargs or {})
    if sources is not None:
        spec = pl_module.spec
        for images, targets in zip(
            sources.split(batch_size), conditions.split(batch_size), strict=True
        ):
            x = to_value_range(images.to(device), spec.value_range)
            yield spec.to_unit(pl_module.translate(x, targets.to(device)).float())
        return
    hparams = getattr(pl_module, "hparams", {})
    conditional = bool(hparams.get("conditional", False)) and conditions.shape[1] > 0
    for y in conditions.split(batch_size):
        if conditional:
            yield pl_module.sample(y=y.to(device), **kwargs)
        else:
            yield pl_module.sample(len(y), **kwargs)


class ImageQuality(PeriodicScore):
    """Every ``every_n_steps`` D steps and at the end of training, the distances between
    ``n_images`` generated and real images (see the module doc), logged with ``d_steps``;
    ``best.ckpt`` in ``best_dirpath`` when ``monitor`` (e.g. ``fcd``) improves (lower is better).

    Args:
        n_images: real images to compare with (fewer if the split has fewer), and as many
            generated ones; FID is biased upwards at small N, so compare scores at one N only.
        inception_weights: the FID Inception v3 weights file (``fid``, ``kid_*``); None: none.
        classifier: a trained classifier (``IclevrEvaluator``, ``AnimeTagsClassifier``,
            ``CelebAAttributeClassifier``, as Hydra builds it from a ``_target_`` node) whose
            penultimate features give ``fcd``, ``kcd_*``; None: none.
        batch_size: images generated and featurised at a time.
        split: where the real images come from: ``train``, ``val`` or ``test``.
        every_n_steps: also score every this many D steps; None only at the end.
        monitor: the metric that picks the best checkpoint; None keeps none.
        best_dirpath: folder of ``best.ckpt``.
        inception_feature: the Inception layer (2048 is FID; another is logged as ``fid64`` ...).
        kid_subsets, kid_subset_size: KID's subsets (size None: ``min(1000, n // 2)``).
        sample_kwargs: extra arguments of ``pl_module.sample`` (a flow's ``temperature``).
        seed: seeds the choice of real images, the generator's noise and KID's subsets.

    Raises:
        DataError: with neither ``inception_weights`` nor ``classifier`` (naming both options), or
            for a bad weights file (naming it).
    """

    def __init__(
        self,
        n_images: int = 1000,
        inception_weights: str | Path | None = None,
        classifier: Any = None,
        batch_size: int = 100,
        split: Literal["train", "val", "test"] = "train",
        every_n_steps: int | None = None,
        monitor: str | None = None,
        best_dirpath: str | Path | None = None,
        inception_feature: int = 2048,
        kid_subsets: int = 100,
        kid_subset_size: int | None = None,
        sample_kwargs: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(every_n_steps, monitor, "min", best_dirpath)
        if n_images < 2:
            raise ValueError(f"n_images must be at least 2, got {n_images}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        if inception_weights is None and classifier is None:
            raise DataError(NEEDS)
        extractors = []
        if inception_weights is not None:
            extractors.append(InceptionFeatures.from_weights(inception_weights, inception_feature))
        if classifier is not None:
            extractors.append(ClassifierFeatures(classifier))
        self.distances = [
            ImageDistance(
                extractor,
                kid_subsets=kid_subsets,
                kid_subset_size=kid_subset_size,
                kid_seed=seed,
                batch_size=batch_size,
            )
            for extractor in extractors
        ]
        self.n_images = n_images
        self.batch_size = batch_size
        self.split = split
        self.sample_kwargs = dict(sample_kwargs or {})
        self.seed = seed
        self._real_of: int | None = None  # id of the datamodule whose real features are held

    @property
    def names(self) -> list[str]:
        """The keys ``score`` returns."""
        return [
            key
            for d in self.distances
            for key in (d.names.frechet, f"{d.names.kernel}_mean", f"{d.names.kernel}_std")
        ]

    @torch.no_grad()
    def score(self, pl_module: pl.LightningModule, datamodule: Any = None) -> dict[str, float]:
        """``{fid, kid_mean, kid_std}`` and / or ``{fcd, kcd_mean, kcd_std}`` of the module."""
        device = pl_module.device
        translating = not hasattr(pl_module, "sample") and hasattr(pl_module, "translate")
        n_rows = 2 * self.n_images if translating else self.n_images
        images, conditions = real_images(datamodule, self.split, n_rows, self.seed)
        sources = None
        if translating:
            half = len(images) // 2
            if half < 2:
                raise DataError(f"the {self.split!r} split has too few images to translate")
            images, sources = images[:half], images[half : 2 * half]
            conditions = conditions[:half]
        for distance in self.distances:
            distance.to(device)
            if self._real_of != id(datamodule):
                distance.reset(real=True)
                distance.update(images, real=True)
        self._real_of = id(datamodule)
        metrics: dict[str, float] = {}
        with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device]):
            torch.manual_seed(self.seed)
            batches = generated_images(
                pl_module, conditions, self.batch_size, sources, self.sample_kwargs
            )
            for batch in batches:
                for distance in self.distances:
                    distance.update(batch, real=False)
        for distance in self.distances:
            metrics.update(distance.compute())
            distance.reset()
        return metrics
