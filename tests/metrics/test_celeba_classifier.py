"""The CelebA attribute classifier: its scores, column selection by name, its checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

from datamodules.errors import DataError
from metrics.anime_tags_classifier import ColourNet
from metrics.celeba_classifier import CelebAAttributeClassifier
from metrics.train_celeba_classifier import save_checkpoint
from tests.run_helpers import REPO

ATTRIBUTES = ("Male", "Smiling", "Pale_Skin")


def random_classifier(image_size: int = 16, **kwargs) -> CelebAAttributeClassifier:
    """An untrained classifier with varied BatchNorm statistics (so eval mode matters)."""
    torch.manual_seed(0)
    network = ColourNet(len(ATTRIBUTES))
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0.0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    return CelebAAttributeClassifier(network, ATTRIBUTES, image_size, **kwargs)


def scripted(classifier: CelebAAttributeClassifier, logits: torch.Tensor, monkeypatch) -> None:
    """Make ``classifier.logits`` return ``logits`` (in the classifier's attribute order)."""
    monkeypatch.setattr(classifier, "logits", lambda images, batch_size=256: logits)


def test_accuracy_per_attribute_mean_and_all(monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = random_classifier()
    # Predicted (logit > 0): Male 1 0 1 0, Smiling 1 1 0 0, Pale_Skin 0 0 0 1.
    scripted(
        classifier,
        torch.tensor([[2.0, 1.0, -1.0], [-3.0, 0.5, -2.0], [0.1, -0.1, -4.0], [-1.0, -2.0, 3.0]]),
        monkeypatch,
    )
    conditions = torch.tensor([[1, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 1]]).float()
    scores = classifier.accuracy(torch.zeros(4, 3, 16, 16), conditions)
    # Male right 3/4, Smiling 4/4, Pale_Skin 3/4; rows all right: 0, 3.
    assert scores == {
        "acc_Male": 0.75,
        "acc_Smiling": 1.0,
        "acc_Pale_Skin": 0.75,
        "acc_mean": pytest.approx((0.75 + 1.0 + 0.75) / 3),
        "acc_all": 0.5,
    }


def test_scored_columns_are_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = random_classifier(scored=["Pale_Skin", "Male"])
    scripted(classifier, torch.tensor([[2.0, -1.0, -1.0], [-3.0, 1.0, 2.0]]), monkeypatch)
    # Columns: Pale_Skin then Male. Image 0: not pale, male; image 1: pale, not male.
    conditions = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    scores = classifier.accuracy(torch.zeros(2, 3, 16, 16), conditions)
    assert scores == {"acc_Pale_Skin": 1.0, "acc_Male": 0.5, "acc_mean": 0.75, "acc_all": 0.5}
    predicted = classifier.predict(torch.zeros(2, 3, 16, 16))
    assert torch.equal(predicted, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))


def test_predict_is_zero_one_per_attribute_at_any_input_size() -> None:
    classifier = random_classifier(image_size=16)
    for size in (16, 32):
        predicted = classifier.predict(torch.rand(5, 3, size, size) * 2 - 1, batch_size=2)
        assert predicted.shape == (5, 3)
        assert set(predicted.unique().tolist()) <= {0.0, 1.0}
    assert classifier.logits(torch.rand(5, 3, 16, 16)).shape == (5, 3)


def test_accuracy_rejects_conditions_of_another_width() -> None:
    with pytest.raises(
        DataError, match=r"4 columns.*3 attributes, \['Male', 'Smiling', 'Pale_Skin'"
    ):
        random_classifier().accuracy(torch.zeros(2, 3, 16, 16), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"conditions \(N, 3\)"):
        random_classifier().accuracy(torch.zeros(2, 3, 16, 16), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="N > 0"):
        random_classifier().accuracy(torch.zeros(0, 3, 16, 16), torch.zeros(0, 3))


def test_checkpoint_round_trip_predicts_the_same(tmp_path: Path) -> None:
    classifier = random_classifier()
    path = save_checkpoint(classifier, tmp_path / "classifier" / "celeba.pt")
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    loaded = CelebAAttributeClassifier.from_checkpoint(path)
    assert loaded.attributes == loaded.scored == ATTRIBUTES and loaded.image_size == 16
    images = torch.rand(8, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(loaded.logits(images), classifier.logits(images))
    assert torch.equal(loaded.predict(images), classifier.predict(images))
    subset = CelebAAttributeClassifier.from_checkpoint(path, attributes=["Smiling"])
    assert torch.equal(subset.predict(images), classifier.predict(images)[:, 1:2])


def test_attributes_the_classifier_lacks_are_an_error_naming_both_lists(tmp_path: Path) -> None:
    path = save_checkpoint(random_classifier(), tmp_path / "celeba.pt")
    with pytest.raises(DataError) as error:
        CelebAAttributeClassifier.from_checkpoint(path, attributes=["Male", "Young", "Blond_Hair"])
    message = str(error.value)
    assert str(path) in message
    assert "['Male', 'Young', 'Blond_Hair']" in message
    assert "['Male', 'Smiling', 'Pale_Skin']" in message
    assert "unknown: ['Young', 'Blond_Hair']" in message
    assert "train_celeba_classifier" in message


def test_missing_checkpoint_names_the_file_and_how_to_train_one(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.pt"
    with pytest.raises(DataError, match="train_celeba_classifier") as error:
        CelebAAttributeClassifier.from_checkpoint(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a torch file", "not a readable torch checkpoint"),
        ({"model": {}}, "found keys \\['model'\\]"),
        ({"model": {}, "groups": [], "image_size": 16}, "found keys"),
        ({"model": {}, "attributes": ["Male"], "image_size": 16}, "Missing key"),
        ({"model": {}, "attributes": "Male", "image_size": 16}, "list of names"),
        ({"model": {}, "attributes": [1, 2], "image_size": 16}, "list of names"),
        ("state", "found str"),
    ],
)
def test_bad_checkpoint_names_the_file(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(DataError, match=message) as error:
        CelebAAttributeClassifier.from_checkpoint(path)
    assert str(path) in str(error.value)


def test_wrong_width_state_dict_is_refused(tmp_path: Path) -> None:
    checkpoint = random_classifier().to_checkpoint()
    checkpoint["attributes"] = ["Male", "Smiling"]  # 2 names for 3 outputs
    path = tmp_path / "mismatch.pt"
    torch.save(checkpoint, path)
    with pytest.raises(DataError, match="(?s)not a CelebA attribute classifier.*size mismatch"):
        CelebAAttributeClassifier.from_checkpoint(path)


def test_metric_preset_builds_the_evaluator_for_the_data_attributes(tmp_path: Path) -> None:
    """conf/metric/celeba_attributes.yaml: the classifier scores data.attributes by name and
    the callback scores the datamodule's attribute combinations, keeping best by the mean."""
    from runtime import resolvers

    path = save_checkpoint(random_classifier(), tmp_path / "celeba.pt")
    resolvers.register()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "data=toy_celeba",
                "data.attributes=[Pale_Skin,Male]",
                "+metric@callbacks.celeba_attributes=celeba_attributes",
                f"callbacks.celeba_attributes.evaluator.path={path}",
            ],
        )
    node = cfg.callbacks.celeba_attributes
    with open_dict(node):
        node.best_dirpath = str(tmp_path)
    callback = instantiate(node, _convert_="all")
    assert callback.condition_sets is None and callback.monitor == "acc_mean_attr_combos"
    assert callback.evaluator.scored == ("Pale_Skin", "Male")
    assert callback.evaluator.attributes == ATTRIBUTES


def test_metric_preset_loaded_alone_scores_in_the_classifiers_order(tmp_path: Path) -> None:
    """Read without a run config (no data node), the preset falls back to the classifier's own
    attribute order instead of failing on the interpolation."""
    preset = OmegaConf.load(REPO / "conf" / "metric" / "celeba_attributes.yaml")
    preset.evaluator.path = str(save_checkpoint(random_classifier(), tmp_path / "celeba.pt"))
    preset.monitor, preset.best_dirpath = None, None
    callback = instantiate(preset)
    assert callback.evaluator.scored == callback.evaluator.attributes == ATTRIBUTES
