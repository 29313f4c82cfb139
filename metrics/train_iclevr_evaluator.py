"""Train our own ICLEVR evaluator: the course's network and checkpoint format, on any ICLEVR set.

Users without the course's ``checkpoint.pth`` train a network of the same architecture (ResNet18,
``fc = Sequential(Linear(512, 24), Sigmoid())``) on ICLEVR-format training images and score with
it exactly as with the course's file::

    python -m metrics.train_iclevr_evaluator root=/data/iclevr out=/data/iclevr_eval/checkpoint.pth
    python -m metrics.train_iclevr_evaluator root=/tmp/toy_iclevr out=/tmp/toy_eval.pth toy=true

Arguments are ``key=value`` (defaults in ``Options``): ``root`` (an ICLEVR folder; with
``toy=true`` the procedural set is written there first, ``n_scenes`` scenes), ``out`` (the
checkpoint, written atomically as ``{"model": state_dict}``), ``epochs``, ``batch_size``, ``lr``
(Adam, cosine decay), ``image_size``, ``val_fraction`` (a share of the scenes held out; the top-k
accuracy on them is reported each epoch and the best epoch's weights are kept), ``seed`` and
``device``. Training uses multi-label BCE on the sigmoid outputs and random horizontal flips
(which keep every ICLEVR label true).

``image_size`` should be the resolution of the generator to be scored: images are read at it and
upsampled to 64x64 exactly as ``IclevrEvaluator`` upsamples generated images. An evaluator trained
at 64 scores toy images shrunk to 32 and upsampled at only ~0.5, so a 32x32 model needs one trained
with ``image_size=32``.
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
from torch import nn

from datamodules.errors import DataError
from datamodules.iclevr import IclevrDataModule
from datamodules.toy_iclevr import ToyIclevrDataModule
from datamodules.transforms import random_hflip, to_value_range
from metrics.command import parse_key_values, save_atomically
from metrics.iclevr_evaluator import (
    NUM_LABELS,
    PROTOCOL_SIZE,
    IclevrEvaluator,
    build_evaluator_network,
    topk_accuracy,
)
from metrics.resize import resize_square

log = logging.getLogger(__name__)


def train_evaluator(
    images: torch.Tensor,
    conditions: torch.Tensor,
    *,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 1e-3,
    val_fraction: float = 0.1,
    seed: int = 0,
    groups: torch.Tensor | None = None,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train the course's architecture on ``images`` with multi-hot ``conditions``.

    Seeds torch's global RNG with ``seed`` (weights, shuffling, flips) for a repeatable run.

    Args:
        images: uint8 ``(N, 3, S, S)``; mapped to [-1, 1] and resized to 64x64 per batch.
        conditions: ``(N, 24)`` multi-hot.
        val_fraction: share of groups held out (random, by ``seed``) to report the top-k
            accuracy each epoch; the weights of the best epoch are returned. 0: no holdout, the
            last epoch's weights.
        groups: int ``(N,)``; images of one group are held out together (ICLEVR writes a scene
            three times, with 1, 2 and 3 of its objects, so a split by image would leak).
            ``None``: every image is its own group.

    Returns:
        ``(network, history)``: the network in eval mode on ``device``, and per epoch a dict with
        ``epoch``, ``train_loss``, ``images_per_s`` and ``seconds`` (of the training pass) and
        ``val_acc`` (when images are held out).
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be uint8 (N, 3, S, S), got {images.dtype} {images.shape}")
    if conditions.shape != (len(images), NUM_LABELS):
        raise ValueError(f"conditions must be ({len(images)}, 24), got {tuple(conditions.shape)}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    torch.manual_seed(seed)
    val, train = split_groups(torch.arange(len(images)) if groups is None else groups, val_fraction)
    network = build_evaluator_network().to(device)
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
            inputs = _to_inputs(images[index].to(device), train=True)
            probs = network(inputs)
            loss = F.binary_cross_entropy(probs, conditions[index].to(device, torch.float32))
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
        if len(val):
            record["val_acc"] = held_out_accuracy(network, images[val], conditions[val])
            if record["val_acc"] > best_acc:
                best_acc, best_state = record["val_acc"], copy.deepcopy(network.state_dict())
        log.info(" ".join(f"{key}={value:.4g}" for key, value in record.items()))
        history.append(record)
    if best_state is not None:
        network.load_state_dict(best_state)
    return network.eval(), history


def split_groups(groups: torch.Tensor, val_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(val, train)`` of ``groups (N,)``: a random ``val_fraction`` of the groups."""
    names, index = groups.unique(return_inverse=True)
    held_out = torch.randperm(len(names))[: round(len(names) * val_fraction)]
    is_val = torch.isin(index, held_out)
    return is_val.nonzero().squeeze(1), (~is_val).nonzero().squeeze(1)


