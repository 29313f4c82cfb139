"""Training throughput of DCGAN and WGAN-GP at 64x64: our module vs plain PyTorch, in one run.

For each model, images per second (real images consumed; one batch = one D update) of
  (a) ``module``: our ``GANModule`` fitted by the Lightning ``Trainer`` on our datamodule (no
      logger, checkpoints, progress bar or model summary; one callback reads the clock);
  (b) ``reference``: a loop written like the official PyTorch DCGAN example, ImageFolder of JPEG
      files decoded by DataLoader workers, the example's networks at the same width, fp32 NCHW,
      ``.item()`` every iteration (benchmarks/reference_dcgan.py);
  (c) ``plain``: our networks, losses, optimizers and data path in a plain loop, with the module's
      settings (benchmarks/plain_loop.py);
and the data paths alone: our uint8 cache gathered and converted on the device, vs the JPEG
DataLoader. Ratios: ``module_vs_plain`` (a/c, Lightning's overhead; target >= 0.95; also per
CPU second as ``module_vs_plain_cpu``, which a machine shared with other work disturbs less),
``data_ours_vs_jpeg`` (target >= 3 on 2 cores) and ``module_vs_reference`` (a/b, end to end;
target >= 1.2 on a CPU, >= 3 on a GPU at batch 128). The first ``warmup`` batches of every
measurement are not timed; ``repeats`` > 1 alternates the measurements and reports medians.

    python -m benchmarks.throughput                       # CPU, a few minutes
    python -m benchmarks.throughput device=cuda batch_size=128 steps=50 warmup=10 compile=true

Writes ``OUT/throughput.json`` (settings, machine, every rate, peak memory, ratios).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from benchmarks.common import REPO, machine
from benchmarks.plain_loop import PlainLoop
from benchmarks.reference_dcgan import ReferenceLoop, jpeg_loader
from benchmarks.timing import Clock, peak_memory_mb, reset_peak_memory
from datamodules.images import keep_batch
from datamodules.toy_anime import ToyAnimeDataModule
from gans.base import GANModule
from metrics.command import parse_key_values

log = logging.getLogger(__name__)

MODELS = ("dcgan", "wgan_gp")
TARGETS = {"module_vs_plain": 0.95, "data_ours_vs_jpeg": 3.0, "module_vs_reference": 1.2}


@dataclasses.dataclass(frozen=True)
class Options:
    """``key=value`` arguments. ``precision`` auto: fp32 on a CPU, bf16-mixed on a GPU."""

    root: str = "data/benchmarks"
    out: str = "benchmarks/results/throughput"
    models: str = ",".join(MODELS)
    device: str = "cpu"
    image_size: int = 64
    width: int = 64
    batch_size: int = 64
    warmup: int = 2
    steps: int = 5
    data_batches: int = 20
    repeats: int = 1
    n_images: int = 1024
    workers: int = 2
    threads: int = 0
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False
    seed: int = 0


USAGE = (
    "usage: python -m benchmarks.throughput [out=DIR root=DIR models=dcgan,wgan_gp device=cpu"
    " image_size=64 width=64 batch_size=64 warmup=2 steps=5 data_batches=20 repeats=1"
    " n_images=1024 workers=2 threads=0 precision=auto|32-true|bf16-mixed channels_last=true"
    " compile=false seed=0]"
)


def bf16(options: Options, device: torch.device) -> bool:
    """Whether our runs use bf16 autocast."""
    if options.precision == "auto":
        return device.type == "cuda"
    if options.precision not in ("32-true", "bf16-mixed"):
        raise ValueError(f"precision must be auto, 32-true or bf16-mixed, got {options.precision}")
    return options.precision == "bf16-mixed"


def cycle(loader: DataLoader, n: int) -> Iterator[Any]:
    """``n`` batches of ``loader``, starting new epochs as needed."""
    served = 0
    while served < n:
        for batch in loader:
            yield batch
            served += 1
            if served == n:
                return


def timed(device: torch.device, warmup: int, run: Callable[[Clock], None]) -> dict[str, float]:
    """``run(clock)`` measured: its rate summary and the peak memory during it."""
    reset_peak_memory(device)
    clock = Clock(device, warmup)
    run(clock)
    return {**clock.summary(), **peak_memory_mb(device)}


def build_model(name: str, datamodule: ToyAnimeDataModule, options: Options) -> GANModule:
    """``conf/model/NAME.yaml`` at ``width`` with the benchmark's layout and compile settings."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    overrides = [
        f"model={name}",
        f"model.generator.width={options.width}",
        f"model.discriminator.width={options.width}",
        f"model.channels_last={options.channels_last}",
        f"model.compile={options.compile}",
    ]
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    torch.manual_seed(options.seed)
    return instantiate(cfg.model, _partial_=True, _convert_="all")(spec=datamodule.spec)


