"""Image-set distances (DESIGN §5): Fréchet and kernel distances between the features of real and
generated images, computed by torchmetrics' ``FrechetInceptionDistance`` and
``KernelInceptionDistance`` (their custom ``feature=<nn.Module>`` route; ``ImageDistance`` runs
the extractor once per image and hands both metrics its features).

Two extractors, each naming its own metrics:

- ``InceptionFeatures.from_weights(path)``: the standard FID Inception v3 (torch-fidelity's
  ``FeatureExtractorInceptionV3``, as torchmetrics builds it) with weights from a local file —
  they cannot be downloaded here. Reports ``fid``, ``kid_mean``, ``kid_std``.
- ``ClassifierFeatures(classifier)``: the penultimate features of one of our trained classifiers
  (the ICLEVR evaluator's ResNet18, the anime tags or CelebA attribute ``ColourNet``). The same
  distances in another feature space are not FID, so they are reported as ``fcd``, ``kcd_mean``,
  ``kcd_std`` (Fréchet / kernel classifier distance); they compare models scored by the same
  classifier only.

Every extractor takes float images ``(N, 3, H, W)`` in [0, 1], any size, and returns features
``(N, num_features)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from datamodules.errors import DataError
from metrics.resize import resize_square

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_HELP = (
    "Give a local copy of the standard FID Inception v3 weights as torch-fidelity (and so"
    f" torchmetrics) loads them, its release file {INCEPTION_FILE}; they cannot be downloaded"
    " here. Without them, score in a trained classifier's feature space instead (fcd/kcd:"
    " conf/metric/fcd_*.yaml)."
)
INCEPTION_FEATURES = (64, 192, 768, 2048)
# The input size each of our classifiers was built for, when it does not say (the ICLEVR course
# evaluator sees 64x64 images).
ICLEVR_SIZE = 64


class DistanceNames(NamedTuple):
    """The metric names of a feature space: ``frechet`` and ``kernel`` (``{kernel}_mean``,
    ``{kernel}_std``)."""

    frechet: str
    kernel: str


INCEPTION_NAMES = DistanceNames("fid", "kid")
CLASSIFIER_NAMES = DistanceNames("fcd", "kcd")


@runtime_checkable
class FeatureExtractor(Protocol):
    """Maps float images ``(N, 3, H, W)`` in [0, 1] to features ``(N, num_features)``; an
    ``nn.Module`` so torchmetrics can hold it and move it between devices."""

    num_features: int
    names: DistanceNames

    def __call__(self, images: Tensor) -> Tensor: ...


# Inception (FID)


def _torch_fidelity_available() -> bool:
    import torchmetrics.image.fid as tm_fid

    return bool(tm_fid._TORCH_FIDELITY_AVAILABLE)


class InceptionFeatures(nn.Module):
    """The FID Inception v3 of torchmetrics (torch-fidelity's network) on [0, 1] images.

    Images are rounded to uint8, as the network expects, and resized to 299x299 inside it. The
    resize is torch-fidelity's TensorFlow-compatible bilinear one by default, as behind published
    FID numbers; ``from_weights(..., antialias=True)`` takes torchmetrics' default instead
    (PyTorch's antialiased bilinear resize).

    Args:
        network: torchmetrics' ``NoTrainInceptionV3`` with one entry in its features list.
        feature: that entry: 2048 (pool3, the standard FID features), 768, 192 or 64.
    """

    def __init__(self, network: nn.Module, feature: int = 2048) -> None:
        super().__init__()
        self.network = network
        self.num_features = int(feature)
        # FID is defined on the 2048 pool features; another layer is named after its width.
        suffix = "" if self.num_features == 2048 else str(self.num_features)
        self.names = DistanceNames(f"fid{suffix}", f"kid{suffix}")

    @classmethod
    def from_weights(
        cls, path: str | Path, feature: int = 2048, antialias: bool = False
    ) -> InceptionFeatures:
        """Build the FID Inception from the weights file ``path`` (never downloads).

        Raises:
            DataError: naming the file when it is missing, not a readable torch file of tensors
                (read with ``weights_only=True`` before torch-fidelity reads it), or not the
                Inception's state_dict (with the missing and unexpected keys); naming the package
                when torch-fidelity is not installed.
            ValueError: for a ``feature`` other than 64, 192, 768, 2048.
        """
        if feature not in INCEPTION_FEATURES:
            raise ValueError(f"feature must be one of {INCEPTION_FEATURES}, got {feature!r}")
        path = Path(path).expanduser()
        if not path.is_file():
            raise DataError(f"The Inception weights file {path} does not exist. {INCEPTION_HELP}")
        state = _read_tensors(path)
        if not _torch_fidelity_available():
            raise DataError(
                f"Scoring with the Inception weights {path} needs torch-fidelity (the network"
                " torchmetrics builds for FID): pip install torch-fidelity."
            )
        from torchmetrics.image.fid import NoTrainInceptionV3

        try:
            network = NoTrainInceptionV3(
                name="inception-v3-compat",
                features_list=[str(feature)],
                feature_extractor_weights_path=str(path),
                antialias=antialias,
            )
        except RuntimeError as err:  # load_state_dict: missing / unexpected keys, wrong shapes
            raise DataError(
                f"{path} does not hold the FID Inception v3 weights: its {len(state)} tensors do"
                f" not fit the network ({_first_lines(err)}). {INCEPTION_HELP}"
            ) from err
        return cls(network, feature)

    def forward(self, images: Tensor) -> Tensor:
        _check_images(images)
        uint8 = (images.float() * 255.0).round_().clamp_(0.0, 255.0).to(torch.uint8)
        return self.network(uint8).float()


def _read_tensors(path: Path) -> dict[str, Tensor]:
    """``torch.load(path)`` as a dict of tensors, read safely, or a DataError naming the file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load fails with KeyError, EOFError, UnpicklingError, ...
        raise DataError(
            f"{path} is not a readable torch file (torch.load, weights_only=True):"
            f" {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}."
            f" {INCEPTION_HELP}"
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        found = f"keys {sorted(map(str, state))[:5]}" if isinstance(state, dict) else type(state)
        raise DataError(
            f"{path} is not a state_dict (a dict of tensors): found {found}. {INCEPTION_HELP}"
        )
    return state


def _first_lines(err: Exception, limit: int = 300) -> str:
    """load_state_dict's complaint, cut short (it lists every missing key)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = " ".join(lines[1:3] if len(lines) > 1 else lines)
    return text if len(text) <= limit else text[:limit] + " ..."


# Our classifiers (FCD)


def _classifier_parts(classifier: Any) -> tuple[nn.Module, int | None]:
    """The network of one of our classifiers and the input size it was built for."""
    if isinstance(classifier, nn.Module):
        return classifier, None
    network = getattr(classifier, "network", None)
    if not isinstance(network, nn.Module):
        raise TypeError(
            "ClassifierFeatures needs an nn.Module or a classifier with a .network module (our"
            f" IclevrEvaluator, AnimeTagsClassifier, CelebAAttributeClassifier), got {classifier!r}"
        )
    size = getattr(classifier, "image_size", None)
    if size is None:
        from metrics.iclevr_evaluator import IclevrEvaluator

        size = ICLEVR_SIZE if isinstance(classifier, IclevrEvaluator) else None
    return network, size


def _default_layer(network: nn.Module) -> str:
    for name in ("head", "fc"):  # ColourNet's linear head; torchvision ResNet's fc
        if isinstance(getattr(network, name, None), nn.Module):
            return name
    raise ValueError(
        f"{type(network).__name__} has neither .head nor .fc: name the layer whose input is the"
        " feature vector (layer=...)"
    )


def _in_features(layer: nn.Module) -> int | None:
    first = layer[0] if isinstance(layer, nn.Sequential) and len(layer) else layer
    return first.in_features if isinstance(first, nn.Linear) else None


class ClassifierFeatures(nn.Module):
    """The penultimate features of a trained classifier: the input of its last layer.

    Images in [0, 1] are mapped to [-1, 1] (what our classifiers are trained on) and resized to
    ``image_size``, then run through the network; a forward pre-hook on ``layer`` catches its
    input (for the call only) — ColourNet's pooled 128 features (``head``), ResNet18's 512 pooled
    features (``fc``). The classifier is left unchanged; its distances are named ``fcd`` /
    ``kcd``.

    Args:
        classifier: ``IclevrEvaluator``, ``AnimeTagsClassifier``, ``CelebAAttributeClassifier``
            (their ``.network``), or an ``nn.Module``.
        layer: the submodule whose input is the feature vector; None: ``head``, else ``fc``.
        image_size: the input size; None: the classifier's (``image_size``, 64 for the ICLEVR
            evaluator), else the images' own.
    """

    names = CLASSIFIER_NAMES

    def __init__(
        self, classifier: Any, layer: str | None = None, image_size: int | None = None
    ) -> None:
        super().__init__()
        network, size = _classifier_parts(classifier)
        self.network = network.eval()
        self.image_size = image_size if image_size is not None else size
        self.layer = layer if layer is not None else _default_layer(self.network)
        known = _in_features(self.network.get_submodule(self.layer))
        self.num_features = known if known is not None else self._probe()

    def _probe(self) -> int:
        size = self.image_size or 32
        return int(self.forward(torch.rand(2, 3, size, size)).shape[1])

    def train(self, mode: bool = True) -> ClassifierFeatures:
        """Always in eval mode (BatchNorm running statistics), like torchmetrics' Inception."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        _check_images(images)
        param = next(self.network.parameters(), None)
        x = images.float() * 2.0 - 1.0
        if param is not None:
            x = x.to(param.device)
        if self.image_size is not None:
            x = resize_square(x, self.image_size)
        caught: list[Tensor] = []
        layer = self.network.get_submodule(self.layer)
        # The hook lives for this call only: the classifier is left as it was.
        handle = layer.register_forward_pre_hook(lambda _, inputs: caught.append(inputs[0]))
        try:
            self.network(x)
        finally:
            handle.remove()
        if not caught:
            raise RuntimeError(f"the classifier's forward never reached its layer {self.layer!r}")
        return caught[-1].flatten(1).float()


def _check_images(images: Tensor) -> None:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected RGB images (N, 3, H, W) in [0, 1], got {tuple(images.shape)}")


# The distances


class ImageDistance:
    """Fréchet and kernel distances between real and generated images in one feature space.

    Holds torchmetrics' FID and KID metrics, fed with the extractor's features (extracted once for
    both, on the extractor's device). Real features are kept across ``reset()``
    (``reset_real_features=False``), so scoring a generator again only extracts the generated
    images' features. ``compute()`` returns
    ``{frechet: ..., f"{kernel}_mean": ..., f"{kernel}_std": ...}`` under the extractor's names.

    Args:
        extractor: a ``FeatureExtractor`` (``InceptionFeatures`` or ``ClassifierFeatures``).
        kid_subsets: KID's number of random subsets (its mean and std are over them).
        kid_subset_size: KID's subset size; None: ``min(1000, n // 2)`` for ``n`` images in the
            smaller set (at least 2), always capped at ``n``.
        kid_seed: seeds KID's subset draws, so a score does not depend on the global RNG.
        batch_size: images per feature-extractor call in ``update``.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        kid_subsets: int = 100,
        kid_subset_size: int | None = None,
        kid_seed: int = 0,
        batch_size: int = 100,
    ) -> None:
        if not isinstance(extractor, nn.Module) or not isinstance(extractor, FeatureExtractor):
            raise TypeError(
                "extractor must be an nn.Module with num_features and names (InceptionFeatures,"
                f" ClassifierFeatures), got {type(extractor).__name__}"
            )
        self.extractor = extractor
        self.names = extractor.names
        self.kid_subset_size = kid_subset_size
        self.kid_seed = kid_seed
        self.batch_size = batch_size
        # The extractor runs once per image in ``update``; both metrics then get its features
        # through an identity "feature extractor" (torchmetrics' custom-module route).
        given = _GivenFeatures(extractor.num_features)
        # sync_on_compute=False: under DDP every rank scores its own (identical, seeded) sets.
        self.fid = FrechetInceptionDistance(
            feature=given, reset_real_features=False, sync_on_compute=False
        )
        with warnings.catch_warnings():  # "KID will save all extracted features": it must
            warnings.filterwarnings("ignore", "Metric `Kernel Inception Distance`", UserWarning)
            self.kid = KernelInceptionDistance(
                feature=given, subsets=kid_subsets, reset_real_features=False, sync_on_compute=False
            )
        self.fid.to(next(extractor.parameters(), torch.empty(0)).device)
        self.kid.to(self.fid.device)

    @property
    def device(self) -> torch.device:
        return self.fid.device

    def to(self, device: str | torch.device) -> ImageDistance:
        """Move the extractor and the metrics' states to ``device``."""
        self.extractor.to(device)
        self.fid.to(device)
        self.kid.to(device)
        return self

    @property
    def n_real(self) -> int:
        return int(self.fid.real_features_num_samples)

    @property
    def n_fake(self) -> int:
        return int(self.fid.fake_features_num_samples)

    @torch.no_grad()
    def update(self, images: Tensor | Iterable[Tensor], real: bool) -> None:
        """Add images (a tensor, or an iterable of batches) ``(N, 3, H, W)`` in [0, 1], or uint8
        in [0, 255], to the real or generated set."""
        batches = images.split(self.batch_size) if isinstance(images, Tensor) else images
        for batch in batches:
            if batch.dtype == torch.uint8:
                batch = batch.float() / 255.0
            features = self.extractor(batch.to(self.device, torch.float32)).to(self.device)
            self.fid.update(features, real=real)
            self.kid.update(features, real=real)

    def compute(self) -> dict[str, float]:
        """The distances of the sets added since the last ``reset`` (real: since the first)."""
        n = min(self.n_real, self.n_fake)
        if n < 2:
            raise ValueError(
                f"the distances need at least 2 real and 2 generated images, got {self.n_real}"
                f" and {self.n_fake}"
            )
        size = self.kid_subset_size or max(2, min(1000, n // 2))
        self.kid.subset_size = min(size, n)
        frechet = float(self.fid.compute())
        devices = [] if self.device.type == "cpu" else [self.device]
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.kid_seed)
            kid_mean, kid_std = self.kid.compute()
        return {
            self.names.frechet: frechet,
            f"{self.names.kernel}_mean": float(kid_mean),
            f"{self.names.kernel}_std": float(kid_std),
        }

    def reset(self, real: bool = False) -> None:
        """Forget the generated images (and the real ones too with ``real=True``)."""
        for metric in (self.fid, self.kid):
            metric.reset_real_features = real
            metric.reset()
            metric.reset_real_features = False


class _GivenFeatures(nn.Module):
    """The identity, for torchmetrics: features already extracted, ``num_features`` wide."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, features: Tensor) -> Tensor:
        if features.ndim != 2 or features.shape[1] != self.num_features:
            raise ValueError(
                f"expected features (N, {self.num_features}), got {tuple(features.shape)}"
            )
        return features


def image_distances(
    extractor: FeatureExtractor,
    real: Tensor | Iterable[Tensor],
    generated: Tensor | Iterable[Tensor],
    **kwargs: Any,
) -> dict[str, float]:
    """One-shot ``ImageDistance``: the distances between ``real`` and ``generated`` images."""
    distance = ImageDistance(extractor, **kwargs)
    distance.update(real, real=True)
    distance.update(generated, real=False)
    return distance.compute()
