"""Train the CelebA attribute classifier that scores conditional face generators (DESIGN §5).

::

    python -m metrics.train_celeba_classifier root=/data/celeba out=/data/celeba_clf.pt
    python -m metrics.train_celeba_classifier root=/tmp/toy_celeba out=/tmp/toy_clf.pt \
        toy=true image_size=32 attributes=Black_Hair,Blond_Hair,Brown_Hair,Male,Young

Arguments are ``key=value`` (defaults in ``Options``): ``root`` (a folder in the torchvision
CelebA layout; with ``toy=true`` the procedural set is written there first, ``n_images`` faces
drawn with ``toy_seed``), ``out`` (the checkpoint, written atomically), ``attributes`` (names of
``list_attr_celeba.txt`` columns, comma-separated; one logit each), ``image_size`` (the size
faces are read at, after the same 178×178 centre crop as ``data=celeba``, and the size the
classifier scores at: use the generator's size), ``epochs``, ``batch_size``, ``lr`` (Adam, cosine
decay), ``seed`` and ``device``. Training uses partition 0 (train) with random horizontal flips
(attributes are mirror-free) and minimises the mean binary cross-entropy of the attributes. After
every epoch the accuracy per attribute on partition 1 (val) is reported and the epoch with the
best mean is kept; the kept weights are then scored once on partition 2 (test), which took no
part in the choice.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from datamodules.celeba import DEFAULT_ATTRIBUTES, CelebADataModule
from datamodules.errors import DataError
from datamodules.toy_celeba import ToyCelebADataModule
from datamodules.transforms import random_hflip, to_value_range
from metrics.anime_tags_classifier import ColourNet
from metrics.celeba_classifier import MEAN, CelebAAttributeClassifier
from metrics.command import parse_key_values, save_atomically

log = logging.getLogger(__name__)

Split = tuple[torch.Tensor, torch.Tensor]  # uint8 images (N, 3, S, S), 0/1 conditions (N, k)


def train_classifier(
    images: torch.Tensor,
    conditions: torch.Tensor,
    attributes: Sequence[str],
    *,
    val: Split | None = None,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[CelebAAttributeClassifier, list[dict[str, float]]]:
    """Train a ``ColourNet`` with one logit per attribute on ``images``.

    Seeds torch's global RNG with ``seed`` (weights, shuffling, flips) for a repeatable run.

    Args:
        images: uint8 ``(N, 3, S, S)``; the classifier scores at ``S`` from then on.
        conditions: 0/1 ``(N, len(attributes))``.
        attributes: the attribute names, in column order.
        val: held-out ``(images, conditions)`` in the same format, scored after every epoch; the
            weights of the epoch with the best mean accuracy on it are kept. None: the last
            epoch's weights.

    Returns:
        ``(classifier, history)``: per epoch a dict with ``epoch``, ``train_loss``,
        ``val_acc_<attribute>``, ``val_acc_mean`` and ``val_acc_all`` (when ``val`` is given),
        ``images_per_s`` and ``seconds``.
    """
    attributes = tuple(attributes)
    _check_split(images, conditions, attributes, "images")
    if val is not None:
        _check_split(*val, attributes, "val images")
    if len(images) == 0:
        raise DataError("no training images: the train split (partition 0) is empty")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got {epochs}, {batch_size}")
    torch.manual_seed(seed)
    network = ColourNet(len(attributes))
    classifier = CelebAAttributeClassifier(network, attributes, images.shape[-1], device)
    network = classifier.network
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    batch_size = min(batch_size, len(images))
    steps_per_epoch = max(len(images) // batch_size, 1)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    targets = (conditions > 0.5).float()
    history: list[dict[str, float]] = []
    best_acc, best_state = -math.inf, None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        network.train()
        shuffled = torch.randperm(len(images))[: steps_per_epoch * batch_size]
        losses = []
        for index in shuffled.split(batch_size):
            inputs = random_hflip(to_value_range(images[index].to(device), (-1.0, 1.0)))
            loss = F.binary_cross_entropy_with_logits(network(inputs), targets[index].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - start
        record = {
            "epoch": epoch,
            "train_loss": sum(losses) / len(losses),
            "images_per_s": len(shuffled) / seconds,
            "seconds": seconds,
        }
        if val is not None and len(val[0]):
            record |= {f"val_{key}": value for key, value in score(classifier, val).items()}
            if record[f"val_{MEAN}"] > best_acc:
                best_acc, best_state = record[f"val_{MEAN}"], copy.deepcopy(network.state_dict())
        log.info(" ".join(f"{key}={value:.4g}" for key, value in record.items()))
        history.append(record)
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return classifier, history


def score(classifier: CelebAAttributeClassifier, split: Split) -> dict[str, float]:
    """``classifier.accuracy`` of uint8 images and their conditions."""
    images, conditions = split
    return classifier.accuracy(to_value_range(images, (-1.0, 1.0)), conditions)


def _check_split(
    images: torch.Tensor, conditions: torch.Tensor, attributes: tuple[str, ...], what: str
) -> None:
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{what} must be uint8 (N, 3, S, S), got {images.dtype} {images.shape}")
    if conditions.shape != (len(images), len(attributes)):
        raise ValueError(
            f"conditions of the {what} must be (N, {len(attributes)}) for {len(images)} images and"
            f" the attributes {list(attributes)}, got {tuple(conditions.shape)}"
        )


def save_checkpoint(classifier: CelebAAttributeClassifier, path: str | Path) -> Path:
    """Write ``classifier.to_checkpoint()`` to ``path`` atomically (temporary file + rename)."""
    return save_atomically(classifier.to_checkpoint(), path)


@dataclasses.dataclass
class Options:
    """The command's ``key=value`` arguments; ``root`` and ``out`` are required."""

    root: str = ""
    out: str = ""
    attributes: str = ",".join(DEFAULT_ATTRIBUTES)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    image_size: int = 64
    seed: int = 0
    device: str = "cpu"
    toy: bool = False
    n_images: int = 2000
    toy_seed: int = 0

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """``attributes`` split on commas (and spaces), blanks dropped."""
        return tuple(name for name in self.attributes.replace(",", " ").split() if name)