def our_loader(datamodule: ToyAnimeDataModule, device: torch.device) -> DataLoader:
    """The datamodule's training loader, with the cache on ``device`` (``on_device``) on a GPU."""
    dataset = datamodule.train_set.to(device) if device.type == "cuda" else datamodule.train_set
    return DataLoader(
        dataset,
        batch_size=datamodule.batch_size,
        shuffle=True,
        drop_last=True,
        collate_fn=keep_batch,
    )


class ClockCallback(pl.Callback):
    """Ticks the clock after every training batch and stops it after the last."""

    def __init__(self, clock: Clock, total: int) -> None:
        self.clock = clock
        self.total = total

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self.clock.tick(trainer.datamodule.batch_size)
        if self.clock.batches == self.total:
            self.clock.finish()


def measure_module(name: str, datamodule: ToyAnimeDataModule, options: Options) -> dict:
    """(a) our LightningModule under the Trainer."""
    device = torch.device(options.device)
    total = options.warmup + options.steps

    def run(clock: Clock) -> None:
        model = build_model(name, datamodule, options)
        trainer = pl.Trainer(
            accelerator="gpu" if device.type == "cuda" else "cpu",
            devices=1,
            precision="bf16-mixed" if bf16(options, device) else "32-true",
            max_epochs=1,
            limit_train_batches=total,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            benchmark=device.type == "cuda",
            callbacks=[ClockCallback(clock, total)],
        )
        trainer.fit(model, datamodule=datamodule)

    return timed(device, options.warmup, run)


def measure_plain(name: str, datamodule: ToyAnimeDataModule, options: Options) -> dict:
    """(c) our model and data path in a plain loop."""
    device = torch.device(options.device)

    def run(clock: Clock) -> None:
        loop = PlainLoop(
            build_model(name, datamodule, options), datamodule, device, bf16(options, device)
        )
        for batch in cycle(our_loader(datamodule, device), options.warmup + options.steps):
            loop.iteration(batch)
            clock.tick(len(batch[0]))
        clock.finish()

    return timed(device, options.warmup, run)


def measure_reference(name: str, jpeg_root: Path, options: Options) -> dict:
    """(b) the official-example-style loop on JPEG files."""
    device = torch.device(options.device)

    def run(clock: Clock) -> None:
        torch.manual_seed(options.seed)
        loop = ReferenceLoop(device, wgan_gp=name == "wgan_gp", width=options.width)
        loader = jpeg_loader(jpeg_root, options.image_size, options.batch_size, options.workers)
        for batch in cycle(loader, options.warmup + options.steps):
            loop.iteration(batch)
            clock.tick(len(batch[0]))
        clock.finish()

    return timed(device, options.warmup, run)


def measure_data(datamodule: ToyAnimeDataModule, jpeg_root: Path, options: Options) -> dict:
    """Both data paths alone, each batch delivered to the device as training would get it."""
    device = torch.device(options.device)
    n = options.data_batches + options.warmup

    def ours(clock: Clock) -> None:
        for images, _ in cycle(our_loader(datamodule, device), n):
            datamodule.transform(images.to(device, non_blocking=True), train=True)
            clock.tick(len(images))
        clock.finish()

    def jpeg(clock: Clock) -> None:
        loader = jpeg_loader(jpeg_root, options.image_size, options.batch_size, options.workers)
        for images, _ in cycle(loader, n):
            images.to(device)
            clock.tick(len(images))
        clock.finish()

    return {
        "ours": timed(device, options.warmup, ours),
        "jpeg": timed(device, options.warmup, jpeg),
    }


