"""Check that a checkpoint holds the weights of the model about to use it, before anything runs.

Given another model's checkpoint (a Glow run's for a GAN, a run with other network widths),
``load_state_dict`` fails only once training or sampling has started, with hundreds of key names.
These checks name the file, say what differs and what to do instead.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from datamodules.errors import DataError

SHOWN = 3
# ckpt_path values that Lightning resolves itself (besides "registry:NAME"), not file names.
LIGHTNING_KEYWORDS = ("last", "best", "hpc")


def describe_mismatch(saved: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    """Why the state dict ``saved`` (a checkpoint's) does not load into a model whose own state
    dict is ``expected``, in a sentence; None when every key is there with its shape."""
    missing = [key for key in expected if key not in saved]
    unexpected = [key for key in saved if key not in expected]
    if missing or unexpected:
        theirs, ours = _submodules(saved), _submodules(expected)
        if theirs != ours:
            return (
                f"it holds the weights of the submodules {theirs}, this model has {ours}: it is"
                " a checkpoint of another kind of model"
            )
        return (
            f"{len(missing)} of this model's weights are not in it{_examples(missing)} and"
            f" {len(unexpected)} of its weights are not in this model{_examples(unexpected)}:"
            " the networks are built differently (another model= or network option)"
        )
    resized = [
        key
        for key, value in expected.items()
        if hasattr(value, "shape") and tuple(saved[key].shape) != tuple(value.shape)
    ]
    if resized:
        key = resized[0]
        return (
            f"{len(resized)} weights have other shapes, e.g. {key} is"
            f" {tuple(saved[key].shape)} in it and {tuple(expected[key].shape)} in this model:"
            " it was trained with other network sizes or image size"
        )
    return None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` (tensors on the CPU, memory-mapped), or a ``DataError`` naming
    the file when it is missing or not a checkpoint written by train.py."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"Checkpoint {path} does not exist. Pass ckpt_path=RUN_DIR/checkpoints/last.ckpt of a"
            " train.py run."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError:
        raise DataError(
            f"{path} holds Python objects besides tensors and plain containers, which are not"
            " loaded (torch.load(weights_only=True)). Pass ckpt_path=RUN_DIR/checkpoints/last.ckpt"
            " of a train.py run."
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError):
        raise DataError(
            f"{path} is not a checkpoint torch can read (not one, or cut short, e.g. by a full"
            " disk or an interrupted copy). Pass ckpt_path=RUN_DIR/checkpoints/last.ckpt of a"
            " train.py run."
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise DataError(
            f"{path} is not a checkpoint written by train.py (it has no state_dict). Pass"
            " ckpt_path=RUN_DIR/checkpoints/last.ckpt; evaluator and classifier files go to"
            " evaluator_ckpt= or classifier_ckpt= instead."
        )
    return checkpoint


def check_fits(checkpoint: Mapping[str, Any], model: nn.Module, path: str | Path, fix: str) -> None:
    """A ``DataError`` naming ``path``, what differs and ``fix`` (what to do) unless the
    checkpoint's state dict loads into ``model``."""
    problem = describe_mismatch(checkpoint["state_dict"], model.state_dict())
    if problem is not None:
        name = f"{type(model).__module__}.{type(model).__qualname__}"
        raise DataError(f"{path} does not fit the model ({name}): {problem}. {fix}")


def check_resume(ckpt_path: str | Path | None, model: nn.Module) -> None:
    """Before ``trainer.fit(ckpt_path=...)``: the checkpoint exists, is one and fits ``model``
    (Lightning's own keywords, such as ``last``, are left to Lightning)."""
    if ckpt_path is None or str(ckpt_path) in LIGHTNING_KEYWORDS:
        return
    if str(ckpt_path).startswith("registry:"):
        return
    checkpoint = load_checkpoint(ckpt_path)
    check_fits(
        checkpoint,
        model,
        ckpt_path,
        "Resume with the model= and network options of the run that wrote it (its"
        " .hydra/config.yaml), or leave out ckpt_path to start afresh.",
    )


def _submodules(state: Mapping[str, Any]) -> list[str]:
    return sorted({key.split(".", 1)[0] for key in state if "." in key})


def _examples(keys: list[str]) -> str:
    return f" (e.g. {', '.join(keys[:SHOWN])})" if keys else ""
