"""CelebA condition accuracy: a small multi-label attribute classifier that scores generated faces.

A conditional CelebA model conditions on a 0/1 vector of binary attributes (``Attributes``, e.g.
``[Male, Smiling, Pale_Skin, Goatee]``). A classifier trained on real (or procedural) faces reads
every attribute back from a generated face; the share read back as conditioned is the condition
accuracy (DESIGN §5). The network is the anime study's ``ColourNet`` (four conv blocks, global
average + max pooling) with one logit per attribute, trained with binary cross-entropy.
``python -m metrics.train_celeba_classifier`` trains one and saves it as
``{"model": state_dict, "attributes": [name, ...], "image_size": S}``.

Scoring a model whose attributes differ from the classifier's: give ``attributes`` (the
condition columns' names, in the model's order, e.g. ``data.attributes``) and the classifier
scores each column by name with its own logit of that name, so one classifier trained on many
attributes scores any model conditioned on a subset of them, in any order. A name the classifier
was not trained on is a ``DataError`` naming both lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from datamodules.errors import DataError
from metrics.anime_tags_classifier import ColourNet
from metrics.resize import resize_square

TRAIN_COMMAND = (
    "`python -m metrics.train_celeba_classifier root=CELEBA_ROOT out=PATH.pt` (add toy=true"
    " image_size=32 for the procedural set, attributes=Male,Smiling,... for other attributes)"
)
LAYOUT = "a dict {'model': ColourNet state_dict, 'attributes': [name, ...], 'image_size': int}"
MEAN = "acc_mean"
ALL_RIGHT = "acc_all"


class CelebAAttributeClassifier:
    """A trained ``ColourNet`` in eval mode with its attribute names and input size.

    Args:
        network: ``ColourNet`` with one output (logit) per name of ``attributes``.
        attributes: the attributes it was trained on, in output order.
        image_size: the size it was trained at; every input is resized to it first.
        device: where the network runs; results come back on the CPU.
        scored: the names of the condition columns ``accuracy`` receives, in their order (the
            scored model's ``data.attributes``); None: ``attributes`` itself. Each must be one of
            ``attributes``.
    """

    def __init__(
        self,
        network: nn.Module,
        attributes: Sequence[str],
        image_size: int,
        device: str | torch.device = "cpu",
        scored: Sequence[str] | None = None,
    ) -> None:
        self.attributes = tuple(str(name) for name in attributes)
        if not self.attributes or len(set(self.attributes)) != len(self.attributes):
            raise DataError(
                f"classifier attributes must be non-empty and distinct, got {list(self.attributes)}"
            )
        self.scored = self.attributes if scored is None else tuple(str(name) for name in scored)
        unknown = [name for name in self.scored if name not in self.attributes]
        if unknown or not self.scored or len(set(self.scored)) != len(self.scored):
            raise DataError(
                f"The conditions to score name the attributes {list(self.scored)}, but this"
                f" classifier was trained on {list(self.attributes)}"
                f"{f' (unknown: {unknown})' if unknown else ' (names must be distinct)'}. Train"
                f" one on the model's attributes: {TRAIN_COMMAND}."
            )
        self.columns = [self.attributes.index(name) for name in self.scored]
        self.image_size = image_size
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device = "cpu",
        attributes: Sequence[str] | None = None,
    ) -> CelebAAttributeClassifier:
        """Load ``{"model", "attributes", "image_size"}`` as written by ``to_checkpoint``.

        Args:
            attributes: the names of the condition columns to score (e.g. ``data.attributes``);
                None: the classifier's own attributes, in its order.

        Raises:
            DataError: naming the file when it is missing (with the command that trains one),
                not a torch file, or not in this format (with what was found); naming both lists
                when ``attributes`` holds a name the classifier was not trained on.
        """
        path = Path(path)
        checkpoint = _read_checkpoint(path)
        try:
            names = checkpoint["attributes"]
            if isinstance(names, str) or not all(isinstance(name, str) for name in names):
                raise TypeError(f"'attributes' must be a list of names, got {names!r}")
            network = ColourNet(len(names))
            network.load_state_dict(checkpoint["model"])
            image_size = int(checkpoint["image_size"])
        except (AttributeError, KeyError, RuntimeError, TypeError, ValueError) as err:
            raise DataError(
                f"{path} is not a CelebA attribute classifier: expected {LAYOUT}; {err}"
            ) from err
        try:
            return cls(network, names, image_size, device, attributes)
        except DataError as err:
            raise DataError(f"{path}: {err}") from err

    def to_checkpoint(self) -> dict:
        """``{"model": CPU state_dict, "attributes": [name, ...], "image_size": S}``."""
        return {
            "model": {key: value.cpu() for key, value in self.network.state_dict().items()},
            "attributes": list(self.attributes),
            "image_size": self.image_size,
        }

    @torch.no_grad()
    def logits(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Logits ``(N, len(attributes))`` on the CPU for images ``(N, 3, H, W)`` in [-1, 1],
        in the classifier's own attribute order."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected RGB images (N, 3, H, W), got {tuple(images.shape)}")
        self.network.eval()
        chunks = [
            self.network(resize_square(chunk.to(self.device, torch.float32), self.image_size)).cpu()
            for chunk in images.split(batch_size)
        ]
        return torch.cat(chunks) if chunks else torch.empty(0, len(self.attributes))

    def predict(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """0/1 float ``(N, len(scored))``: each scored attribute present (logit > 0) or not."""
        return (self.logits(images, batch_size)[:, self.columns] > 0).float()

    def accuracy(self, images: torch.Tensor, conditions: torch.Tensor) -> dict[str, float]:
        """Share of images whose attributes are read back as conditioned.

        Args:
            images: ``(N, 3, H, W)`` in [-1, 1], N > 0.
            conditions: ``(N, len(scored))`` 0/1, one column per name of ``scored``.

        Returns:
            ``{"acc_<Attribute>": ...}`` per scored attribute (e.g. ``acc_Male``), ``acc_mean``
            (their mean) and ``acc_all`` (the share with every attribute right).

        Raises:
            DataError: when the conditions' width is not the number of scored attributes (a
                classifier for other attributes), naming both.
        """
        if conditions.ndim == 2 and conditions.shape[1] != len(self.scored):
            raise DataError(
                f"The conditions have {conditions.shape[1]} columns but this classifier scores"
                f" {len(self.scored)} attributes, {list(self.scored)} (trained on"
                f" {list(self.attributes)}). Give it the model's attribute names in order"
                " (from_checkpoint(..., attributes=data.attributes)) or train one on them:"
                f" {TRAIN_COMMAND}."
            )
        if conditions.shape != (len(images), len(self.scored)) or len(images) == 0:
            raise ValueError(
                f"expected N > 0 images and conditions (N, {len(self.scored)}) for the attributes"
                f" {list(self.scored)}, got {tuple(images.shape)} and {tuple(conditions.shape)}"
            )
        right = self.predict(images) == (conditions.cpu() > 0.5).float()
        per_attribute = right.float().mean(0).tolist()
        scores = {
            f"acc_{name}": value for name, value in zip(self.scored, per_attribute, strict=True)
        }
        scores[MEAN] = sum(per_attribute) / len(per_attribute)
        scores[ALL_RIGHT] = float(right.all(1).float().mean())
        return scores


def _read_checkpoint(path: Path) -> dict:
    """``torch.load(path)`` as a dict with the three keys, or a ``DataError`` naming the file."""
    if not path.is_file():
        raise DataError(
            f"The CelebA attribute classifier {path} does not exist. Train one on attribute-"
            f"labelled faces: {TRAIN_COMMAND}."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load fails with KeyError, EOFError, UnpicklingError, ...
        raise DataError(
            f"{path} is not a readable torch checkpoint (torch.load, weights_only=True):"
            f" {type(err).__name__}: {err}. Train a classifier with {TRAIN_COMMAND}."
        ) from err
    expected = {"model", "attributes", "image_size"}
    if not isinstance(checkpoint, dict) or not expected <= set(checkpoint):
        found = (
            f"keys {sorted(map(str, checkpoint))}"
            if isinstance(checkpoint, dict)
            else type(checkpoint).__name__
        )
        raise DataError(
            f"{path} is not a CelebA attribute classifier: expected {LAYOUT}; found {found}"
        )
    return checkpoint