def prepare(options: Options, workdir: Path) -> tuple[ToyAnimeDataModule, Path]:
    """The toy anime faces (written once under ``root``), our datamodule set up on them, and a
    copy of their JPEG files as an ImageFolder (``workdir/faces/*.jpg``) for the reference."""
    needed = options.batch_size * (options.warmup + options.steps)
    n_images = max(options.n_images, needed)
    datamodule = ToyAnimeDataModule(
        Path(options.root) / "throughput_toy_anime",
        n_images=n_images,
        image_size=options.image_size,
        batch_size=options.batch_size,
        on_device=options.device.startswith("cuda"),
    )
    datamodule.prepare_data()
    datamodule.setup("fit")
    shutil.copytree(datamodule.faces_dir, workdir / "faces")
    return datamodule, workdir


def ratios(result: dict) -> dict[str, float]:
    """The benchmark's ratios from the three training rates and the two data rates;
    ``module_vs_plain_cpu`` compares the module and the plain loop per CPU second."""
    a, b, c = (result[key]["images_per_s"] for key in ("module", "reference", "plain"))
    data = result["data"]
    return {
        "module_vs_plain": a / c,
        "module_vs_plain_cpu": (
            result["module"]["images_per_cpu_s"] / result["plain"]["images_per_cpu_s"]
        ),
        "data_ours_vs_jpeg": data["ours"]["images_per_s"] / data["jpeg"]["images_per_s"],
        "module_vs_reference": a / b,
        "plain_vs_reference": c / b,
    }


def median_run(measured: list[dict]) -> dict:
    """The median rates (wall and CPU time) over runs, with every run's wall-time rate; the other
    fields (images, seconds, peak memory) are those of the last run."""
    rates = [m["images_per_s"] for m in measured]
    return {
        **measured[-1],
        "images_per_s": statistics.median(rates),
        "images_per_cpu_s": statistics.median(m["images_per_cpu_s"] for m in measured),
        "runs": rates,
    }


def benchmark_model(
    name: str, datamodule: ToyAnimeDataModule, jpeg_root: Path, options: Options
) -> dict:
    """Every measurement of one model, ``repeats`` rounds whose order rotates (so a drift in the
    machine's load does not always favour the same path); medians and ratios."""
    measures: dict[str, Callable[[], dict]] = {
        "plain": lambda: measure_plain(name, datamodule, options),
        "module": lambda: measure_module(name, datamodule, options),
        "reference": lambda: measure_reference(name, jpeg_root, options),
    }
    runs: dict[str, list[dict]] = {key: [] for key in [*measures, "data_ours", "data_jpeg"]}
    order = list(measures)
    for repeat in range(options.repeats):
        log.info("%s: round %d of %d", name, repeat + 1, options.repeats)
        shift = repeat % len(order)
        for key in order[shift:] + order[:shift]:
            runs[key].append(measures[key]())
        data = measure_data(datamodule, jpeg_root, options)
        runs["data_ours"].append(data["ours"])
        runs["data_jpeg"].append(data["jpeg"])
    medians = {key: median_run(measured) for key, measured in runs.items()}
    result: dict[str, Any] = {key: medians[key] for key in measures}
    result["data"] = {"ours": medians["data_ours"], "jpeg": medians["data_jpeg"]}
    result["ratios"] = ratios(result)
    result["meets_cpu_targets"] = {k: result["ratios"][k] >= v for k, v in TARGETS.items()}
    log.info("%s: %s", name, json.dumps(result["ratios"]))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = parse_key_values(sys.argv[1:] if argv is None else argv, Options(), USAGE)
    names = [n for n in options.models.split(",") if n]
    if set(names) - set(MODELS) or options.warmup < 1 or options.steps < 1:
        print(f"models must be among {MODELS}; warmup and steps >= 1.\n{USAGE}", file=sys.stderr)
        return 2
    if options.threads:
        torch.set_num_threads(options.threads)
    device = torch.device(options.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"  # as the official example sets it
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "settings": dataclasses.asdict(options),
        "machine": machine(),
        "targets": TARGETS,
        "bf16": bf16(options, device),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "models": {},
    }
    with tempfile.TemporaryDirectory(prefix="litgen_jpeg_") as tmp:
        datamodule, jpeg_root = prepare(options, Path(tmp))
        for name in names:
            report["models"][name] = benchmark_model(name, datamodule, jpeg_root, options)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (out / "throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    log.info("wrote %s", out / "throughput.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
