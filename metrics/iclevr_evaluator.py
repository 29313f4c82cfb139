"""ICLEVR accuracy: the NYCU DLP course's evaluator, its checkpoint format and its top-k rule.

The course scores generated ICLEVR images with a torchvision ResNet18 whose ``fc`` is
``Sequential(Linear(512, 24), Sigmoid())``, loaded from ``checkpoint.pth`` as
``torch.load(path)["model"]``. Its ``eval(images, labels)`` feeds the images, 64x64 and already in
[-1, 1], straight into the network (no further normalization) and then, for each image with ``k``
objects, counts how many of the ``k`` labels with the highest predicted probabilities are true;
accuracy = correct / total objects. ``IclevrEvaluator`` reproduces that path number for number, so
the course's file loads unchanged; ``python -m metrics.train_iclevr_evaluator`` trains a network of
the same shape, saved in the same format, for users without it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet18

from datamodules.errors import DataError
from datamodules.iclevr import ICLEVR_OBJECTS
from metrics.resize import resize_square

NUM_LABELS = 24
# The course's network sees 64x64 inputs (its notes say it was trained on 32x32 renders upsampled
# to 64x64); other sizes are resized bilinearly to it, so a 32x32 generator can be scored too.
PROTOCOL_SIZE = 64
TRAIN_COMMAND = "python -m metrics.train_iclevr_evaluator root=ICLEVR_ROOT out=PATH/checkpoint.pth"
LAYOUT = (
    "a dict whose 'model' is the state_dict of torchvision resnet18 with"
    " fc = Sequential(Linear(512, 24), Sigmoid())"
)


def build_evaluator_network() -> nn.Module:
    """The course's network: ResNet18 (random init) with ``fc = Sequential(Linear, Sigmoid)``.

    Maps images ``(N, 3, 64, 64)`` in [-1, 1] to probabilities ``(N, 24)``.
    """
    network = resnet18(weights=None)
    network.fc = nn.Sequential(nn.Linear(512, NUM_LABELS), nn.Sigmoid())
    return network


def topk_accuracy(probs: torch.Tensor, conditions: torch.Tensor) -> float:
    """The course's rule: correct / total over the top-``k`` labels of each image with k objects.

    Rows are scored one at a time with ``torch.topk`` on the CPU, as the course's ``compute_acc``
    does, so ties between probabilities are broken exactly as there.

    Args:
        probs: ``(N, 24)`` predicted probabilities (or any scores; only their order matters).
        conditions: ``(N, 24)`` multi-hot, 0/1; row ``i`` has ``k_i`` objects (0 adds nothing).

    Returns:
        ``sum_i |topk(probs_i, k_i) ∩ objects_i| / sum_i k_i``.
    """
    if probs.ndim != 2 or probs.shape != conditions.shape:
        raise ValueError(
            f"probs and conditions must be (N, 24) of the same shape, got {tuple(probs.shape)}"
            f" and {tuple(conditions.shape)}"
        )
    conditions = conditions.detach().cpu()
    if not ((conditions == 0) | (conditions == 1)).all():
        raise ValueError("conditions must be multi-hot (every entry 0 or 1)")
    probs = probs.detach().cpu()
    correct = total = 0
    for scores, labels in zip(probs, conditions, strict=True):
        k = int(labels.sum().item())
        predicted = scores.topk(k).indices
        correct += int(labels[predicted].sum().item())
        total += k
    if total == 0:
        raise ValueError("the top-k accuracy needs at least one object in conditions")
    return correct / total


def object_errors(
    probs: torch.Tensor, conditions: torch.Tensor, names: list[str] | tuple[str, ...]
) -> dict[str, float]:
    """What the top-``k`` rule (:func:`topk_accuracy`) saw in place of each asked-for object,
    as shares of all asked-for objects: ``exact`` (found: the accuracy itself), ``swapped`` (its
    colour with a shape asked for on another object: colour and shape bound wrongly),
    ``wrong_shape`` (its colour with a shape not asked for), ``wrong_colour`` (its shape in
    another colour) and ``other``. Tells a generator that draws every object as a cube from
    one that mixes colours up. ``names`` are the labels' ``"<colour> <shape>"`` names.
    """
    parts = [name.split() for name in names]
    if len(parts) != probs.shape[1] or any(len(p) != 2 for p in parts):
        raise ValueError(f"names must be {probs.shape[1]} '<colour> <shape>' labels")
    counts = dict.fromkeys(("exact", "swapped", "wrong_shape", "wrong_colour", "other"), 0)
    for scores, labels in zip(probs.cpu(), conditions.cpu(), strict=True):
        wanted = set(labels.nonzero().flatten().tolist())
        top = set(scores.topk(len(wanted)).indices.tolist())
        extra = top - wanted
        for obj in wanted:
            colour, shape = parts[obj]
            same_colour = [parts[t][1] for t in extra if parts[t][0] == colour]
            asked_shapes = {parts[w][1] for w in wanted - {obj}}
            if obj in top:
                counts["exact"] += 1
            elif any(s in asked_shapes for s in same_colour):
                counts["swapped"] += 1
            elif same_colour:
                counts["wrong_shape"] += 1
            elif any(parts[t][1] == shape for t in extra):
                counts["wrong_colour"] += 1
            else:
                counts["other"] += 1
    total = sum(counts.values())
    if total == 0:
        raise ValueError("object_errors needs at least one object in conditions")
    return {key: value / total for key, value in counts.items()}


class IclevrEvaluator:
    """The course's ICLEVR classifier in eval mode, scoring images with the top-k rule.

    Args:
        network: the course's architecture (see ``build_evaluator_network``) with its weights.
        device: where the network runs; images are moved there, results come back on the CPU.
    """

    def __init__(
        self, network: nn.Module, device: str | torch.device = "cpu", object_errors: bool = False
    ) -> None:
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.object_errors = object_errors

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device = "cpu", object_errors: bool = False
    ) -> IclevrEvaluator:
        """Load a course-format ``checkpoint.pth``: ``{"model": state_dict}``, loaded strictly.
        ``object_errors`` makes :meth:`accuracy` report :func:`object_errors` too.

        Raises:
            DataError: naming the file when it is missing (and how to train our own), not a
                torch file, or not in the course's format (with the expected and found keys).
        """
        path = Path(path)
        network = build_evaluator_network()
        state = _read_state_dict(path)
        try:
            network.load_state_dict(state)  # strict, exactly as the course's code loads it
        except RuntimeError as err:
            found = _mismatch(state, network.state_dict()) or str(err)
            raise DataError(
                f"{path} does not hold the course's evaluator: expected {LAYOUT}; {found}"
            ) from err
        return cls(network, device, object_errors)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Probabilities ``(N, 24)`` on the CPU for images ``(N, 3, H, W)`` in [-1, 1].

        Images that are not 64x64 are resized bilinearly to 64x64 first; batches of
        ``batch_size`` keep memory bounded (eval mode, so a batch does not change the scores).
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected RGB images (N, 3, H, W), got {tuple(images.shape)}")
        self.network.eval()
        chunks = (chunk.to(self.device, torch.float32) for chunk in images.split(batch_size))
        return torch.cat(
            [self.network(resize_square(chunk, PROTOCOL_SIZE)).cpu() for chunk in chunks]
        )

    def accuracy(self, images: torch.Tensor, conditions: torch.Tensor) -> float | dict[str, float]:
        """The course's ``eval(images, labels)``: top-k accuracy of images for their conditions;
        with ``object_errors``, ``{"acc": accuracy, "obj_swapped": ..., ...}``: the accuracy and
        the :func:`object_errors` shares of the objects it missed.

        Args:
            images: float ``(N, 3, H, W)`` in [-1, 1]; resized to 64x64 if they are not.
            conditions: multi-hot ``(N, 24)`` in the order of ICLEVR's ``objects.json``.
        """
        probs = self.predict(images)
        accuracy = topk_accuracy(probs, conditions)
        if not self.object_errors:
            return accuracy
        errors = object_errors(probs, conditions, list(ICLEVR_OBJECTS))
        return {"acc": accuracy, **{f"obj_{k}": v for k, v in errors.items() if k != "exact"}}


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """``torch.load(path)["model"]`` (tensors only), or a ``DataError`` that names the file."""
    if not path.is_file():
        raise DataError(
            f"The ICLEVR evaluator checkpoint {path} does not exist. Use the course's"
            f" checkpoint.pth, or train our own evaluator of the same architecture on ICLEVR"
            f" training images: `{TRAIN_COMMAND}` (add toy=true for the procedural set)."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load fails with KeyError, EOFError, UnpicklingError, ...
        raise DataError(
            f"{path} is not a readable torch checkpoint (torch.load, weights_only=True):"
            f" {type(err).__name__}: {err}"
        ) from err
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        found = (
            f"keys {sorted(map(str, checkpoint))}"
            if isinstance(checkpoint, dict)
            else type(checkpoint).__name__
        )
        raise DataError(
            f"{path} is not an ICLEVR evaluator checkpoint: expected {LAYOUT}; found {found}"
        )
    return checkpoint["model"]


def _mismatch(state: dict, expected: dict[str, torch.Tensor], shown: int = 5) -> str:
    """Missing, unexpected and mis-shaped keys of ``state`` against ``expected``."""
    missing = [key for key in expected if key not in state]
    unexpected = [str(key) for key in state if key not in expected]
    misshaped = [
        f"{key} {_shape(state[key])} instead of {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and _shape(state[key]) != tuple(value.shape)
    ]
    named = {"missing keys": missing, "unexpected keys": unexpected, "wrong shapes": misshaped}
    return "; ".join(
        f"{len(keys)} {name}: {keys[:shown]}{' ...' if len(keys) > shown else ''}"
        for name, keys in named.items()
        if keys
    )


def _shape(value: object) -> tuple[int, ...] | str:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
