"""Landmark regressors: a torchvision backbone with a 2N-output linear head.

The paper regresses the N landmark coordinates directly from a face crop with
a ResNet50 (one stage, end to end); ResNet, DenseNet and Wide ResNet were
tried with little difference. :func:`build_model` gives any of :data:`ARCHS`
with its ImageNet classifier replaced by ``Linear(features, 2N)``.

Two output parametrisations (the paper's Table 4):

* "direct prediction": ``mean_shape=None``; the network outputs the
  coordinates themselves.
* displacement from the mean: ``mean_shape`` = the mean of bin means
  (:func:`aniso.sampling.mean_of_bin_means`); the network outputs
  ``x - x_bar`` and the model adds ``x_bar`` back.

Weights are never downloaded: backbones start from torchvision's random
initialisation unless ``weights`` names a local state-dict file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["ARCHS", "LandmarkRegressor", "build_model", "load_weights"]

#: Backbones :func:`build_model` knows (torchvision constructor names).
ARCHS = ("resnet18", "resnet34", "resnet50", "densenet121", "wide_resnet50_2")

# Old torchvision DenseNet checkpoints name layers "norm.1" where the module
# now has "norm1"; torchvision renames them on load, and so do we.
_DENSENET_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
                               r"((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def _backbone(arch: str) -> tuple[nn.Module, int, str]:
    """Torchvision ``arch`` with random weights, its classifier swapped for Identity.

    Returns (backbone, feature width, name of the removed classifier attribute).
    """
    import torchvision.models as tvm  # heavy (torchvision): loaded where it is used  # noqa: PLC0415

    net = getattr(tvm, arch)(weights=None)
    attr = "classifier" if arch.startswith("densenet") else "fc"
    width = getattr(net, attr).in_features
    setattr(net, attr, nn.Identity())
    return net, int(width), attr


class LandmarkRegressor(nn.Module):
    """Backbone + linear head predicting ``(B, N, 2)`` landmarks.

    ``forward(x)`` = ``head(backbone(x)).view(B, N, 2) * output_scale + mean_shape``.

    Units: the output is in the unit of ``mean_shape`` (and of the targets the
    model is trained on), e.g. pixels of the network input. ``output_scale``
    lets the head work in a normalised range (e.g. ``output_scale = 256``
    for a 256-px input makes a head output of 1 one crop width).
    """

    def __init__(self, arch: str, n_points: int, mean_shape: torch.Tensor, output_scale: float = 1.0) -> None:
        super().__init__()
        self.arch = arch
        self.n_points = int(n_points)
        self.output_scale = float(output_scale)
        self.backbone, self.feature_dim, self._classifier_attr = _backbone(arch)
        self.head = nn.Linear(self.feature_dim, 2 * self.n_points)
        # Small weights and zero bias: the first predictions sit at mean_shape,
        # so training starts from the mean face rather than from noise.
        nn.init.normal_(self.head.weight, std=1e-3)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("mean_shape", mean_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, 3, H, W)`` images -> ``(B, N, 2)`` landmarks (unit of ``mean_shape``)."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{self.arch}: expected a (B, 3, H, W) image batch, got shape {tuple(x.shape)}")
        out = self.head(self.backbone(x))
        return out.reshape(x.shape[0], self.n_points, 2) * self.output_scale + self.mean_shape

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, n_points={self.n_points}, output_scale={self.output_scale}"


def _first(items, n: int = 5) -> str:
    items = list(items)
    more = f" ... ({len(items)} in all)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def _read_state_dict(path: Path) -> dict:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a state dict"
        raise ValueError(f"weights file {path} could not be read as a torch state dict: {exc}") from None
    # Training checkpoints often wrap the state dict.
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items()):
        raise ValueError(f"weights file {path} is not a state dict (a mapping of parameter names to tensors)")
    # Strip the "module." prefix that DataParallel / DDP add.
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def _match(module: nn.Module, sd: dict, path: Path, what: str) -> None:
    """Raise ValueError naming the file when ``sd`` does not fit ``module`` exactly."""
    expected = module.state_dict()
    # BatchNorm fills in a missing num_batches_tracked itself (old checkpoints lack it).
    missing = [k for k in expected if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in expected]
    shapes = [f"{k}: file {tuple(sd[k].shape)} vs model {tuple(v.shape)}"
              for k, v in expected.items() if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys [{_first(missing)}]")
        if unexpected:
            parts.append(f"unexpected keys [{_first(unexpected)}]")
        if shapes:
            parts.append(f"shape mismatches [{_first(shapes, 3)}]")
        raise ValueError(f"weights file {path} does not match {what}: " + "; ".join(parts))


def load_weights(model: LandmarkRegressor, weights: str | Path) -> LandmarkRegressor:
    """Load a local state-dict file into ``model`` (in place) and return it.

    The file is either a full state dict of this :class:`LandmarkRegressor`
    (keys ``backbone.*``, ``head.*``, ``mean_shape``; the head and mean shape
    are loaded too) or a plain torchvision state dict of the backbone (e.g.
    ImageNet weights saved earlier with ``torch.save(net.state_dict(), f)``;
    its ImageNet classifier is dropped and the head keeps its initialisation).
    Both are matched strictly.

    Raises:
        FileNotFoundError: the file does not exist (weights are never downloaded).
        ValueError: the file is not a state dict or does not match; the
            message names the file and the first missing / unexpected keys
            and shape mismatches.
    """
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file {path} not found: weights are never downloaded, 'weights' must name a local "
            "state-dict file (or be None for random initialisation)"
        )
    sd = _read_state_dict(path)
    if "head.weight" in sd or any(k.startswith("backbone.") for k in sd):
        _match(model, sd, path, f"a {model.arch} landmark model with {model.n_points} points")
        model.load_state_dict(sd, strict=True)
        return model
    cls = model._classifier_attr + "."
    sd = {_DENSENET_OLD_KEY.sub(r"\1\2", k): v for k, v in sd.items() if not k.startswith(cls)}
    _match(model.backbone, sd, path, f"a torchvision {model.arch} backbone")
    model.backbone.load_state_dict(sd, strict=True)
    return model


def build_model(arch: str, n_points: int, mean_shape=None, weights: str | Path | None = None,
                output_scale: float = 1.0) -> LandmarkRegressor:
    """A landmark regressor: torchvision ``arch`` with a ``Linear(features, 2 * n_points)`` head.

    Args:
        arch: one of :data:`ARCHS`.
        n_points: number of landmarks N.
        mean_shape: ``(N, 2)`` array or tensor (e.g. the mean of bin means, in
            pixels of the network input). The model predicts the displacement
            from it. ``None``: zeros, i.e. "direct prediction".
        weights: path of a local state-dict file (see :func:`load_weights`),
            or ``None`` for torchvision's random initialisation. Nothing is
            ever downloaded.
        output_scale: the head's output is multiplied by this before
            ``mean_shape`` is added (unit of ``mean_shape`` per head unit).

    Returns:
        :class:`LandmarkRegressor`; ``forward`` maps ``(B, 3, H, W)`` images
        to ``(B, N, 2)`` landmarks in the unit of ``mean_shape`` / the
        targets. The head starts with weights ~N(0, 1e-3) and zero bias, so
        the first predictions are close to ``mean_shape``. Works with
        ``channels_last`` inputs and models.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}: expected one of {', '.join(ARCHS)}")
    n_points = int(n_points)
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    scale = float(output_scale)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"output_scale must be a finite number > 0, got {output_scale!r}")
    if mean_shape is None:
        ms = torch.zeros(n_points, 2)
    else:
        ms = torch.as_tensor(np.asarray(mean_shape.detach().cpu() if torch.is_tensor(mean_shape) else mean_shape,
                                        dtype=np.float32))
        if tuple(ms.shape) != (n_points, 2):
            raise ValueError(f"mean_shape must have shape ({n_points}, 2), got {tuple(ms.shape)}")
        if not torch.isfinite(ms).all():
            raise ValueError("mean_shape holds NaN or inf")
    model = LandmarkRegressor(arch, n_points, ms.clone(), scale)
    if weights is not None:
        load_weights(model, weights)
    return model
