"""Generate images from a checkpoint: grids, conditions in words, the MLDS tags grid, and for
flows latent interpolations and attribute manipulations.

``python sample.py ckpt_path=RUN/checkpoints/last.ckpt conditions='["blue hair red eyes"]'``
``python sample.py ckpt_path=RUN/checkpoints/last.ckpt interpolate='[a.jpg, b.jpg]' frames=8``
``python sample.py ckpt_path=RUN/checkpoints/last.ckpt manipulate=Smiling``
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from PIL import Image
from torch import Tensor
from torchvision.utils import save_image

from callbacks.translation_grid import translation_grid
from datamodules.decode import read_rgb
from datamodules.errors import DataError
from datamodules.mlds_tags import read_tags
from flows.latents import attribute_direction, interpolate, shift
from runtime import resolvers
from runtime.checkpoint import load_run
from runtime.errors import report_data_errors

resolvers.register()


def sample(cfg: DictConfig) -> list[Path]:
    """Write the requested grids; returns their paths."""
    if cfg.get("interpolate") and cfg.get("interpolate_from_data"):
        raise DataError(
            "Give interpolate='[IMAGE_A, IMAGE_B]' (two image files) or interpolate_from_data=true"
            " (pairs of the run's training images), not both."
        )
    _, datamodule, model = load_run(cfg.ckpt_path, cfg.get("run_overrides") or None)
    interpolating = bool(cfg.get("interpolate") or cfg.get("interpolate_from_data"))
    if interpolating:
        _check_flow(model, "interpolation")
    if cfg.get("manipulate"):
        _check_flow(model, "manipulate=")
    model = model.to(cfg.get("device") or "cpu")
    out = Path(cfg.out) if cfg.get("out") else Path(cfg.ckpt_path).parent.parent / "generated"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    options = _sample_options(model, cfg.get("temperature"))
    written = []
    if cfg.get("conditions"):
        words = list(OmegaConf.to_container(cfg.conditions))
        y = _vocab(model).encode_many(words).repeat_interleave(cfg.n, dim=0)
        written.append(out / "conditions.png")
        save_image(model.sample(y=y, **options), written[-1], nrow=cfg.n)
        (out / "conditions.txt").write_text("\n".join(map(str, words)) + "\n")
    if cfg.get("tags_file"):
        vocab = _vocab(model)
        tags = read_tags(cfg.tags_file, *(values for _, values in vocab.groups))
        y = vocab.encode_many([f"{t.hair} hair {t.eye} eyes" for t in tags])
        written.append(out / "mlds_tags_grid.png")
        save_image(model.sample(y=y, **options), written[-1], nrow=5, padding=0)
    if interpolating:
        written.append(_interpolation(cfg, model, datamodule, out))
    if cfg.get("manipulate"):
        written.append(_manipulation(cfg, model, datamodule, out))
    if cfg.get("translate"):
        written.append(_translate_files(cfg, model, out))
    if not written and hasattr(model, "translation_rows"):
        written.append(_translations(cfg, model, datamodule, out))
    if not written:
        written.append(out / "samples.png")
        save_image(model.sample(cfg.n, **options), written[-1], nrow=int(cfg.n**0.5) or 1)
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


def _sample_options(model: torch.nn.Module, temperature: float | None) -> dict[str, Any]:
    """``{"temperature": T}`` when one is asked for; only flows' ``sample`` takes it."""
    if temperature is None:
        return {}
    if "temperature" not in inspect.signature(model.sample).parameters:
        raise DataError(
            f"temperature= needs a flow checkpoint (model=glow/cglow); this checkpoint's model is"
            f" a {type(model).__name__}, whose samples have no temperature. Drop temperature=."
        )
    return {"temperature": float(temperature)}


def _check_flow(model: torch.nn.Module, what: str) -> None:
    """A ``DataError`` unless ``model`` is a flow (it can encode images to latents and back)."""
    flow = getattr(model, "flow", None)
    if not (hasattr(flow, "encode") and hasattr(flow, "decode")):
        raise DataError(
            f"{what} needs a flow checkpoint (model=glow/cglow): it encodes real images to latents"
            f" and decodes them back, and this checkpoint's model is a {type(model).__name__},"
            " which has no encoder."
        )


# ----------------------------------------------------------------------------- images and latents


def read_image(path: str | Path, image_size: int) -> Tensor:
    """An image file of any size as uint8 ``(3, image_size, image_size)``: the centred square of
    its shorter side, resized (area averaging, as the datamodules decode)."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
        return torch.from_numpy(read_rgb(path, image_size, center_crop=min(width, height)))
    except FileNotFoundError:
        raise DataError(
            f"The image {path} does not exist (interpolate= takes image files)."
        ) from None
    except (OSError, ValueError) as err:
        raise DataError(f"{path} is not a readable image: {err}") from err


def _conditional(model: torch.nn.Module) -> bool:
    return bool(model.hparams.get("conditional"))


def training_images(datamodule: Any) -> tuple[Tensor, Tensor]:
    """The run's training images, uint8 ``(N, 3, S, S)``, and their conditions ``(N, D)``."""
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule.train_set.images, datamodule.train_set.conditions


