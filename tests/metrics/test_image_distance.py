"""Image distances: ~0 for one set against itself, growing with a shift; classifier features named
fcd/kcd (never FID); the Inception weights read from a local file only, with clear errors."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
import torch
from torch import nn

from datamodules.conditions import OneHotGroups
from datamodules.errors import DataError
from metrics.anime_tags_classifier import AnimeTagsClassifier, ColourNet
from metrics.celeba_classifier import CelebAAttributeClassifier
from metrics.iclevr_evaluator import IclevrEvaluator, build_evaluator_network
from metrics.image_distance import (
    CLASSIFIER_NAMES,
    ClassifierFeatures,
    FeatureExtractor,
    ImageDistance,
    InceptionFeatures,
    image_distances,
)

GROUPS = OneHotGroups((("hair", ("blue", "red")), ("eyes", ("green", "brown", "black"))))
CLASSIFIER_KEYS = {"fcd", "kcd_mean", "kcd_std"}


def anime_classifier(seed: int = 0) -> AnimeTagsClassifier:
    torch.manual_seed(seed)
    return AnimeTagsClassifier(ColourNet(GROUPS.dim), GROUPS, image_size=16)


def images(n: int = 48, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state_dict of a randomly initialised FID Inception (torch-fidelity's network built
    without its weights: the download and the load are patched out)."""
    fe = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    cls = fe.FeatureExtractorInceptionV3
    with (
        mock.patch.object(fe, "load_state_dict_from_url", lambda *args, **kwargs: None),
        mock.patch.object(cls, "load_state_dict", lambda self, *args, **kwargs: None),
    ):
        torch.manual_seed(0)
        network = cls("inception-v3-compat", ["2048"])
    path = tmp_path_factory.mktemp("inception") / "inception.pth"
    torch.save(network.state_dict(), path)
    return path


# Classifier features (fcd / kcd)


def test_classifier_distance_is_zero_for_a_set_against_itself_and_grows_with_a_shift() -> None:
    features = ClassifierFeatures(anime_classifier())
    real = images()
    same = image_distances(features, real, real)
    assert set(same) == CLASSIFIER_KEYS
    assert abs(same["fcd"]) < 1e-6 and abs(same["kcd_mean"]) < 1e-4
    near = image_distances(features, real, (real * 0.8).clamp(0, 1))
    far = image_distances(features, real, (real * 0.4).clamp(0, 1))
    assert 1e-4 < near["fcd"] < far["fcd"]
    assert 0 < near["kcd_mean"] < far["kcd_mean"]
    # Another draw of the same distribution is nearer than the shifted set.
    assert image_distances(features, real, images(seed=1))["fcd"] < far["fcd"]


def test_classifier_names_are_never_fid() -> None:
    features = ClassifierFeatures(anime_classifier())
    assert isinstance(features, FeatureExtractor) and features.names == CLASSIFIER_NAMES
    keys = image_distances(features, images(8), images(8, seed=1))
    assert set(keys) == CLASSIFIER_KEYS
    assert not any("fid" in key or key.startswith("kid") for key in keys)


def test_colournet_features_are_its_pooled_features() -> None:
    classifier = anime_classifier()
    features = ClassifierFeatures(classifier)
    x = images(4, size=32)  # resized to the classifier's 16x16
    assert (features.layer, features.image_size, features.num_features) == ("head", 16, 128)
    inputs = torch.nn.functional.interpolate(
        x * 2 - 1, size=16, mode="bilinear", align_corners=False, antialias=True
    )
    with torch.no_grad():
        maps = classifier.network.features(inputs)
    expected = torch.cat([maps.mean((2, 3)), maps.amax((2, 3))], dim=1)
    torch.testing.assert_close(features(x), expected)
    assert not classifier.network.head._forward_pre_hooks  # the hook lived for the call only


def test_features_of_the_iclevr_evaluator_and_the_celeba_classifier() -> None:
    iclevr = ClassifierFeatures(IclevrEvaluator(build_evaluator_network()))
    assert (iclevr.layer, iclevr.image_size, iclevr.num_features) == ("fc", 64, 512)
    assert iclevr(images(2)).shape == (2, 512)
    celeba = CelebAAttributeClassifier(ColourNet(2), ["Male", "Smiling"], image_size=16)
    assert ClassifierFeatures(celeba)(images(3)).shape == (3, 128)


