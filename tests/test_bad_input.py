"""Bad input, end to end: each stops train.py, sample.py or evaluate.py before any training or
scoring with a ``DataError`` that names the file, line or key and the fix (train.py prints it
without a traceback), or is skipped with a warning that names it. docs/bad_inputs.md lists every
case with the message the user sees and the test that covers it (many live beside their parser).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torch import nn

from datamodules.cache import ImageCache
from datamodules.celeba import read_attribute_header
from datamodules.errors import DataError
from datamodules.mlds_tags import Tag, read_tags
from datamodules.toy_anime import ensure_toy_anime
from datamodules.toy_celeba import ensure_toy_celeba
from datamodules.toy_faces import EYE_COLOURS, HAIR_COLOURS
from datamodules.toy_iclevr import ensure_toy_iclevr
from evaluate import evaluate
from runtime import resolvers
from runtime.checkpoint import load_run
from runtime.checkpoint_match import describe_mismatch
from runtime.instantiate import GENERIC_HINT, instantiate_node
from tests.run_helpers import REPO, SMALL, compose_train
from train import train

N_IMAGES = 48
BASE = [o for o in SMALL if not o.startswith("model.")]  # SMALL's data, callback, trainer parts
NOT_ANIME = [o for o in BASE if "anime_faces" not in o]  # other data has no face metric
TINY_GAN = ["model.generator.width=8", "model.discriminator.width=8", "model.n_samples=8"]
TINY_GLOW = ["model.flow.hidden=8", "model.flow.steps=2", "model.flow.levels=2"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small toy sets in the three formats, written once for this module: do not modify them."""
    path = tmp_path_factory.mktemp("bad_input_data")
    ensure_toy_anime(path / "toy_anime", n_images=N_IMAGES, seed=0)
    ensure_toy_iclevr(path / "toy_iclevr", n_scenes=4, seed=0)
    ensure_toy_celeba(path / "toy_celeba", n_images=12, seed=0)
    return path


def _overrides(data_dir: Path, *extra: str) -> list[str]:
    """Toy anime faces (or their tags) at 32×32, no logger, small callbacks."""
    size = [f"data.n_images={N_IMAGES}", "data.image_size=32"]
    return [f"paths.data_dir={data_dir}", *size, "logger=none", *BASE, *extra]


