"""Generate images from a checkpoint: grids, conditions in words, the MLDS tags grid.

``python sample.py ckpt_path=RUN/checkpoints/last.ckpt conditions='["blue hair red eyes"]'``
"""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf
from torchvision.utils import save_image

from datamodules.errors import DataError
from datamodules.mlds_tags import read_tags
from runtime import resolvers
from runtime.checkpoint import load_run
from runtime.errors import report_data_errors

resolvers.register()


def sample(cfg: DictConfig) -> list[Path]:
    """Write the requested grids; returns their paths."""
    _, _, model = load_run(cfg.ckpt_path)
    out = Path(cfg.out) if cfg.get("out") else Path(cfg.ckpt_path).parent.parent / "generated"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    written = []
    if cfg.get("conditions"):
        words = list(OmegaConf.to_container(cfg.conditions))
        y = _vocab(model).encode_many(words).repeat_interleave(cfg.n, dim=0)
        written.append(out / "conditions.png")
        save_image(model.sample(y=y), written[-1], nrow=cfg.n)
        (out / "conditions.txt").write_text("\n".join(map(str, words)) + "\n")
    if cfg.get("tags_file"):
        vocab = _vocab(model)
        tags = read_tags(cfg.tags_file, *(values for _, values in vocab.groups))
        y = vocab.encode_many([f"{t.hair} hair {t.eye} eyes" for t in tags])
        written.append(out / "mlds_tags_grid.png")
        save_image(model.sample(y=y), written[-1], nrow=5, padding=0)
    if not written:
        written.append(out / "samples.png")
        save_image(model.sample(cfg.n), written[-1], nrow=int(cfg.n**0.5) or 1)
    for path in written:
        print(f"wrote {path}")
    return written


def _vocab(model: torch.nn.Module):
    vocab = model.spec.vocab
    if not model.hparams.get("conditional") or vocab is None:
        raise DataError(
            "conditions= and tags_file= need a conditional model; this checkpoint's model is"
            " unconditional. Drop them to sample a plain grid."
        )
    return vocab


@hydra.main(version_base="1.3", config_path="conf", config_name="sample")
def main(cfg: DictConfig) -> None:
    report_data_errors(lambda: sample(cfg))


if __name__ == "__main__":
    main()