# ----------------------------------------------------------------------------- translation


def _translate_files(cfg: DictConfig, model: torch.nn.Module, out: Path) -> Path:
    """Image files translated to the target domains in words (``domains='[Blond_Hair, Male]'``:
    those attributes on, the others off): ``translated.png``, a row per file, input then output."""
    if not hasattr(model, "translate"):
        raise DataError(
            "translate= needs an image-to-image checkpoint (model=stargan); this one is a"
            f" {type(model).__name__}."
        )
    if cfg.get("domains") is None:
        raise DataError(
            f"translate= needs domains= in words, e.g. domains='[Blond_Hair, Male]' (the model's"
            f" domains: {list(model.spec.condition_names)})."
        )
    files = cfg.translate
    files = list(OmegaConf.to_container(files)) if _is_list(files) else [files]
    size = model.spec.image_size
    images = model.spec.from_unit(torch.stack([read_image(f, size) for f in files]).float() / 255)
    domains = cfg.domains
    targets = model.spec.vocab.encode(
        list(OmegaConf.to_container(domains)) if _is_list(domains) else domains
    )
    translated = model.translate(images, targets.expand(len(images), -1))
    cells = torch.stack([images, translated.cpu()], dim=1).flatten(0, 1)
    written = out / "translated.png"
    save_image(model.spec.to_unit(cells), written, nrow=2)
    return written


def _translations(cfg: DictConfig, model: torch.nn.Module, datamodule: Any, out: Path) -> Path:
    """An image-to-image model (StarGAN): ``translations.png``, a row per real image (the first
    ``n`` of the test split, else of the training images), the image then its translation to each
    single-domain change; ``translations.txt`` names the columns."""
    datamodule.prepare_data()
    datamodule.setup("test")
    split = getattr(datamodule, "test_set", None)
    if split is None:
        datamodule.setup("fit")
        split = datamodule.train_set
    images, labels = split.images[: cfg.n], split.conditions[: cfg.n].float()
    images = model.spec.from_unit(images.float() / 255.0)
    grid, columns = translation_grid(model, images, labels)
    written = out / "translations.png"
    save_image(grid, written)
    (out / "translations.txt").write_text(
        "".join(f"{i}: {name}\n" for i, name in enumerate(columns))
    )
    return written


# ----------------------------------------------------------------------------- interpolation


def _interpolation(cfg: DictConfig, model: torch.nn.Module, datamodule: Any, out: Path) -> Path:
    """Encode pairs of real images, walk linearly between their latents (every level, and the
    conditions of a conditional flow) in ``frames`` steps, decode: ``interpolation.png``, a row
    per pair."""
    if cfg.get("interpolate"):
        images, y = _image_pairs(cfg, model)
    else:
        all_images, all_conditions = training_images(datamodule)
        if len(all_images) < 2:
            raise DataError("interpolate_from_data needs at least two training images")
        generator = torch.Generator().manual_seed(cfg.seed)
        chosen = torch.cat(
            [torch.randperm(len(all_images), generator=generator)[:2] for _ in range(cfg.n)]
        )
        images, y = all_images[chosen], all_conditions[chosen].float()
    y = y if _conditional(model) else None
    zs = model.encode_images(images, y)
    ends = [zs, [y]] if y is not None else [zs]
    starts = [level[0::2] for part in ends for level in part]
    stops = [level[1::2] for part in ends for level in part]
    path = interpolate(starts, stops, cfg.frames)
    frames_y = path.pop() if y is not None else None
    written = out / "interpolation.png"
    save_image(model.decode_latents(path, frames_y), written, nrow=cfg.frames)
    return written


