"""Images per second of sampling the 64x64 DCGAN generator and of scoring with the evaluators.

``generator``: ``GANModule.sample(n)`` as ``sample.py`` calls it (eval mode, no grad, images in
[0, 1]) for the ``conf/model/dcgan.yaml`` networks at 64x64 (target on a GPU: >= 20,000 images/s).
``iclevr_evaluator``: the course's ResNet18 (metrics/iclevr_evaluator.py) predicting ICLEVR
probabilities; ``anime_tags_classifier``: the hair/eye ``ColourNet`` scoring 64x64 faces. Both
evaluators take their inputs on the device and return results on the CPU, as they do in use.
Weights are random: speed does not depend on them. The first ``warmup`` batches are not timed.

    python -m benchmarks.sampling                          # CPU, under a minute
    python -m benchmarks.sampling device=cuda batch_size=1024 batches=50 warmup=5

Writes ``OUT/sampling.json`` (settings, machine, each rate and peak memory).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from benchmarks.common import REPO, machine
from benchmarks.timing import Clock, peak_memory_mb, reset_peak_memory
from datamodules.conditions import OneHotGroups
from datamodules.spec import DataSpec
from datamodules.toy_faces import EYE_COLOURS, HAIR_COLOURS
from gans.base import GANModule
from metrics.anime_tags_classifier import AnimeTagsClassifier, ColourNet
from metrics.command import parse_key_values
from metrics.iclevr_evaluator import IclevrEvaluator, build_evaluator_network

log = logging.getLogger(__name__)

GPU_TARGET = {"generator": 20000.0}


@dataclasses.dataclass(frozen=True)
class Options:
    """``key=value`` arguments; ``root`` is unused (kept for the shared argument parser)."""

    root: str = "data/benchmarks"
    out: str = "benchmarks/results/sampling"
    device: str = "cpu"
    width: int = 64
    batch_size: int = 256
    batches: int = 4
    warmup: int = 1
    threads: int = 0
    bf16: bool = False
    channels_last: bool = False
    seed: int = 0


USAGE = (
    "usage: python -m benchmarks.sampling [out=DIR device=cpu width=64 batch_size=256 batches=4"
    " warmup=1 threads=0 bf16=false channels_last=false seed=0]"
)


def dcgan(options: Options, device: torch.device) -> GANModule:
    """The ``conf/model/dcgan.yaml`` GAN at 64x64 and ``width`` on ``device``."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    overrides = [
        f"model.generator.width={options.width}",
        f"model.discriminator.width={options.width}",
        f"model.channels_last={options.channels_last}",
    ]
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    spec = DataSpec(image_size=64, name="benchmark")
    model = instantiate(cfg.model, _partial_=True, _convert_="all")(spec=spec)
    return model.to(device)


def measure(options: Options, device: torch.device, work: Callable[[], Any]) -> dict[str, float]:
    """Images per second of ``work()`` (one batch of ``batch_size``) and the peak memory."""
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if options.bf16 else nullcontext()
    reset_peak_memory(device)
    clock = Clock(device, options.warmup)
    with autocast:
        for _ in range(options.warmup + options.batches):
            work()
            clock.tick(options.batch_size)
    clock.finish()
    return {**clock.summary(), **peak_memory_mb(device)}


def inputs(options: Options, device: torch.device) -> Tensor:
    """A batch of images in [-1, 1] on ``device``, as generated samples would be."""
    generator = torch.Generator().manual_seed(options.seed)
    return (torch.rand(options.batch_size, 3, 64, 64, generator=generator) * 2 - 1).to(device)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = parse_key_values(sys.argv[1:] if argv is None else argv, Options(), USAGE)
    if options.warmup < 1 or options.batches < 1:
        print(f"warmup and batches must be >= 1.\n{USAGE}", file=sys.stderr)
        return 2
    if options.threads:
        torch.set_num_threads(options.threads)
    device = torch.device(options.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    torch.manual_seed(options.seed)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "settings": dataclasses.asdict(options),
        "machine": machine(),
        "gpu_targets": GPU_TARGET,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    model = dcgan(options, device)
    report["generator"] = measure(options, device, lambda: model.sample(options.batch_size))
    log.info("generator: %.1f images/s", report["generator"]["images_per_s"])
    images = inputs(options, device)
    evaluator = IclevrEvaluator(build_evaluator_network(), device)
    report["iclevr_evaluator"] = measure(
        options, device, lambda: evaluator.predict(images, options.batch_size)
    )
    log.info("iclevr evaluator: %.1f images/s", report["iclevr_evaluator"]["images_per_s"])
    groups = OneHotGroups((("hair", tuple(HAIR_COLOURS)), ("eyes", tuple(EYE_COLOURS))))
    classifier = AnimeTagsClassifier(ColourNet(groups.dim), groups, 64, device)
    report["anime_tags_classifier"] = measure(
        options, device, lambda: classifier.logits(images, options.batch_size)
    )
    log.info("anime classifier: %.1f images/s", report["anime_tags_classifier"]["images_per_s"])
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (out / "sampling.json").write_text(json.dumps(report, indent=2) + "\n")
    log.info("wrote %s", out / "sampling.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
