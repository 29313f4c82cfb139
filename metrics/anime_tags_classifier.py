"""Anime condition accuracy: a small hair/eye colour classifier that scores generated images.

The anime study conditions on one hair and one eye colour (``OneHotGroups``: hair 12 then eyes
10). A classifier trained on tagged images (MLDS ``extra_data`` or the procedural toy set, whose
tags are true by construction) reads both colours back from a generated image; the share read
back right is the condition accuracy (DESIGN §5). Colour needs no deep network, so ``ColourNet``
is four conv blocks, fast on a CPU. ``python -m metrics.train_anime_tags_classifier`` trains one
and saves it as ``{"model": state_dict, "groups": [[name, [values...]], ...], "image_size": S}``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from datamodules.conditions import OneHotGroups
from datamodules.errors import DataError
from metrics.resize import resize_square

TRAIN_COMMAND = (
    "`python -m metrics.train_anime_tags_classifier root=MLDS_ROOT out=PATH.pt` (add toy=true"
    " image_size=32 for the procedural set)"
)
LAYOUT = (
    "a dict {'model': ColourNet state_dict, 'groups': [[name, [values...]], ...],"
    " 'image_size': int}"
)
ALL_RIGHT = "acc_both"
CHANNELS = (3, 16, 32, 64, 64)  # ColourNet: input, then its four conv blocks


class ColourNet(nn.Module):
    """Images ``(N, 3, S, S)`` in [-1, 1] → logits ``(N, sum of group sizes)``.

    Four blocks of 3x3 conv (16, 32, 64, 64 channels) + BatchNorm + ReLU, the first three
    followed by a 2x2 max-pool, then global average and max pooling concatenated (128 features)
    and one linear layer whose outputs are read group by group (``[:12]`` hair, ``[12:]`` eyes):
    one linear head per group, stored as one layer. The global max keeps a small region's colour
    (an iris is a few pixels wide) from being averaged away by the face around it. Any ``S`` works;
    ``AnimeTagsClassifier`` feeds it the size it was trained at.
    """

    def __init__(self, n_outputs: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(CHANNELS[:-1], CHANNELS[1:], strict=True)):
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
            blocks += [nn.ReLU(inplace=True)] + ([nn.MaxPool2d(2)] if i < 3 else [])
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(2 * CHANNELS[-1], n_outputs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(images)
        pooled = torch.cat([features.mean((2, 3)), features.amax((2, 3))], dim=1)
        return self.head(pooled)


def split_groups(vectors: torch.Tensor, groups: OneHotGroups) -> list[torch.Tensor]:
    """Split ``(N, dim)`` logits or one-hots into one ``(N, len(values))`` slice per group."""
    return list(vectors.split([len(values) for _, values in groups.groups], dim=1))


class AnimeTagsClassifier:
    """A trained ``ColourNet`` in eval mode with its vocabulary and input size.

    Args:
        network: ``ColourNet`` with ``groups.dim`` outputs.
        groups: the vocabulary it was trained on; its order fixes the condition layout, so score
            only conditions from the same vocabulary (compare with ``datamodule.spec.vocab``).
        image_size: the size it was trained at; every input is resized to it first, so a 64x64
            image is scored as the 32x32 image it would be for a classifier trained at 32.
        device: where the network runs; results come back on the CPU.
    """

    def __init__(
        self,
        network: nn.Module,
        groups: OneHotGroups,
        image_size: int,
        device: str | torch.device = "cpu",
    ) -> None:
        self.groups = groups
        self.image_size = image_size
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device = "cpu"
    ) -> AnimeTagsClassifier:
        """Load ``{"model", "groups", "image_size"}`` as written by ``to_checkpoint``.

        Raises:
            DataError: naming the file when it is missing (with the command that trains one),
                not a torch file, or not in this format (with what was found).
        """
        path = Path(path)
        checkpoint = _read_checkpoint(path)
        try:
            groups = OneHotGroups(tuple((name, tuple(vs)) for name, vs in checkpoint["groups"]))
            network = ColourNet(groups.dim)
            network.load_state_dict(checkpoint["model"])
            image_size = int(checkpoint["image_size"])
        except (AttributeError, DataError, KeyError, RuntimeError, TypeError, ValueError) as err:
            raise DataError(
                f"{path} is not an anime tags classifier: expected {LAYOUT}; {err}"
            ) from err
        return cls(network, groups, image_size, device)

    def to_checkpoint(self) -> dict:
        """``{"model": CPU state_dict, "groups": [[name, [values...]], ...], "image_size": S}``."""
        return {
            "model": {key: value.cpu() for key, value in self.network.state_dict().items()},
            "groups": [[name, list(values)] for name, values in self.groups.groups],
            "image_size": self.image_size,
        }

    @torch.no_grad()
    def logits(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Logits ``(N, groups.dim)`` on the CPU for images ``(N, 3, H, W)`` in [-1, 1]."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected RGB images (N, 3, H, W), got {tuple(images.shape)}")
        self.network.eval()
        chunks = [
            self.network(resize_square(chunk.to(self.device, torch.float32), self.image_size)).cpu()
            for chunk in images.split(batch_size)
        ]
        return torch.cat(chunks) if chunks else torch.empty(0, self.groups.dim)

    def predict(self, images: torch.Tensor, batch_size: int = 256) -> list[torch.Tensor]:
        """Per group, the predicted value index, long ``(N,)``: ``[hair (N,), eyes (N,)]``."""
        logits = self.logits(images, batch_size)
        return [part.argmax(1) for part in split_groups(logits, self.groups)]

    def accuracy(self, images: torch.Tensor, conditions: torch.Tensor) -> dict[str, float]:
        """Share of images whose colours are read back as conditioned.

        Args:
            images: ``(N, 3, H, W)`` in [-1, 1], N > 0.
            conditions: ``(N, groups.dim)`` one-hot per group (the generator's input).

        Returns:
            ``{"acc_<group>": ...}`` per group (``acc_hair``, ``acc_eyes``) and ``acc_both``, the
            share with every group right.
        """
        if conditions.shape != (len(images), self.groups.dim) or len(images) == 0:
            raise ValueError(
                f"expected N > 0 images and conditions (N, {self.groups.dim}), got"
                f" {tuple(images.shape)} and {tuple(conditions.shape)}"
            )
        targets = [part.argmax(1) for part in split_groups(conditions.cpu(), self.groups)]
        right = torch.stack(
            [pred == target for pred, target in zip(self.predict(images), targets, strict=True)]
        )
        scores = {
            f"acc_{name}": int(row.sum()) / len(images)
            for (name, _), row in zip(self.groups.groups, right, strict=True)
        }
        scores[ALL_RIGHT] = int(right.all(0).sum()) / len(images)
        return scores


def _read_checkpoint(path: Path) -> dict:
    """``torch.load(path)`` as a dict with the three keys, or a ``DataError`` naming the file."""
    if not path.is_file():
        raise DataError(
            f"The anime tags classifier {path} does not exist. Train one on tagged images:"
            f" {TRAIN_COMMAND}."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load fails with KeyError, EOFError, UnpicklingError, ...
        raise DataError(
            f"{path} is not a readable torch checkpoint (torch.load, weights_only=True):"
            f" {type(err).__name__}: {err}. Train a classifier with {TRAIN_COMMAND}."
        ) from err
    expected = {"model", "groups", "image_size"}
    if not isinstance(checkpoint, dict) or not expected <= set(checkpoint):
        found = (
            f"keys {sorted(map(str, checkpoint))}"
            if isinstance(checkpoint, dict)
            else type(checkpoint).__name__
        )
        raise DataError(f"{path} is not an anime tags classifier: expected {LAYOUT}; found {found}")
    return checkpoint
