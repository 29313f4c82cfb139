"""sample.py end to end on tiny checkpoints: flow temperature, interpolation and attribute
manipulation on toy CelebA (glow and cglow at 32x32), and the errors for a GAN checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from datamodules.errors import DataError
from datamodules.toy_celeba import ensure_toy_celeba
from runtime import resolvers
from sample import read_image, sample
from tests.run_helpers import REPO, compose_train, write_run_config
from train import train

SIZE, PAD = 32, 2  # image size; save_image's padding between cells
N_IMAGES = 60  # toy faces: 48 train, 6 val, 6 test
STARGAN_DOMAINS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def _train_run(run: Path, data_dir: Path, *overrides: str) -> Path:
    """Train a tiny run into ``run`` for two steps; returns its ``last.ckpt`` (with the resolved
    config in ``run/.hydra/config.yaml``, as train.py leaves it)."""
    cfg = compose_train(
        run,
        [
            f"paths.data_dir={data_dir}",
            "data=toy_celeba",
            f"data.n_images={N_IMAGES}",
            f"data.image_size={SIZE}",
            "data.batch_size=8",
            "logger=none",
            "~callbacks.progress_bar",
            "trainer.accelerator=cpu",
            "trainer.max_epochs=1",
            "++trainer.limit_train_batches=2",
            *overrides,
        ],
    )
    train(cfg)
    write_run_config(cfg, run)
    return run / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints of a tiny cglow, glow and DCGAN on toy CelebA at 32x32 (trained once)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("sample_runs")
    data_dir = root / "data"
    ensure_toy_celeba(data_dir / "toy_celeba", n_images=N_IMAGES, seed=0)
    flow = ["model.flow.hidden=8", "model.flow.steps=2", "model.flow.levels=2", "model.n_samples=8"]
    try:
        return {
            "cglow": _train_run(root / "cglow", data_dir, "model=cglow", *flow),
            "glow": _train_run(root / "glow", data_dir, "model=glow", *flow),
            "dcgan": _train_run(
                root / "dcgan",
                data_dir,
                "model=dcgan",
                "model.generator.width=8",
                "model.discriminator.width=8",
                "model.n_samples=8",
            ),
            "stargan": _train_run(
                root / "stargan",
                data_dir,
                "model=stargan",
                f"data.attributes=[{','.join(STARGAN_DOMAINS)}]",
                "model.generator.width=8",
                "model.generator.n_res=1",
                "model.discriminator.width=8",
                "model.n_samples=4",
                "callbacks.translation_grid.n_images=4",
                "optimized_metric=null",
            ),
        }
    finally:
        torch.set_num_threads(threads)


def _cfg(ckpt: Path, out: Path, *overrides: str) -> DictConfig:
    resolvers.register()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("sample", overrides=[f"ckpt_path={ckpt}", f"out={out}", *overrides])


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


def _cell(grid: np.ndarray, row: int, column: int) -> np.ndarray:
    """Cell (row, column) of a save_image grid of SIZE images, ``(SIZE, SIZE, 3)``."""
    top, left = PAD + row * (SIZE + PAD), PAD + column * (SIZE + PAD)
    return grid[top : top + SIZE, left : left + SIZE]


def _grid_shape(rows: int, columns: int) -> tuple[int, int, int]:
    return (rows * (SIZE + PAD) + PAD, columns * (SIZE + PAD) + PAD, 3)


def _face(data_dir_image: Path, path: Path, size: tuple[int, int]) -> Path:
    """Save a toy face resized to ``size`` (width, height) at ``path``: a file of any size."""
    Image.open(data_dir_image).convert("RGB").resize(size).save(path)
    return path


def _toy_image(runs: dict[str, Path], index: int) -> Path:
    data = OmegaConf.load(runs["cglow"].parent.parent / ".hydra" / "config.yaml").data.root
    return Path(data) / "img_align_celeba" / f"{index + 1:06d}.jpg"


def test_conditions_in_words_and_temperature(runs: dict[str, Path], tmp_path: Path) -> None:
    words = "conditions=[Male Smiling, Pale_Skin, '']"
    first = sample(_cfg(runs["cglow"], tmp_path / "a", words, "n=2", "temperature=0", "seed=1"))
    assert first == [tmp_path / "a" / "conditions.png"]
    assert _png(first[0]).shape == _grid_shape(3, 2)
    assert (tmp_path / "a" / "conditions.txt").read_text().splitlines()[0] == "Male Smiling"
    # At temperature 0 every latent is its prior's mean: the noise (the seed) no longer matters.
    second = sample(_cfg(runs["cglow"], tmp_path / "b", words, "n=2", "temperature=0", "seed=2"))
    np.testing.assert_array_equal(_png(first[0]), _png(second[0]))
    warm = sample(_cfg(runs["cglow"], tmp_path / "c", words, "n=2", "temperature=1", "seed=2"))
    assert not np.array_equal(_png(first[0]), _png(warm[0]))


def test_unknown_condition_word_lists_the_attributes(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'Smilling' is not an attribute.*'Pale_Skin'"):
        sample(_cfg(runs["cglow"], tmp_path, "conditions=[Smilling]"))


@pytest.mark.parametrize("model", ["glow", "cglow"])
def test_interpolation_between_two_files_starts_and_ends_at_them(
    model: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    a = _face(_toy_image(runs, 0), tmp_path / "a.png", (90, 120))  # portrait, any size
    b = _face(_toy_image(runs, 1), tmp_path / "b.png", (64, 64))
    extra = ["interpolate_conditions=[Male Smiling, '']"] if model == "cglow" else []
    written = sample(
        _cfg(runs[model], tmp_path / "out", f"interpolate=[{a},{b}]", "frames=5", *extra)
    )
    assert written == [tmp_path / "out" / "interpolation.png"]
    grid = _png(written[0])
    assert grid.shape == _grid_shape(1, 5)
    # A flow decodes its encoding exactly: the end frames are the inputs, up to the 5-bit colour
    # bins the flow reads (half a bin, 1/64) and PNG rounding.
    for column, path in ((0, a), (4, b)):
        expected = read_image(path, SIZE).permute(1, 2, 0).numpy() / 255.0
        assert np.abs(_cell(grid, 0, column) - expected).max() < 1 / 64 + 2 / 255
    assert np.abs(_cell(grid, 0, 2) - _cell(grid, 0, 0)).mean() > 0.01  # the middle differs


def test_interpolation_between_training_images(runs: dict[str, Path], tmp_path: Path) -> None:
    cfg = _cfg(runs["cglow"], tmp_path, "interpolate_from_data=true", "n=3", "frames=4")
    assert _png(sample(cfg)[0]).shape == _grid_shape(3, 4)


def test_manipulation_moves_latents_along_the_attribute(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    cfg = _cfg(runs["cglow"], tmp_path, "manipulate=Smiling", "n=2", "strengths=[-1,0,1]")
    written = sample(cfg)
    assert written == [tmp_path / "manipulation_Smiling.png"]
    grid = _png(written[0])
    assert grid.shape == _grid_shape(2, 3)
    for row in range(2):
        unchanged = _cell(grid, row, 1)  # strength 0: the reconstruction of a training image
        assert np.abs(_cell(grid, row, 0) - unchanged).mean() > 1e-3
        assert np.abs(_cell(grid, row, 2) - unchanged).mean() > 1e-3


def test_manipulation_of_a_celeba_column_outside_the_conditions(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """An unconditional glow on toy CelebA: Young is not in data.attributes, but the attribute
    file has it."""
    cfg = _cfg(runs["glow"], tmp_path, "manipulate=Young", "n=1", "strengths=[0,2]")
    assert _png(sample(cfg)[0]).shape == _grid_shape(1, 2)


def test_unknown_manipulation_attribute_lists_the_vocabulary(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="manipulate='Happy'") as error:
        sample(_cfg(runs["cglow"], tmp_path, "manipulate=Happy"))
    assert "['Male', 'Smiling', 'Pale_Skin', 'Goatee']" in str(error.value)
    assert "Young" in str(error.value)  # the attribute file's other columns


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["interpolate=[a.png]"], "pairs of image files"),
        (["interpolate=[gone1.png, gone2.png]"], "gone1.png does not exist"),
        (["interpolate=[a.png, b.png]", "interpolate_from_data=true"], "not both"),
        (["interpolate=[a.png, b.png]", "interpolate_conditions=[Male]"], "1 conditions for 2"),
    ],
)
def test_bad_interpolation_arguments(
    overrides: list[str], message: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    for name in ("a.png", "b.png"):
        _face(_toy_image(runs, 0), tmp_path / name, (40, 40))
    overrides = [o.replace("a.png", str(tmp_path / "a.png")) for o in overrides]
    overrides = [o.replace("b.png", str(tmp_path / "b.png")) for o in overrides]
    with pytest.raises(DataError, match=message):
        sample(_cfg(runs["cglow"], tmp_path / "out", *overrides))


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match="bad.jpg is not a readable image"):
        read_image(bad, SIZE)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["interpolate_from_data=true"],
            r"interpolation needs a flow checkpoint \(model=glow/cglow",
        ),
        (["manipulate=Smiling"], r"manipulate= needs a flow checkpoint \(model=glow/cglow"),
        (["temperature=0.5"], r"temperature= needs a flow checkpoint"),
    ],
)
def test_flow_modes_on_a_gan_checkpoint_are_refused(
    overrides: list[str], message: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(DataError, match=message):
        sample(_cfg(runs["dcgan"], tmp_path, *overrides))
    assert not list(tmp_path.glob("*.png"))


def test_gan_checkpoint_still_samples_a_plain_grid(runs: dict[str, Path], tmp_path: Path) -> None:
    assert _png(sample(_cfg(runs["dcgan"], tmp_path, "n=4"))[0]).shape == _grid_shape(2, 2)


def test_stargan_translates_image_files_to_domains_in_words(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    faces = [_face(_toy_image(runs, i), tmp_path / f"face{i}.png", (50, 70)) for i in (0, 1)]
    written = sample(
        _cfg(
            runs["stargan"],
            tmp_path / "out",
            f"translate=[{faces[0]},{faces[1]}]",
            "domains=[Blond_Hair,Male]",
        )
    )
    assert written == [tmp_path / "out" / "translated.png"]
    grid = _png(written[0])
    assert grid.shape == _grid_shape(2, 2)
    # Column 0 is each input file as the model sees it (centre crop, resize).
    np.testing.assert_allclose(
        _cell(grid, 1, 0), read_image(faces[1], SIZE).permute(1, 2, 0).numpy() / 255, atol=1 / 255
    )
    with pytest.raises(DataError, match="Blond_Hair"):
        sample(_cfg(runs["stargan"], tmp_path / "bad", f"translate={faces[0]}"))
    with pytest.raises(DataError, match="Purple_Hair"):
        sample(
            _cfg(
                runs["stargan"], tmp_path / "bad", f"translate={faces[0]}", "domains=[Purple_Hair]"
            )
        )
    with pytest.raises(DataError, match="model=stargan"):
        sample(_cfg(runs["glow"], tmp_path / "bad", f"translate={faces[0]}", "domains=[Male]"))