def _train_run(run: Path, data_dir: Path, *overrides: str) -> Path:
    """Train a tiny run for one step into ``run``, with its config in ``run/.hydra`` as train.py
    leaves it; returns its ``last.ckpt``."""
    cfg = compose_train(run, _overrides(data_dir, *overrides))
    train(cfg)
    config = OmegaConf.to_container(cfg, resolve=True)
    del config["hydra"]
    (run / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(OmegaConf.create(config), run / ".hydra" / "config.yaml")
    return run / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def runs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``last.ckpt`` of a tiny DCGAN and Glow on toy anime faces and a cGAN on their tags."""
    base = tmp_path_factory.mktemp("bad_input_runs")
    one_step = ["trainer.max_epochs=1", "++trainer.limit_train_batches=1"]
    return {
        "dcgan": _train_run(base / "dcgan", data_dir, *one_step, *TINY_GAN),
        "glow": _train_run(base / "glow", data_dir, "model=glow", *one_step, *TINY_GLOW),
        "cgan": _train_run(
            base / "cgan", data_dir, "model=cgan_mlds", "data=toy_anime_tags", *one_step, *TINY_GAN
        ),
    }


def _edit(path: Path, change: Callable[[list[str]], None]) -> None:
    """Apply ``change`` to the lines of ``path`` (line ends kept)."""
    text = path.read_bytes().decode()
    end = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(end)
    change(lines)
    path.write_bytes(end.join(lines).encode())


def _replace_line(index: int, change: Callable[[str], str]) -> Callable[[list[str]], None]:
    """A change for ``_edit``: line ``index`` (0-based) becomes ``change(line)``."""
    return lambda lines: lines.__setitem__(index, change(lines[index]))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _anime_empty(root: Path) -> list[str]:
    shutil.rmtree(root / "faces")
    (root / "faces").mkdir()
    return ["data=anime"]


def _anime_two_corrupt(root: Path) -> list[str]:
    for index in range(2):
        _truncate(root / "faces" / f"{index}.jpg")
    return ["data=anime"]


def _tags_malformed(root: Path) -> list[str]:
    _edit(root / "extra_data" / "tags.csv", lambda lines: lines.__setitem__(2, "2,blue hair"))
    return ["data=anime_tags"]


def _tags_unknown_colour(root: Path) -> list[str]:
    change = _replace_line(4, lambda line: line.split(",")[0] + ",golden hair red eyes")
    _edit(root / "extra_data" / "tags.csv", change)
    return ["data=anime_tags"]


def _iclevr_unknown_name(root: Path) -> list[str]:
    path = root / "train.json"
    labels = json.loads(path.read_text())
    labels["CLEVR_train_000001_1.png"][0] = "pink cube"
    path.write_text(json.dumps(labels))
    return ["data=iclevr"]


def _celeba_column_count(root: Path) -> list[str]:
    _edit(root / "list_attr_celeba.txt", _replace_line(4, lambda line: line.rsplit(" ", 1)[0]))
    return ["data=celeba"]


def _celeba_row_count(root: Path) -> list[str]:
    _edit(root / "list_attr_celeba.txt", lambda lines: lines.pop(5))
    return ["data=celeba"]


def _celeba_unknown_attribute(root: Path) -> list[str]:
    return ["data=celeba", "data.attributes=[Male,Beard]"]


DATA_ERRORS = {
    "empty faces folder": ("toy_anime", _anime_empty, r"faces holds no \.jpg"),
    "corrupt JPEGs over max_bad_fraction": (
        "toy_anime",
        _anime_two_corrupt,
        r"2 of 48 images under .* could not be read \(more than max_bad_fraction=0\.01\):"
        r" faces/0\.jpg \(truncated JPEG",
    ),
    "malformed tags line": (
        "toy_anime",
        _tags_malformed,
        r"tags\.csv:3: expected '<id>,<hair> hair <eye> eyes'.*got '2,blue hair'",
    ),
    "unknown colour": ("toy_anime", _tags_unknown_colour, r"tags\.csv:5: hair colour 'golden'"),
    "ICLEVR name not in objects.json": (
        "toy_iclevr",
        _iclevr_unknown_name,
        r"train\.json, entry 'CLEVR_train_000001_1\.png': 'pink cube' is not one of the names",
    ),
    "CelebA column count": (
        "toy_celeba",
        _celeba_column_count,
        r"list_attr_celeba\.txt:5: expected 41 columns .* got 40",
    ),
    "CelebA row count": (
        "toy_celeba",
        _celeba_row_count,
        r"list_attr_celeba\.txt:1: the count line says 12 images but the file lists 11",
    ),
    "unknown attribute": (
        "toy_celeba",
        _celeba_unknown_attribute,
        r"list_attr_celeba\.txt:2: data\.attributes names \['Beard'\], not among the 40",
    ),
}


@pytest.mark.parametrize("case", DATA_ERRORS)
def test_bad_data_stops_train_before_training(case: str, data_dir: Path, tmp_path: Path) -> None:
    toy, spoil, message = DATA_ERRORS[case]
    root = tmp_path / "data"
    shutil.copytree(data_dir / toy, root)
    overrides = [*spoil(root), f"data.root={root}", "data.image_size=32", "logger=none"]
    small = BASE if toy == "toy_anime" else NOT_ANIME
    cfg = compose_train(tmp_path / "run", [*small, *overrides])
    with pytest.raises(DataError, match=message):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists(), "nothing may be trained"


def test_a_few_corrupt_jpegs_are_skipped_and_named(data_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "anime"
    shutil.copytree(data_dir / "toy_anime" / "faces", root / "faces")
    _truncate(root / "faces" / "3.jpg")
    (root / "faces" / "7.jpg").write_bytes(b"not an image")
    overrides = ["data=anime", f"data.root={root}", "data.max_bad_fraction=0.05"]
    overrides += ["data.image_size=32", "logger=none", "+trainer.fast_dev_run=1", *TINY_GAN]
    cfg = compose_train(tmp_path / "run", [*BASE, *overrides])
    expected = r"Skipped 2 of 48 images .*faces/3\.jpg \(truncated JPEG.*faces/7\.jpg \(not a deco"
    with pytest.warns(UserWarning, match=expected):
        metrics = train(cfg)
    assert metrics["d_steps"] == 1


def _write(path: Path, image: Image.Image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def test_other_image_modes_become_rgb(tmp_path: Path) -> None:
    """Grayscale, palette, RGBA, CMYK and 16-bit files are read as the RGB image they show."""
    rgb = np.zeros((24, 24, 3), dtype=np.uint8)
    rgb[:, :12] = (200, 40, 40)
    base = Image.fromarray(rgb)
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=2)
    files = [
        _write(tmp_path / "rgb.png", base),
        _write(tmp_path / "gray.jpg", base.convert("L")),
        _write(tmp_path / "palette.png", palette),
        _write(tmp_path / "rgba.png", base.convert("RGBA")),
        _write(tmp_path / "cmyk.jpg", base.convert("CMYK")),
    ]
    sixteen = (np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "gray16.png"), sixteen)
    files.append(tmp_path / "gray16.png")
    cached = ImageCache(files, tmp_path, "modes", 24).load()
    assert cached.bad == () and cached.images.shape == (len(files), 3, 24, 24)
    images = torch.from_numpy(np.array(cached.images)).float()
    assert (images[0, :, 0, 0] == torch.tensor([200.0, 40.0, 40.0])).all()
    gray_value = float(np.asarray(base.convert("L"))[0, 0])
    for row in (1, 5):  # grayscale: the same value in all three channels
        assert torch.allclose(images[row, :, 0, 0], torch.full((3,), gray_value), atol=2)
    for row in (2, 3):  # palette, RGBA: the original colour
        assert torch.equal(images[row, :, 0, 0], images[0, :, 0, 0])
    # CMYK JPEG: the original colour up to JPEG's loss (not inverted: that would be 55, 215, 215)
    assert torch.allclose(images[4, :, 0, 0], images[0, :, 0, 0], atol=16)


def test_an_image_of_another_size_is_named(data_dir: Path, tmp_path: Path) -> None:
    faces = sorted((data_dir / "toy_anime" / "faces").glob("*.jpg"))[:20]
    odd = _write(tmp_path / "faces" / "odd.jpg", Image.open(faces[0]).resize((200, 150)))
    files = [*faces, odd]
    with pytest.warns(
        UserWarning, match=r"1 of 21 images .* not 96×96 .*: faces/odd\.jpg \(200×150"
    ):
        cached = ImageCache(files, tmp_path, "sizes", 32).load()
    assert cached.bad == () and cached.images.shape == (21, 3, 32, 32)


def test_a_label_file_in_another_encoding_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_bytes("0,aqua hair aqua eyes\n1,blue hair café eyes\n".encode("latin-1"))
    with pytest.raises(DataError, match=rf"{path}:2: not UTF-8 text \(byte 0xe9 at offset 37\)"):
        read_tags(path, HAIR_COLOURS, EYE_COLOURS)
    attributes = tmp_path / "list_attr_celeba.txt"
    attributes.write_bytes(b"1\r\nMale Sm\xefling\r\n000001.jpg 1 1\r\n")
    with pytest.raises(DataError, match=rf"{attributes}:2: not UTF-8 text"):
        read_attribute_header(attributes)
    path.write_bytes("\ufeff0,aqua hair aqua eyes\n".encode())  # a spreadsheet's byte-order mark
    assert read_tags(path, HAIR_COLOURS, EYE_COLOURS) == [Tag("0", "aqua", "aqua")]


def test_unknown_experiment_lists_the_presets(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "experiment=nope", f"hydra.run.dir={tmp_path}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 1
    assert "Could not find 'experiment/nope'" in result.stderr
    assert "Traceback" not in result.stderr
    presets = sorted(path.stem for path in (REPO / "conf" / "experiment").glob("*.yaml"))
    listed = result.stderr.split("Available options in 'experiment':")[1].split("Config search")[0]
    assert listed.split() == presets


@pytest.mark.parametrize(
    ("source", "overrides", "message"),
    [
        pytest.param(
            "glow", [], r"holds the weights of the submodules \['flow'\], this model has", id="glow"
        ),
        pytest.param(
            "dcgan",
            ["model.generator.width=16"],
            r"weights have other shapes, e\.g\. generator\.",
            id="other width",
        ),
        pytest.param(
            "dcgan",
            ["model=wgan_gp"],
            r"weights are not in it \(e\.g\. discriminator\.",
            id="other networks",
        ),
        pytest.param("missing", [], r"Checkpoint .*nope\.ckpt does not exist", id="missing"),
        pytest.param("text", [], r"is not a checkpoint torch can read", id="not a checkpoint"),
        pytest.param(
            "state_dict",
            [],
            r"is not a checkpoint written by train\.py \(it has no state_dict\)",
            id="bare state dict",
        ),
        pytest.param(
            "pickled", [], r"holds Python objects besides tensors", id="other pickled objects"
        ),
    ],
)
def test_resume_from_a_checkpoint_of_another_model_is_refused(
    source: str,
    overrides: list[str],
    message: str,
    runs: dict[str, Path],
    data_dir: Path,
    tmp_path: Path,
) -> None:
    other = {
        "missing": tmp_path / "nope.ckpt",
        "text": _write_text(tmp_path / "notes.ckpt", "not a checkpoint"),
        "state_dict": tmp_path / "weights.pth",
    }
    torch.save({"fc.weight": torch.zeros(2, 2)}, other["state_dict"])
    other["pickled"] = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "ratio": Fraction(1, 2)}, other["pickled"])
    ckpt = runs.get(source) or other[source]
    extra = [*TINY_GAN, *overrides, f"ckpt_path={ckpt}"]
    cfg = compose_train(tmp_path / "run", _overrides(data_dir, *extra))
    with pytest.raises(DataError, match=message):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_checkpoint_moved_into_another_run_is_refused(runs: dict[str, Path]) -> None:
    """sample.py and evaluate.py read a checkpoint with its run dir's config (load_run)."""
    gan_run = runs["dcgan"].parent.parent
    moved = gan_run.parent / "moved"
    shutil.copytree(gan_run / ".hydra", moved / ".hydra")
    (moved / "checkpoints").mkdir()
    shutil.copy(runs["glow"], moved / "checkpoints" / "last.ckpt")
    with pytest.raises(DataError, match=r"another kind of model.*RUN/\.hydra/config\.yaml"):
        load_run(moved / "checkpoints" / "last.ckpt")


def _evaluate_cfg(*overrides: str) -> DictConfig:
    resolvers.register()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("evaluate", overrides=list(overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            ["evaluator_ckpt={missing}"],
            r"anime tags classifier .*nope\.pt does not exist",
            id="evaluator_ckpt",
        ),
        pytest.param(
            ["image_metrics=fcd", "classifier_ckpt={missing}"],
            r"anime tags classifier .*nope\.pt does not exist",
            id="classifier_ckpt",
        ),
    ],
)
def test_evaluate_names_a_missing_scorer_file(
    overrides: list[str], message: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.pt"
    filled = [o.format(missing=missing) for o in overrides]
    cfg = _evaluate_cfg(f"ckpt_path={runs['cgan']}", f"out={tmp_path / 'm.json'}", *filled)
    with pytest.raises(DataError, match=message):
        evaluate(cfg)
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param("model=dcgna", r"Could not find 'model/dcgna'", id="unknown model"),
        pytest.param("data.rooot=x", r"Could not override 'data\.rooot'", id="unknown key"),
    ],
)
def test_unknown_choice_or_key_is_named_by_hydra(
    override: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(HydraException, match=message) as error:
        compose_train(tmp_path, [override])
    shown = str(error.value)
    if override.startswith("model="):
        assert "Available options in 'model':" in shown and "\tdcgan\n" in shown


def test_a_rejected_key_is_explained_by_the_callers_hint() -> None:
    node = OmegaConf.create({"_target_": "torch.nn.ReLU", "colour": "red"})
    with pytest.raises(DataError, match=r"data config \(torch\.nn\.ReLU\).*'colour'.*Use X\."):
        instantiate_node(node, "data", hint="Use X.")
    with pytest.raises(DataError) as error:
        instantiate_node(node, "data")
    assert str(error.value).endswith(GENERIC_HINT)


def test_stargan_config_hints_at_celeba_data(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, ["model=stargan"])
    assert "data=toy_celeba" in cfg.hints.data and "data.attributes" in cfg.hints.data


def test_mismatch_descriptions() -> None:
    small, wide = nn.Sequential(nn.Linear(2, 3)), nn.Sequential(nn.Linear(2, 4))
    assert describe_mismatch(small.state_dict(), small.state_dict()) is None
    resized = describe_mismatch(small.state_dict(), wide.state_dict())
    assert resized is not None and "0.weight is (3, 2) in it and (4, 2) in this model" in resized
    other = nn.ModuleDict({"net": nn.Linear(2, 3)}).state_dict()
    assert "submodules ['net'], this model has ['0']" in str(
        describe_mismatch(other, small.state_dict())
    )