def _image_pairs(cfg: DictConfig, model: torch.nn.Module) -> tuple[Tensor, Tensor]:
    """The images of ``interpolate=`` (A, B, C, D, ... read in pairs) and their conditions:
    ``interpolate_conditions=`` in words, one entry per image, or all zeros."""
    paths = _flatten(
        OmegaConf.to_container(cfg.interpolate) if _is_list(cfg.interpolate) else [cfg.interpolate]
    )
    if len(paths) < 2 or len(paths) % 2:
        raise DataError(
            f"interpolate= takes pairs of image files, e.g. interpolate='[a.jpg, b.jpg]'; got"
            f" {len(paths)} path(s): {paths}"
        )
    images = torch.stack([read_image(path, model.spec.image_size) for path in paths])
    words = cfg.get("interpolate_conditions")
    dim = model.spec.condition_dim
    if words is None:
        if _conditional(model):
            print(f"interpolate_conditions not given: conditioning every image on zeros ({dim})")
        return images, torch.zeros(len(paths), dim)
    if not _conditional(model):
        raise DataError(
            "interpolate_conditions= needs a conditional flow (model=cglow); this checkpoint's"
            " model is unconditional. Drop interpolate_conditions=."
        )
    words = list(OmegaConf.to_container(words)) if _is_list(words) else [words]
    if len(words) != len(paths):
        raise DataError(
            f"interpolate_conditions= gives {len(words)} conditions for {len(paths)} images; give"
            f" one per image, in order, e.g. interpolate_conditions='[Male Smiling, Smiling]'"
            f" (the names are {list(model.spec.condition_names)})."
        )
    return images, model.spec.vocab.encode_many([w if w is not None else "" for w in words])


def _is_list(value: Any) -> bool:
    return isinstance(value, ListConfig | list | tuple)


def _flatten(items: Sequence[Any]) -> list[str]:
    return [str(p) for item in items for p in (_flatten(item) if _is_list(item) else [item])]


# ----------------------------------------------------------------------------- manipulation


def _manipulation(cfg: DictConfig, model: torch.nn.Module, datamodule: Any, out: Path) -> Path:
    """Move real images' latents along an attribute's direction (mean latent of training images
    with it minus those without, per level) by each of ``strengths``: ``manipulation_<attr>.png``,
    a row per image, a column per strength. A conditional flow encodes and decodes each image
    under its own conditions, so only the latent moves."""
    attribute = str(cfg.manipulate)
    images, conditions = training_images(datamodule)
    labels = attribute_labels(datamodule, model, attribute, conditions)
    generator = torch.Generator().manual_seed(cfg.seed)
    chosen = torch.randperm(len(images), generator=generator)[: cfg.manipulate_n]
    images, labels, y = images[chosen], labels[chosen], conditions[chosen].float()
    y = y if _conditional(model) else None
    zs = model.encode_images(images, y)
    n_with = int(labels.sum())
    if n_with in (0, len(labels)):
        raise DataError(
            f"manipulate={attribute}: {n_with} of the {len(labels)} training images used"
            f" (manipulate_n={cfg.manipulate_n}) have it, so there is nothing to compare. Raise"
            " manipulate_n or choose another attribute."
        )
    direction = attribute_direction(zs, labels)
    strengths = torch.tensor([float(s) for s in cfg.strengths])
    n = min(cfg.n, len(images))
    edited = [z[:n].repeat_interleave(len(strengths), dim=0) for z in zs]
    edited = shift(edited, direction, strengths.repeat(n))
    edited_y = None if y is None else y[:n].repeat_interleave(len(strengths), dim=0)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", attribute)
    written = out / f"manipulation_{name}.png"
    save_image(model.decode_latents(edited, edited_y), written, nrow=len(strengths))
    print(
        f"manipulate={attribute}: direction from {len(labels)} training images ({n_with} with it);"
        f" {n} rows, columns at strengths {strengths.tolist()}"
    )
    return written


def attribute_labels(
    datamodule: Any, model: torch.nn.Module, attribute: str, conditions: Tensor
) -> Tensor:
    """Bool ``(N,)``: which training images have ``attribute``.

    ``attribute`` is one of the run's condition names (``data.attributes`` for CelebA, e.g.
    ``Smiling``; ``blue hair`` for anime tags; ``red cube`` for ICLEVR), read from the conditions;
    on CelebA data, also any other column of ``list_attr_celeba.txt`` (e.g. ``Young``).
    """
    names = list(model.spec.condition_names)
    if attribute in names:
        return conditions[:, names.index(attribute)] > 0.5
    table = getattr(datamodule, "table", None)
    if table is not None and attribute in table.names:
        cached = datamodule.cache("train").load()
        rows = datamodule.split_indices("train")[cached.kept]
        return torch.from_numpy(table.select([attribute])[rows][:, 0] > 0.5)
    if not names and table is None:
        raise DataError(
            f"manipulate={attribute!r}: this run's data ({model.spec.name or 'unnamed'}) has no"
            " conditions, so no image is known to have an attribute. Train on data with"
            " attributes (data=celeba, data=toy_celeba) to manipulate."
        )
    others = f" or any column of {table.path}: {list(table.names)}" if table is not None else ""
    raise DataError(
        f"manipulate={attribute!r} is not an attribute of this run's data; choose from its"
        f" conditions {names}{others}."
    )


@hydra.main(version_base="1.3", config_path="conf", config_name="sample")
def main(cfg: DictConfig) -> None:
    report_data_errors(lambda: sample(cfg))


if __name__ == "__main__":
    main()
