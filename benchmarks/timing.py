"""Timing pieces shared by the throughput and sampling benchmarks: a clock and peak memory.

A rate is measured between two instants taken after the warmup and after the last timed batch;
on a GPU the device is synchronised only at those two instants, so the loop itself runs as it
would in training (asynchronously). Besides wall time, the clock reads this process's CPU time:
on a machine shared with other work, images per CPU second compare two in-process loops (no
worker processes) far more steadily than wall time, which counts the time others hold the cores.
Peak memory is the process's resident set on a CPU (reset before each measurement where Linux
allows it) and ``torch.cuda.max_memory_allocated`` on a GPU.
"""

from __future__ import annotations

import contextlib
import resource
import time
from pathlib import Path

import torch

PROC_STATUS = Path("/proc/self/status")
PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (nothing to wait for on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Clock:
    """Images per second between the end of batch ``warmup`` and the end of the last batch.

    Call :meth:`tick` after every batch with its size; the first ``warmup`` batches (compilation,
    worker start-up, allocator growth) are not counted.
    """

    def __init__(self, device: torch.device, warmup: int) -> None:
        self.device = device
        self.warmup = warmup
        self.batches = 0
        self.images = 0
        self.start: float | None = None
        self.stop: float | None = None
        self.cpu_start = 0.0
        self.cpu_stop = 0.0

    def tick(self, batch_size: int) -> None:
        self.batches += 1
        if self.batches == self.warmup:
            synchronize(self.device)
            self.start = time.perf_counter()
            self.cpu_start = time.process_time()
        elif self.batches > self.warmup:
            self.images += batch_size

    def finish(self) -> None:
        """Take the end instant (after the device finished the last batch)."""
        synchronize(self.device)
        self.stop = time.perf_counter()
        self.cpu_stop = time.process_time()

    def rate(self) -> float:
        """Images per second over the timed batches."""
        if self.start is None or self.stop is None or not self.images:
            raise RuntimeError(
                f"nothing timed: {self.batches} batches for a warmup of {self.warmup}"
            )
        return self.images / (self.stop - self.start)

    def summary(self) -> dict[str, float]:
        """``images_per_s``, the timed ``images`` and ``seconds``, and ``images_per_cpu_s``
        with the ``cpu_seconds`` of this process (all its threads, not its workers)."""
        seconds = (self.stop or 0.0) - (self.start or 0.0)
        cpu_seconds = self.cpu_stop - self.cpu_start
        return {
            "images_per_s": self.rate(),
            "images": self.images,
            "seconds": seconds,
            "images_per_cpu_s": self.images / cpu_seconds if cpu_seconds > 0 else 0.0,
            "cpu_seconds": cpu_seconds,
        }


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak: CUDA's allocator statistics, or Linux's resident-set high-water mark."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    with contextlib.suppress(OSError):
        PROC_CLEAR_REFS.write_text("5")


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """The peak since :func:`reset_peak_memory`: ``cuda_max_allocated_mb`` on a GPU, else
    ``rss_peak_mb`` of this process (workers not included)."""
    if device.type == "cuda":
        return {"cuda_max_allocated_mb": torch.cuda.max_memory_allocated(device) / 2**20}
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return {"rss_peak_mb": int(line.split()[1]) / 1024}
    except OSError:
        pass
    return {"rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