def scene_groups(names: Sequence[str]) -> torch.Tensor:
    """Scene ids ``(N,)`` of ICLEVR file names: ``CLEVR_train_001032_<k>.png`` → one id."""
    scenes = [name.rsplit("_", 1)[0] for name in names]
    ids = {scene: number for number, scene in enumerate(dict.fromkeys(scenes))}
    return torch.tensor([ids[scene] for scene in scenes], dtype=torch.long)


def held_out_accuracy(network: nn.Module, images: torch.Tensor, conditions: torch.Tensor) -> float:
    """The course's top-k accuracy of ``network`` on uint8 images ``(N, 3, S, S)``."""
    evaluator = IclevrEvaluator(network, next(network.parameters()).device)
    inputs = (_to_inputs(chunk, train=False) for chunk in images.split(256))
    return topk_accuracy(torch.cat([evaluator.predict(chunk) for chunk in inputs]), conditions)


def _to_inputs(images: torch.Tensor, train: bool) -> torch.Tensor:
    """uint8 ``(B, 3, S, S)`` → float ``(B, 3, 64, 64)`` in [-1, 1], flipped at random if train."""
    inputs = resize_square(to_value_range(images, (-1.0, 1.0)), PROTOCOL_SIZE)
    return random_hflip(inputs) if train else inputs


def save_checkpoint(network: nn.Module, path: str | Path) -> Path:
    """Write ``{"model": state_dict}`` (CPU tensors), the course's format, atomically."""
    return save_atomically({"model": copy.deepcopy(network).cpu().state_dict()}, path)


@dataclasses.dataclass
class Options:
    """The command's ``key=value`` arguments; ``root`` and ``out`` are required."""

    root: str = ""
    out: str = ""
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-3
    image_size: int = 64
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "cpu"
    toy: bool = False
    n_scenes: int = 3000


USAGE = (
    "usage: python -m metrics.train_iclevr_evaluator root=ICLEVR_ROOT out=PATH/checkpoint.pth"
    " [epochs=8 batch_size=64 lr=0.001 image_size=64 val_fraction=0.1 seed=0 device=cpu"
    " toy=false n_scenes=3000]"
)


def parse_args(argv: Sequence[str]) -> Options:
    """``key=value`` strings → ``Options``; a ``DataError`` with the usage on a bad argument."""
    return parse_key_values(argv, Options(), USAGE)


def load_training_set(options: Options) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ICLEVR training set at ``options.root`` (the toy set, written first, if ``toy``).

    Returns:
        uint8 images ``(N, 3, S, S)`` at ``image_size``, multi-hot conditions ``(N, 24)`` and
        scene groups ``(N,)``, read through the datamodule's image cache.
    """
    if options.toy:
        datamodule = ToyIclevrDataModule(
            options.root, n_scenes=options.n_scenes, image_size=options.image_size
        )
    else:
        datamodule = IclevrDataModule(options.root, image_size=options.image_size)
    datamodule.prepare_data()
    cached = datamodule.cache().load()
    files = datamodule.image_files()
    names = [files[i].name for i in cached.kept.tolist()]
    images = torch.from_numpy(np.array(cached.images))
    return images, datamodule.conditions(cached.kept), scene_groups(names)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (2 with a message on bad data or arguments)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
        images, conditions, groups = load_training_set(options)
        log.info("%d images (%d scenes) from %s", len(images), len(groups.unique()), options.root)
        network, history = train_evaluator(
            images,
            conditions,
            epochs=options.epochs,
            batch_size=options.batch_size,
            lr=options.lr,
            val_fraction=options.val_fraction,
            seed=options.seed,
            groups=groups,
            device=options.device,
        )
    except (DataError, ValueError) as err:  # bad data or arguments: a message, not a traceback
        print(f"\nlitgen: {err}\n", file=sys.stderr)
        return 2
    path = save_checkpoint(network, options.out)
    log.info("saved %s", path)
    if "val_acc" in history[-1]:
        log.info("best held-out top-k accuracy: %.4f", max(r["val_acc"] for r in history))
    return 0


if __name__ == "__main__":
    sys.exit(main())