USAGE = (
    "usage: python -m metrics.train_celeba_classifier root=CELEBA_ROOT out=PATH.pt"
    f" [attributes={','.join(DEFAULT_ATTRIBUTES)} epochs=10 batch_size=64 lr=0.002 image_size=64"
    " seed=0 device=cpu toy=false n_images=2000 toy_seed=0]"
)


def parse_args(argv: Sequence[str]) -> Options:
    """``key=value`` strings → ``Options``; a ``DataError`` with the usage on a bad argument."""
    options = parse_key_values(argv, Options(), USAGE)
    if not options.attribute_names:
        raise DataError(f"attributes= names no attribute.\n{USAGE}")
    return options


def load_splits(options: Options) -> tuple[dict[str, Split], tuple[str, ...]]:
    """The train, val and test splits at ``options.root`` (the toy set, written first, if
    ``toy``), read through the datamodule's image caches.

    Returns:
        ``({split: (uint8 images (N, 3, S, S), 0/1 conditions (N, k))}, attribute names)``;
        an empty split is left out.
    """
    kwargs = {"attributes": options.attribute_names, "image_size": options.image_size}
    if options.toy:
        datamodule = ToyCelebADataModule(
            options.root, n_images=options.n_images, toy_seed=options.toy_seed, **kwargs
        )
    else:
        datamodule = CelebADataModule(options.root, **kwargs)
    datamodule.prepare_data()
    splits = {}
    for split in ("train", "val", "test"):
        if len(datamodule.split_indices(split)):
            cached = datamodule.cache(split).load()
            images = torch.from_numpy(np.array(cached.images))
            splits[split] = (images, datamodule.conditions(cached.kept, split))
    return splits, datamodule.vocab.names


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (2 with a message on bad input)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
        splits, attributes = load_splits(options)
        if "train" not in splits:
            raise DataError(f"{options.root}: list_eval_partition.txt has no train rows (0)")
        counts = ", ".join(f"{len(images)} {name}" for name, (images, _) in splits.items())
        size = splits["train"][0].shape[-1]
        log.info("%s faces at %dx%d from %s", counts, size, size, options.root)
        log.info("attributes %s", list(attributes))
        classifier, history = train_classifier(
            *splits["train"],
            attributes,
            val=splits.get("val"),
            epochs=options.epochs,
            batch_size=options.batch_size,
            lr=options.lr,
            seed=options.seed,
            device=options.device,
        )
    except DataError as err:
        print(f"\nlitgen: {err}\n", file=sys.stderr)
        return 2
    path = save_checkpoint(classifier, options.out)
    best = max(history, key=lambda record: record.get(f"val_{MEAN}", -1.0))
    held_out = {key: round(value, 4) for key, value in best.items() if key.startswith("val_")}
    log.info("saved %s", path)
    log.info("val accuracy of the kept epoch (%d): %s", best["epoch"], held_out or "no val split")
    if "test" in splits:
        tested = {key: round(value, 4) for key, value in score(classifier, splits["test"]).items()}
        log.info("test accuracy: %s", tested)
    return 0


if __name__ == "__main__":
    sys.exit(main())
