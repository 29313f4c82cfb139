"""The anime hair/eye colour classifier: its scores, its checkpoint, its training and command."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from datamodules.conditions import OneHotGroups
from datamodules.errors import DataError
from metrics import train_anime_tags_classifier as command
from metrics.anime_tags_classifier import AnimeTagsClassifier, ColourNet
from metrics.train_anime_tags_classifier import parse_args, save_checkpoint, train_classifier

# A small vocabulary: hair is the top half of an image, eyes the bottom half, each a solid colour.
GROUPS = OneHotGroups((("hair", ("red", "green", "blue", "white")), ("eyes", ("red", "yellow"))))
HAIR_RGB = torch.tensor([[220, 30, 30], [30, 200, 40], [40, 60, 220], [240, 240, 240]])
EYE_RGB = torch.tensor([[220, 30, 30], [240, 220, 40]])


def onehot(hair: list[int], eyes: list[int]) -> torch.Tensor:
    """Conditions ``(N, 6)`` for hair and eye indices."""
    return torch.cat([torch.eye(4)[hair], torch.eye(2)[eyes]], dim=1)


def halves(n: int, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 ``(n, 3, size, size)``: top half hair colour, bottom half eye colour, noisy."""
    generator = torch.Generator().manual_seed(seed)
    hair = torch.randint(0, 4, (n,), generator=generator)
    eyes = torch.randint(0, 2, (n,), generator=generator)
    top = HAIR_RGB[hair][:, :, None, None].expand(n, 3, size // 2, size)
    bottom = EYE_RGB[eyes][:, :, None, None].expand(n, 3, size - size // 2, size)
    noise = torch.randint(-25, 26, (n, 3, size, size), generator=generator)
    images = (torch.cat([top, bottom], dim=2) + noise).clamp(0, 255).to(torch.uint8)
    return images, onehot(hair.tolist(), eyes.tolist())


def random_classifier(image_size: int = 16) -> AnimeTagsClassifier:
    """An untrained classifier with varied BatchNorm statistics (so eval mode matters)."""
    torch.manual_seed(0)
    network = ColourNet(GROUPS.dim)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0.0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    return AnimeTagsClassifier(network, GROUPS, image_size)


def test_accuracy_counts_each_group_and_both(monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = random_classifier()
    predicted = [torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 1, 0])]
    monkeypatch.setattr(classifier, "predict", lambda images: predicted)
    conditions = onehot(hair=[0, 1, 2, 0], eyes=[0, 0, 1, 1])  # hair 3/4, eyes 2/4, both 2/4
    scores = classifier.accuracy(torch.zeros(4, 3, 16, 16), conditions)
    assert scores == {"acc_hair": 0.75, "acc_eyes": 0.5, "acc_both": 0.5}
    conditions = onehot(hair=[0, 1, 3, 2], eyes=[1, 1, 1, 1])  # hair 2/4, eyes 2/4, both 1/4
    scores = classifier.accuracy(torch.zeros(4, 3, 16, 16), conditions)
    assert scores == {"acc_hair": 0.5, "acc_eyes": 0.5, "acc_both": 0.25}


def test_predict_gives_one_index_per_group_at_any_input_size() -> None:
    classifier = random_classifier(image_size=16)
    for size in (16, 32):
        hair, eyes = classifier.predict(torch.rand(5, 3, size, size) * 2 - 1, batch_size=2)
        assert hair.shape == eyes.shape == (5,)
        assert hair.dtype == eyes.dtype == torch.long
        assert set(hair.tolist()) <= set(range(4)) and set(eyes.tolist()) <= {0, 1}


def test_accuracy_rejects_conditions_of_another_vocabulary() -> None:
    with pytest.raises(ValueError, match=r"conditions \(N, 6\)"):
        random_classifier().accuracy(torch.zeros(2, 3, 16, 16), torch.zeros(2, 22))


def test_checkpoint_round_trip_predicts_the_same(tmp_path: Path) -> None:
    classifier = random_classifier()
    path = save_checkpoint(classifier, tmp_path / "classifier" / "anime_tags.pt")
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    loaded = AnimeTagsClassifier.from_checkpoint(path)
    assert loaded.groups == GROUPS and loaded.image_size == 16
    images = torch.rand(8, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(loaded.logits(images), classifier.logits(images))
    for got, expected in zip(loaded.predict(images), classifier.predict(images), strict=True):
        assert torch.equal(got, expected)


def test_missing_checkpoint_names_the_file_and_how_to_train_one(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.pt"
    with pytest.raises(DataError, match="train_anime_tags_classifier") as error:
        AnimeTagsClassifier.from_checkpoint(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a torch file", "not a readable torch checkpoint"),
        ({"model": {}}, "found keys \\['model'\\]"),
        ({"model": {}, "groups": [["hair", ["red"]]], "image_size": 16}, "Missing key"),
        ({"model": {}, "groups": 7, "image_size": 16}, "not an anime tags classifier"),
    ],
)
def test_bad_checkpoint_names_the_file(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(DataError, match=message) as error:
        AnimeTagsClassifier.from_checkpoint(path)
    assert str(path) in str(error.value)


def test_a_tiny_training_run_learns_above_chance() -> None:
    images, conditions = halves(240)
    classifier, history = train_classifier(
        images, conditions, GROUPS, epochs=3, batch_size=16, lr=3e-3, val_fraction=0.2, seed=0
    )
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert all(record["images_per_s"] > 0 for record in history)
    best = max(history, key=lambda record: record["val_acc_both"])
    # Chance: hair 1/4, eyes 1/2, both 1/8.
    assert best["val_acc_hair"] > 0.6 and best["val_acc_eyes"] > 0.8
    assert best["val_acc_both"] > 0.5
    assert classifier.image_size == 16 and classifier.groups == GROUPS
    assert not classifier.network.training
    test_images, test_conditions = halves(64, seed=1)
    scores = classifier.accuracy(test_images.float() / 127.5 - 1, test_conditions)
    assert scores["acc_both"] > 0.5


def test_training_rejects_float_images() -> None:
    images, conditions = halves(8)
    with pytest.raises(ValueError, match="uint8"):
        train_classifier(images.float(), conditions, GROUPS, epochs=1)


def test_bad_arguments_show_the_usage() -> None:
    with pytest.raises(DataError, match="unknown argument 'epoch=3'") as error:
        parse_args(["root=/data", "out=/c.pt", "epoch=3"])
    assert "usage: python -m metrics.train_anime_tags_classifier" in str(error.value)
    with pytest.raises(DataError, match="root=... and out=... are required"):
        parse_args(["root=/data"])


def test_missing_root_is_a_message_naming_it(tmp_path: Path, capsys) -> None:
    root, out = tmp_path / "no_anime", tmp_path / "classifier.pt"
    assert command.main([f"root={root}", f"out={out}"]) == 2
    assert str(root) in capsys.readouterr().err
    assert not out.exists()


def test_command_trains_on_the_toy_set(tmp_path: Path) -> None:
    out = tmp_path / "classifier.pt"
    argv = [f"root={tmp_path / 'toy'}", f"out={out}", "toy=true", "n_images=48", "image_size=32"]
    assert command.main([*argv, "epochs=1", "batch_size=16", "val_fraction=0.25"]) == 0
    classifier = AnimeTagsClassifier.from_checkpoint(out)
    config = OmegaConf.load(command.DATA_CONFIG)
    assert classifier.groups.groups == (
        ("hair", tuple(config.hair_colours)),
        ("eyes", tuple(config.eye_colours)),
    )
    assert classifier.image_size == 32
