"""Train the anime hair/eye colour classifier that scores conditional generators (DESIGN §5).

::

    python -m metrics.train_anime_tags_classifier root=/data/anime out=/data/anime_tags_clf.pt
    python -m metrics.train_anime_tags_classifier root=/tmp/toy_anime out=/tmp/toy_clf.pt \
        toy=true image_size=32

Arguments are ``key=value`` (defaults in ``Options``): ``root`` (an MLDS folder with
``extra_data/``; with ``toy=true`` the procedural set is written there first, ``n_images``
images drawn with ``toy_seed``), ``out`` (the checkpoint, written atomically), ``image_size``
(the size images are read at and the classifier scores at: use the generator's size),
``epochs``, ``batch_size``, ``lr`` (Adam, cosine decay), ``val_fraction`` (held out; per-group
accuracy on it is reported each epoch and the best epoch's weights are kept), ``seed`` and
``device``. The colour vocabularies are those of ``conf/data/anime_tags.yaml``, so the one-hot
layout is the generators'. Training minimises the sum of the groups' cross-entropies, with random
horizontal flips (the tags are mirror-free) and no colour augmentation (colour is the label).
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
from omegaconf import OmegaConf

from datamodules.anime_tags import AnimeTagsDataModule
from datamodules.conditions import OneHotGroups
from datamodules.errors import DataError
from datamodules.toy_anime_tags import ToyAnimeTagsDataModule
from datamodules.transforms import random_hflip, to_value_range
from metrics.anime_tags_classifier import AnimeTagsClassifier, ColourNet, split_groups
from metrics.command import parse_key_values, save_atomically

log = logging.getLogger(__name__)

DATA_CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "anime_tags.yaml"


def train_classifier(
    images: torch.Tensor,
    conditions: torch.Tensor,
    groups: OneHotGroups,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 2e-3,
    val_fraction: float = 0.1,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[AnimeTagsClassifier, list[dict[str, float]]]:
    """Train a ``ColourNet`` to read each group's value from ``images``.

    Seeds torch's global RNG with ``seed`` (split, weights, shuffling, flips) for a repeatable run.

    Args:
        images: uint8 ``(N, 3, S, S)``; the classifier scores at ``S`` from then on.
        conditions: ``(N, groups.dim)``, one-hot per group (hair then eyes for the anime tags).
        groups: the vocabulary, e.g. ``datamodule.spec.vocab``.
        val_fraction: share of images held out at random to report accuracy each epoch; the
            weights of the epoch with the best ``acc_both`` are kept. 0: no holdout, the last
            epoch's weights.

    Returns:
        ``(classifier, history)``: per epoch a dict with ``epoch``, ``train_loss``,
        ``val_acc_<group>`` and ``val_acc_both`` (when held out), ``images_per_s``, ``seconds``.
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be uint8 (N, 3, S, S), got {images.dtype} {images.shape}")
    if conditions.shape != (len(images), groups.dim):
        raise ValueError(
            f"conditions must be (N, {groups.dim}) for {len(images)} images, got"
            f" {tuple(conditions.shape)}"
        )
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    torch.manual_seed(seed)
    order = torch.randperm(len(images))
    n_val = round(len(images) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    targets = torch.stack([part.argmax(1) for part in split_groups(conditions, groups)], dim=1)
    classifier = AnimeTagsClassifier(ColourNet(groups.dim), groups, images.shape[-1], device)
    network = classifier.network
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    steps_per_epoch = max(len(train) // batch_size, 1)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    history: list[dict[str, float]] = []
    best_acc, best_state = -math.inf, None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        network.train()
        shuffled = train[torch.randperm(len(train))][: steps_per_epoch * batch_size]
        losses = []
        for index in shuffled.split(batch_size):
            inputs = random_hflip(to_value_range(images[index].to(device), (-1.0, 1.0)))
            parts = split_groups(network(inputs), groups)
            wanted = targets[index].to(device)
            loss = sum(F.cross_entropy(part, wanted[:, g]) for g, part in enumerate(parts))
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
        if n_val:
            scores = classifier.accuracy(to_value_range(images[val], (-1.0, 1.0)), conditions[val])
            record |= {f"val_{key}": value for key, value in scores.items()}
            if record["val_acc_both"] > best_acc:
                best_acc, best_state = record["val_acc_both"], copy.deepcopy(network.state_dict())
        log.info(" ".join(f"{key}={value:.4g}" for key, value in record.items()))
        history.append(record)
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return classifier, history


def save_checkpoint(classifier: AnimeTagsClassifier, path: str | Path) -> Path:
    """Write ``classifier.to_checkpoint()`` to ``path`` atomically (temporary file + rename)."""
    return save_atomically(classifier.to_checkpoint(), path)


@dataclasses.dataclass
class Options:
    """The command's ``key=value`` arguments; ``root`` and ``out`` are required."""

    root: str = ""
    out: str = ""
    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3
    image_size: int = 64
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "cpu"
    toy: bool = False
    n_images: int = 4000
    toy_seed: int = 0


USAGE = (
    "usage: python -m metrics.train_anime_tags_classifier root=MLDS_ROOT out=PATH.pt"
    " [epochs=5 batch_size=64 lr=0.002 image_size=64 val_fraction=0.1 seed=0 device=cpu"
    " toy=false n_images=4000 toy_seed=0]"
)


def parse_args(argv: Sequence[str]) -> Options:
    """``key=value`` strings → ``Options``; a ``DataError`` with the usage on a bad argument."""
    return parse_key_values(argv, Options(), USAGE)


def load_training_set(options: Options) -> tuple[torch.Tensor, torch.Tensor, OneHotGroups]:
    """The tagged images at ``options.root`` (the toy set, written first, if ``toy``).

    Returns:
        uint8 images ``(N, 3, S, S)`` at ``image_size``, conditions ``(N, 22)`` and the
        vocabulary, read through the datamodule's image cache.
    """
    config = OmegaConf.load(DATA_CONFIG)
    colours = {"hair_colours": config.hair_colours, "eye_colours": config.eye_colours}
    if options.toy:
        datamodule = ToyAnimeTagsDataModule(
            options.root,
            **colours,
            n_images=options.n_images,
            toy_seed=options.toy_seed,
            image_size=options.image_size,
        )
    else:
        datamodule = AnimeTagsDataModule(options.root, **colours, image_size=options.image_size)
    datamodule.prepare_data()
    cached = datamodule.cache().load()
    images = torch.from_numpy(np.array(cached.images))
    return images, datamodule.conditions(cached.kept), datamodule.spec.vocab


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (2 with a message on bad input)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
        images, conditions, groups = load_training_set(options)
        log.info("%d tagged images at %dx%d from %s", len(images), *images.shape[-2:], options.root)
        classifier, history = train_classifier(
            images,
            conditions,
            groups,
            epochs=options.epochs,
            batch_size=options.batch_size,
            lr=options.lr,
            val_fraction=options.val_fraction,
            seed=options.seed,
            device=options.device,
        )
    except DataError as err:
        print(f"\nlitgen: {err}\n", file=sys.stderr)
        return 2
    path = save_checkpoint(classifier, options.out)
    best = max(history, key=lambda record: record.get("val_acc_both", -1.0))
    held_out = {key: round(value, 4) for key, value in best.items() if key.startswith("val_")}
    log.info("saved %s (held-out accuracy of the kept epoch: %s)", path, held_out or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
