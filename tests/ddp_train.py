"""``train.py`` with Glow's dequantization noise replaced by the bin centre, for tests/test_ddp.py.

Dequantization is the only random draw of a Glow training step. Every DDP process is seeded
alike, so each would draw the same noise for its half of the batch where one process draws
different noise for every image: the runs could not be compared exactly. With the bin centre
instead, a step depends on its batch alone. Lightning starts the other DDP processes by running
this same module again, so they get the replacement too.

    python -m tests.ddp_train hydra.job.name=train model=glow trainer=ddp trainer.accelerator=cpu
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig
from torch import Tensor

import flows.module
import train

CONF = Path(train.__file__).resolve().parent / "conf"


def dequantize_to_bin_centre(images: Tensor, n_bits: int) -> Tensor:
    """Images in [0, 1] ``(N, C, H, W)`` -> the centres of their ``2 ** n_bits`` bins, in
    [-0.5, 0.5]: ``flows.losses.dequantize`` without its noise."""
    n_bins = 2**n_bits
    bins = (images * n_bins).floor().clamp(0, n_bins - 1)
    return (bins + 0.5) / n_bins - 0.5


@hydra.main(version_base="1.3", config_path=str(CONF), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """``train.main`` with the noise-free dequantization."""
    flows.module.dequantize = dequantize_to_bin_centre
    return train.main.__wrapped__(cfg)


if __name__ == "__main__":
    main()
