"""Crop and augmentation geometry, shared by both input pipelines.

Coordinates are pixels with **pixel centres at integer coordinates** (OpenCV's
``warpAffine`` convention, and :meth:`Scheme.flip`'s ``x -> W - 1 - x``).

* :func:`crop_matrix`: original pixels -> input pixels for the "GT box" crop (the
  square of side ``max(w, h) * crop_scale`` about the tight landmark box).
* :class:`AugmentConfig` and the named presets :data:`AUGMENTATIONS`.
* :func:`item_draws`: the 11 uniform numbers of one training item, from a generator
  seeded with ``(seed, epoch, index)``; :func:`augment_matrices` turns them into the
  item's 3x3 augmentation matrix (about the input centre ``o = ((S - 1) / 2,
  (S - 1) / 2)``: ``p -> F(o + t + sigma R(theta) (p - o))``, flip ``F`` last) and
  :func:`colour_params` into its colour jitter. Both pipelines use them, so an item
  gets the same rotation, scale, shift, flip and colour factors whichever renders it:
  :class:`~aniso.data.pipeline.FaceDataset` (one item at a time on the CPU, OpenCV)
  or :class:`~aniso.data.resident.TrainingCrops` (a batch at a time on the device).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LUMA",
    "BLUR_REFERENCE_SIZE",
    "N_DRAWS",
    "AugmentConfig",
    "AUGMENTATIONS",
    "cache_margin",
    "crop_matrix",
    "item_draws",
    "augment_matrices",
    "colour_params",
    "colour_matrices",
    "transform_points",
    "to_original",
    "as3",
    "invert",
]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
#: ITU-R BT.601 luma weights, as in OpenCV's RGB2GRAY and torchvision.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
#: Blur sigmas are given for a 256-pixel input and scaled with the input size,
#: so one AugmentConfig blurs a face by the same fraction at 64 and at 256 px.
BLUR_REFERENCE_SIZE = 256.0
#: Random numbers drawn per training item, always all of them and in this
#: order, so that switching one augmentation off does not shift the others.
N_DRAWS = 11

@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation; every field at 0 (see :meth:`none`) disables it.

    Attributes:
        rotation_deg: rotation drawn uniformly in ``[-rotation_deg, rotation_deg]`` degrees.
        scale: range of the scale jitter (uniform); >1 enlarges the face in the input.
        translate: shift drawn uniformly in ``[-translate, translate]`` per axis,
            as a fraction of the input side.
        flip: probability of a horizontal flip (with the scheme's mirror renumbering).
        brightness, contrast, saturation: colour jitter; each factor is drawn
            uniformly in ``[1 - v, 1 + v]`` (torchvision's ColorJitter meaning).
        blur_prob: probability of a Gaussian blur.
        blur_sigma: range of the blur's sigma (uniform), in pixels of a
            256-pixel input (scaled by ``input_size / 256``).
        greyscale_prob: probability of turning the image grey (three equal channels).
    """

    rotation_deg: float = 30.0
    scale: tuple[float, float] = (0.75, 1.25)
    translate: float = 0.05
    flip: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    blur_prob: float = 0.2
    blur_sigma: tuple[float, float] = (0.5, 3.0)
    greyscale_prob: float = 0.05

    def __post_init__(self) -> None:
        lo, hi = (float(v) for v in self.scale)
        if not 0 < lo <= hi:
            raise ValueError(f"AugmentConfig.scale must satisfy 0 < low <= high, got {self.scale}")
        slo, shi = (float(v) for v in self.blur_sigma)
        if not 0 <= slo <= shi:
            raise ValueError(f"AugmentConfig.blur_sigma must satisfy 0 <= low <= high, got {self.blur_sigma}")
        if not 0 <= self.rotation_deg <= 180:
            raise ValueError(f"AugmentConfig.rotation_deg must be in [0, 180] degrees, got {self.rotation_deg}")
        if not 0 <= self.translate < 1:
            raise ValueError(f"AugmentConfig.translate must be in [0, 1) of the input side, got {self.translate}")
        for name in ("brightness", "contrast", "saturation"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ValueError(f"AugmentConfig.{name} must be in [0, 1], got {v}")
        for name in ("flip", "blur_prob", "greyscale_prob"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ValueError(f"AugmentConfig.{name} is a probability in [0, 1], got {v}")

    @classmethod
    def none(cls) -> "AugmentConfig":
        """A configuration that changes nothing (identity geometry, no colour change)."""
        return cls(rotation_deg=0.0, scale=(1.0, 1.0), translate=0.0, flip=0.0, brightness=0.0,
                   contrast=0.0, saturation=0.0, blur_prob=0.0, greyscale_prob=0.0)

    def geometric(self) -> "AugmentConfig":
        """This configuration with the colour, blur and greyscale steps switched off."""
        return replace(self, brightness=0.0, contrast=0.0, saturation=0.0, blur_prob=0.0, greyscale_prob=0.0)


#: Named augmentation settings that run configurations refer to. "paper" is the
#: peers' recipe for 256 px and long schedules (rotation +-30 degrees, scale
#: 0.75-1.25, flip, colour, blur); "light" keeps the flip and small geometric and
#: colour jitter, for the short CPU budgets where the full recipe slows learning
#: more than it regularises (measured: see the README's profile notes).
AUGMENTATIONS: dict[str, AugmentConfig] = {
    "none": AugmentConfig.none(),
    "light": AugmentConfig(rotation_deg=10.0, scale=(0.9, 1.1), translate=0.03, flip=0.5, brightness=0.1,
                           contrast=0.1, saturation=0.1, blur_prob=0.0, greyscale_prob=0.0),
    "paper": AugmentConfig(),
}



def cache_margin(augment: AugmentConfig | None) -> float:
    """Side of the region every augmented view lies in, in units of the crop side.

    The input square (half-side ``S / 2``, shifted by at most ``translate * S``
    per axis) is pulled back through the inverse scale (at most
    ``1 / scale_min``) and rotation (which widens a square's extent by
    ``|cos| + |sin|``, largest at 45 degrees); the result is
    ``(|cos| + |sin|) * (1 + 2 * translate) / scale_min`` (2.0 for the
    default :class:`AugmentConfig`), and 1.0 without augmentation.
    """
    if augment is None:
        return 1.0
    theta = math.radians(min(float(augment.rotation_deg), 45.0))
    widen = math.cos(theta) + math.sin(theta)
    return max(1.0, widen * (1.0 + 2.0 * augment.translate) / float(augment.scale[0]))


def as3(m: np.ndarray) -> np.ndarray:
    """2x3 affine matrix -> 3x3 homogeneous matrix (float64)."""
    out = np.eye(3)
    out[:2] = m
    return out


def invert(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix (float64)."""
    return cv2.invertAffineTransform(np.asarray(m, dtype=np.float64))


def crop_matrix(box: np.ndarray, input_size: int, crop_scale: float = 1.25) -> np.ndarray:
    """2x3 float64 matrix mapping original pixels to input pixels for the eval crop.

    ``box`` is ``[x_min, y_min, x_max, y_max]`` in pixels (the tight landmark
    box). The crop square has side ``max(w, h) * crop_scale`` about the box
    centre ``c``; ``p -> (S / side) * (p - c) + (S - 1) / 2``, so the square's
    edges meet the edges of the ``S x S`` input (pixel centres at integers).
    Raises ``ValueError`` for a box of zero size.
    """
    b = np.asarray(box, dtype=np.float64)
    side = max(b[2] - b[0], b[3] - b[1]) * float(crop_scale)
    if not np.isfinite(side) or side <= 0:
        raise ValueError(f"crop_matrix: box {b.tolist()} with crop_scale {crop_scale} gives a crop of side {side}; "
                         "expected a positive size")
    s = input_size / side
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    o = (input_size - 1) / 2
    return np.array([[s, 0.0, o - s * cx], [0.0, s, o - s * cy]])



_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijective mix of 64-bit integers (wrapping arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def item_draws(seed: int, epoch: int, indices) -> np.ndarray:
    """``(len(indices), N_DRAWS)`` uniform [0, 1) numbers; row i is a function of ``(seed, epoch, indices[i])``
    alone, so an item's augmentation depends on nothing else (not the order of access, the batch it lands in, the
    number of loader workers or the pipeline).

    A counter-based generator (SplitMix64 of the key and the draw's number), vectorised over items: a whole
    epoch's draws cost microseconds, where one seeded generator per item cost 30 ms per 3,000 faces.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1).astype(np.uint64)
    with np.errstate(over="ignore"):
        key = _mix64(_mix64(np.array([int(seed) % 2**64], dtype=np.uint64) + _GOLDEN)
                     ^ np.array([int(epoch) % 2**64], dtype=np.uint64))
        counter = idx[:, None] * np.uint64(N_DRAWS) + np.arange(1, N_DRAWS + 1, dtype=np.uint64)[None, :]
        bits = _mix64(key + counter * _GOLDEN)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def augment_matrices(draws: np.ndarray, aug: AugmentConfig, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(B, 3, 3)`` float64 augmentation matrices in input pixels and ``(B,)`` flip flags from ``(B, N_DRAWS)``
    draws: rotation ``(2 u0 - 1) rotation_deg`` (clockwise on screen: y points down), scale ``lo + (hi - lo) u1``
    about the input centre, shift ``(2 u2 - 1, 2 u3 - 1) translate S``, then the flip ``x -> S - 1 - x`` when
    ``u4 < flip``."""
    u = np.atleast_2d(np.asarray(draws, dtype=np.float64))
    lo, hi = (float(v) for v in aug.scale)
    theta = np.radians((2 * u[:, 0] - 1) * aug.rotation_deg)
    sigma = lo + (hi - lo) * u[:, 1]
    shift = (2 * u[:, 2:4] - 1) * aug.translate * size
    flip = u[:, 4] < aug.flip
    o = (size - 1) / 2
    cos, sin = sigma * np.cos(theta), sigma * np.sin(theta)
    m = np.zeros((len(u), 3, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = cos, -sin, sin, cos
    m[:, 0, 2] = o - cos * o + sin * o + shift[:, 0]
    m[:, 1, 2] = o - sin * o - cos * o + shift[:, 1]
    m[:, 2, 2] = 1.0
    m[flip, 0] = np.array([-1.0, 0.0, size - 1.0]) @ m[flip]  # x -> S - 1 - x, applied last
    return m, flip


def colour_params(draws: np.ndarray, aug: AugmentConfig, size: int) -> dict[str, np.ndarray]:
    """Per-item colour jitter from ``(B, N_DRAWS)`` draws: ``brightness``, ``contrast``, ``saturation`` factors
    (torchvision's ColorJitter meaning), ``blur`` sigma in input pixels (0: no blur) and ``grey`` flags."""
    u = np.atleast_2d(np.asarray(draws, dtype=np.float64))
    lo, hi = (float(v) for v in aug.blur_sigma)
    blur = np.where(u[:, 8] < aug.blur_prob, (lo + (hi - lo) * u[:, 9]) * size / BLUR_REFERENCE_SIZE, 0.0)
    return {"brightness": 1 + (2 * u[:, 5] - 1) * aug.brightness, "contrast": 1 + (2 * u[:, 6] - 1) * aug.contrast,
            "saturation": 1 + (2 * u[:, 7] - 1) * aug.saturation, "blur": blur, "grey": u[:, 10] < aug.greyscale_prob}

def colour_matrices(brightness: torch.Tensor, contrast: torch.Tensor, saturation: torch.Tensor,
                    mean_rgb: torch.Tensor) -> torch.Tensor:
    """``(B, 3, 4)`` colour matrices (RGB in [0, 255] -> RGB) composing, in this order, brightness ``x -> b x``,
    contrast towards the mean grey of the brightened image ``x -> c x + (1 - c) m`` with ``m = b (luma . mean_rgb)``
    and saturation ``x -> s x + (1 - s) (luma . x) [1, 1, 1]``. ``brightness``, ``contrast``, ``saturation``:
    ``(B,)`` factors; ``mean_rgb``: ``(B, 3)`` mean colour of each image before the jitter."""
    luma = torch.as_tensor(LUMA, dtype=mean_rgb.dtype, device=mean_rgb.device)
    b, c, s = (v.to(mean_rgb.dtype) for v in (brightness, contrast, saturation))
    mean_grey = b * (mean_rgb @ luma)
    eye = torch.eye(3, dtype=mean_rgb.dtype, device=mean_rgb.device)
    sat = s[:, None, None] * eye + (1 - s)[:, None, None] * luma[None, None, :].expand(1, 3, 3)
    out = torch.empty(len(b), 3, 4, dtype=mean_rgb.dtype, device=mean_rgb.device)
    out[:, :, :3] = (b * c)[:, None, None] * sat
    out[:, :, 3] = ((1 - c) * mean_grey)[:, None]  # sat maps [1, 1, 1] to itself
    return out


def transform_points(points, matrix):
    """Apply 2x3 affine ``matrix`` (..., 2, 3) to ``points`` (..., N, 2); numpy or torch.

    Batched: ``points`` ``(B, N, 2)`` with ``matrix`` ``(B, 2, 3)`` (or one
    ``(2, 3)`` for all), or one ``(N, 2)`` with one ``(2, 3)``. Units are whatever the matrix maps between
    (here pixels).
    """
    if tuple(points.shape[-1:]) != (2,) or points.ndim < 2:
        raise ValueError(f"transform_points: expected points of shape (..., N, 2), got {tuple(points.shape)}")
    if tuple(matrix.shape[-2:]) != (2, 3):
        raise ValueError(f"transform_points: expected matrices of shape (..., 2, 3), got {tuple(matrix.shape)}")
    if matrix.ndim > 2 and tuple(matrix.shape[:-2]) != tuple(points.shape[:-2]):
        raise ValueError(f"transform_points: batch shapes differ: points {tuple(points.shape)}, "
                         f"matrix {tuple(matrix.shape)}")
    if isinstance(points, torch.Tensor):
        m = torch.as_tensor(matrix, dtype=points.dtype, device=points.device)
        return points @ m[..., :, :2].transpose(-1, -2) + m[..., None, :, 2]
    p = np.asarray(points)
    m = np.asarray(matrix, dtype=np.result_type(p.dtype, np.float32))
    return p @ np.swapaxes(m[..., :, :2], -1, -2) + m[..., None, :, 2]


def to_original(points, inverse):
    """Map predictions in input pixels back to original-image pixels.

    ``points`` ``(B, N, 2)`` or ``(N, 2)`` (torch or numpy), ``inverse`` the
    items' ``"inverse"`` matrices ``(B, 2, 3)`` or ``(2, 3)``. For a flipped
    training item the point order is the mirrored one; renumber with
    ``scheme.mirror`` as well if that matters.
    """
    return transform_points(points, inverse)