def test_a_plain_module_names_its_feature_layer() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 6), nn.ReLU(), nn.Linear(6, 2))
    features = ClassifierFeatures(net, layer="3", image_size=4)
    assert features.num_features == 6 and features(images(5)).shape == (5, 6)
    with pytest.raises(ValueError, match="layer"):
        ClassifierFeatures(net)
    with pytest.raises(TypeError, match="network"):
        ClassifierFeatures(object())


def test_real_features_are_kept_across_reset_and_kid_is_seeded() -> None:
    distance = ImageDistance(ClassifierFeatures(anime_classifier()), kid_subsets=10)
    distance.update(images(), real=True)
    distance.update(images(seed=1), real=False)
    first = distance.compute()
    assert distance.compute() == first  # KID's subsets are drawn from kid_seed
    distance.reset()
    assert (distance.n_real, distance.n_fake) == (48, 0)
    distance.update(images(seed=1).split(16), real=False)  # batches work too
    assert distance.compute() == pytest.approx(first)
    distance.reset(real=True)
    assert distance.n_real == 0
    distance.update(images(1), real=True)
    distance.update(images(1), real=False)
    with pytest.raises(ValueError, match="at least 2"):
        distance.compute()


def test_uint8_images_are_scaled_to_unit() -> None:
    features = ClassifierFeatures(anime_classifier())
    real = (images() * 255).round().to(torch.uint8)
    same = image_distances(features, real, real.float() / 255)
    assert abs(same["fcd"]) < 1e-6


# Inception weights (fid / kid)


def test_missing_inception_weights_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "inception.pth"
    with pytest.raises(DataError, match=f"{path}.*does not exist.*cannot be downloaded"):
        InceptionFeatures.from_weights(path)


def test_unreadable_inception_weights_name_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match=f"{junk} is not a readable torch file"):
        InceptionFeatures.from_weights(junk)
    nested = tmp_path / "nested.pth"
    torch.save({"model": {"w": torch.zeros(1)}}, nested)
    with pytest.raises(DataError, match=f"{nested} is not a state_dict"):
        InceptionFeatures.from_weights(nested)


def test_weights_of_another_network_name_the_file(tmp_path: Path) -> None:
    pytest.importorskip("torch_fidelity")
    other = tmp_path / "resnet.pth"
    torch.save(build_evaluator_network().state_dict(), other)
    with pytest.raises(DataError, match=f"{other} does not hold the FID Inception v3 weights"):
        InceptionFeatures.from_weights(other)


def test_without_torch_fidelity_the_error_names_the_package(inception_weights: Path) -> None:
    with (
        mock.patch("torchmetrics.image.fid._TORCH_FIDELITY_AVAILABLE", False),
        pytest.raises(DataError, match="pip install torch-fidelity"),
    ):
        InceptionFeatures.from_weights(inception_weights)


def test_inception_from_local_weights_reports_fid(inception_weights: Path) -> None:
    saved = torch.load(inception_weights, weights_only=True)
    inception = InceptionFeatures.from_weights(inception_weights)
    assert inception.names == ("fid", "kid") and inception.num_features == 2048
    loaded = inception.network.state_dict()
    torch.testing.assert_close(
        loaded["Mixed_7c.branch_pool.conv.weight"], saved["Mixed_7c.branch_pool.conv.weight"]
    )
    assert inception(images(2)).shape == (2, 2048)
    # A shallow layer keeps the test fast; it is not FID, so it is named after its width.
    shallow = InceptionFeatures.from_weights(inception_weights, feature=64)
    real = images(6, size=24)
    same = image_distances(shallow, real, real)
    assert set(same) == {"fid64", "kid64_mean", "kid64_std"} and abs(same["fid64"]) < 1e-6
    assert image_distances(shallow, real, real * 0.3)["fid64"] > 1e-4
    with pytest.raises(ValueError, match="feature"):
        InceptionFeatures.from_weights(inception_weights, feature=100)
