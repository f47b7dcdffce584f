"""Records -> tensors: crop, augment, normalise.

One :class:`FaceDataset` item is one face :class:`~aniso.data.records.Record`
cropped with the paper's "GT box" (the tight box around the landmarks), made
square, enlarged, resized to ``input_size`` and, in training, augmented.

Geometry
--------
Coordinates are pixels with **pixel centres at integer coordinates**: pixel
``(x, y)`` (column ``x``, row ``y``) covers ``[x - 0.5, x + 0.5] x
[y - 0.5, y + 0.5]``. This is OpenCV's ``warpAffine`` convention and the one
:meth:`Scheme.flip` uses (``x -> W - 1 - x``), so a drawn dot at pixel
``(x, y)`` lands exactly where the item's matrix maps the point ``(x, y)``.

The crop is the square of side ``max(w, h) * crop_scale`` centred on the
centre of the tight landmark box; its edges map onto the edges of the
``S x S`` input (``S = input_size``), i.e. point ``p`` goes to
``(S / side) * (p - centre) + (S - 1) / 2``.

Training augmentation is, in input pixels, about the input centre
``o = ((S - 1) / 2, (S - 1) / 2)``::

    p_in = F( o + t + sigma * R(theta) (p_crop - o) )

with ``sigma`` the scale jitter (>1 makes the face bigger), ``theta`` the
rotation, ``t`` the translation and ``F`` the optional horizontal flip
``x -> S - 1 - x`` followed by renumbering the points with ``scheme.mirror``
(new point ``i`` is old point ``mirror[i]``). Crop, scale, rotation,
translation and flip are composed into one 2x3 matrix and the image goes
through exactly one ``cv2.warpAffine`` per item (bilinear); the landmarks go
through the same matrix. Landmarks may fall outside ``[0, S - 1]`` after
augmentation; they are kept as targets.

Outside the photograph the border is constant black (``border="constant"``,
default) or replicated edge pixels (``border="replicate"``).

Colour (training only)
----------------------
After the warp, on the uint8 RGB input: brightness, contrast (towards the
mean grey) and saturation factors, composed into one 3x4 colour matrix and
clipped to [0, 255] once; then a Gaussian blur (sigma given for a 256-pixel
input, scaled with ``input_size``); then greyscale (BT.601 luma in all three
channels). Finally ``(x / 255 - mean) / std`` with the ImageNet statistics.

Cache
-----
With ``cache=True`` every record's photograph is decoded once (on first use, or
all at once with :meth:`FaceDataset.prefetch`) and a *margin crop* is kept in
memory as uint8: the crop square enlarged by :func:`cache_margin` (2.0 for
the default augmentation, 1.0 in eval mode), plus a rim of about one cached
pixel, so that every augmented view lies inside it; resized with
``INTER_AREA`` (which also anti-aliases big reductions) to at most
``cache_size`` pixels a side (default ``2 * input_size``) and never enlarged
beyond its native size. Items then warp from the cached crop, the matrices
composed, still one ``warpAffine`` per item.

Memory: at most ``3 * cache_size**2`` bytes per record (plus the rim): 48 KiB
at ``input_size=64``, 768 KiB at 256; for the 7,500 WFLW training faces
360 MiB and 5.5 GiB. With the default augmentation the cache holds ``S``
pixels per crop side, so zoom-ins (scale > 1) enlarge it by up to 1.25x: a
slight softening; a larger ``cache_size`` avoids it at more memory.

Cached and uncached crops differ by the second resampling: on a smooth
picture eval crops agree within 2 grey levels (mean under 0.25, see the
tests). On sharp edges they differ more because the uncached path is one
bilinear warp straight from the photograph, which aliases when it shrinks by
more than 2x; the cached path does not.

Without :meth:`FaceDataset.prefetch`, every DataLoader worker fills its own
copy of the cache (memory times workers, and non-persistent workers lose it
each epoch); :func:`make_loader` prefetches before the workers fork so that
they share one copy.

Randomness
----------
Each item's augmentation comes from its own generator seeded with
``(seed, epoch, index)``, so the same triple gives the same item whatever the
number of DataLoader workers or the order of access. Call
:meth:`FaceDataset.set_epoch` before iterating each epoch; with DataLoader
workers that are not persistent (what :func:`make_loader` builds) the new
epoch reaches the workers when the next iterator forks them. Eval mode
(``train=False``) has no augmentation and is deterministic.
"""

from __future__ import annotations

import random
from typing import Sequence

import cv2
import numpy as np
import torch

from aniso.data.augment import (AUGMENTATIONS, IMAGENET_MEAN, IMAGENET_STD, LUMA, AugmentConfig, as3, augment_matrices,
                                cache_margin, colour_matrices, colour_params, crop_matrix, invert, item_draws,
                                to_original, transform_points)
from aniso.data.records import Record
from aniso.topology import Scheme, as_scheme

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AugmentConfig",
    "AUGMENTATIONS",
    "FaceDataset",
    "crop_matrix",
    "cache_margin",
    "transform_points",
    "to_original",
    "denormalize",
    "make_loader",
]

# (x / 255 - mean) / std for uint8 RGB x, as a 3x4 matrix for cv2.transform.
_NORMALISE = np.hstack([np.diag(1.0 / (255.0 * IMAGENET_STD.astype(np.float64))),
                        -(IMAGENET_MEAN.astype(np.float64) / IMAGENET_STD)[:, None]])

def denormalize(image):
    """ImageNet-normalised ``(3, S, S)`` (or ``(B, 3, S, S)``) tensor -> uint8 ``(S, S, 3)`` (or ``(B, S, S, 3)``)
    RGB."""
    x = image.detach().cpu().float() if isinstance(image, torch.Tensor) else torch.as_tensor(image, dtype=torch.float32)
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"denormalize: expected (3, H, W) or (B, 3, H, W), got {tuple(x.shape)}")
    mean = torch.from_numpy(IMAGENET_MEAN)[:, None, None]
    std = torch.from_numpy(IMAGENET_STD)[:, None, None]
    x = (x * std + mean) * 255.0
    return x.round().clamp(0, 255).to(torch.uint8).movedim(-3, -1).numpy()


class FaceDataset(torch.utils.data.Dataset):
    """Face crops and landmark targets from a list of :class:`Record`.

    Args:
        records: the faces.
        scheme: a :class:`Scheme` or its name (``"300w"``, ``"wflw"``, ``"aflw"``).
        input_size: side ``S`` of the square network input, in pixels.
        train: augment (with ``augment``, default :class:`AugmentConfig`) when true;
            eval mode is deterministic.
        augment: training augmentation; ignored when ``train`` is false.
        crop_scale: the square about the tight landmark box is ``max(w, h) *
            crop_scale`` pixels a side (peers use 1.1-1.25).
        seed: base of the per-item random generators.
        cache: keep decoded margin crops in memory (see module docstring).
        clean_targets: targets are ``record.clean_landmarks`` (synthetic data)
            instead of the labels; the crop still comes from the labels' box so
            that the images do not change.
        cache_size: largest side of a cached crop in pixels (default ``2 * S``).
        border: ``"constant"`` (black) or ``"replicate"`` outside the photograph.

    An item is a dict: ``"image"`` float32 ``(3, S, S)`` normalised with the
    ImageNet mean and std; ``"landmarks"`` float32 ``(N, 2)`` in input pixels;
    ``"matrix"`` float32 ``(2, 3)`` original pixels -> input pixels;
    ``"inverse"`` float32 ``(2, 3)`` input -> original pixels; ``"index"`` int.

    Raises ``ValueError`` naming the record when its landmarks are not
    ``(scheme.n_points, 2)`` (a :class:`Record` is finite and of positive size by construction).
    """

    def __init__(self, records: Sequence[Record], scheme: Scheme | str, input_size: int = 64, train: bool = False,
                 augment: AugmentConfig | None = None, crop_scale: float = 1.25, seed: int = 0, cache: bool = True,
                 clean_targets: bool = False, cache_size: int | None = None, border: str = "constant") -> None:

        self.scheme = as_scheme(scheme)
        if int(input_size) != input_size or input_size < 2:
            raise ValueError(f"FaceDataset: input_size must be an integer >= 2 pixels, got {input_size}")
        if not crop_scale > 0:
            raise ValueError(f"FaceDataset: crop_scale must be positive, got {crop_scale}")
        if border not in ("constant", "replicate"):
            raise ValueError(f"FaceDataset: border must be 'constant' or 'replicate', got {border!r}")
        self.records = list(records)
        self.input_size = int(input_size)
        self.train = bool(train)
        self.augment = (augment if augment is not None else AugmentConfig()) if self.train else None
        self.crop_scale = float(crop_scale)
        self.seed = int(seed)
        self.epoch = 0
        self.clean_targets = bool(clean_targets)
        self.cache = bool(cache)
        self.cache_size = int(cache_size) if cache_size is not None else 2 * self.input_size
        if self.cache_size < 1:
            raise ValueError(f"FaceDataset: cache_size must be at least 1 pixel, got {cache_size}")
        self.border = border
        self._cv_border = cv2.BORDER_CONSTANT if border == "constant" else cv2.BORDER_REPLICATE
        self.margin = cache_margin(self.augment)

        n = self.scheme.n_points
        crops = np.empty((len(self.records), 2, 3))
        for i, rec in enumerate(self.records):
            where = f"record {i} (key {rec.key!r}, image {rec.image_path})"
            lm = np.asarray(rec.landmarks, dtype=np.float64)
            if lm.shape != (n, 2):
                raise ValueError(f"{where}: landmarks have shape {lm.shape}, expected ({n}, 2) "
                                 f"for scheme {self.scheme.name!r}")
            if self.clean_targets:
                clean = rec.clean_landmarks
                if clean is None:
                    raise ValueError(f"{where}: clean_targets=True but the record has no clean_landmarks")
                if np.shape(clean) != (n, 2):
                    raise ValueError(f"{where}: clean_landmarks have shape {np.shape(clean)}, expected ({n}, 2)")
            try:
                crops[i] = crop_matrix(rec.gt_box, self.input_size, self.crop_scale)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        self._crop = crops
        self._cached: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentations the items get (call before each epoch's iterator)."""
        self.epoch = int(epoch)

    # -- decoding and cache ------------------------------------------------

    def _margin_crop(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Decode record ``i`` and cut its margin crop: ``(uint8 (R, R, 3), 2x3 original -> cache matrix)``."""

        image = self.records[i].load_image()
        crop = self._crop[i]
        s = crop[0, 0]  # input pixels per original pixel
        o = (self.input_size - 1) / 2
        centre = (np.array([o, o]) - crop[:, 2]) / s  # crop centre, original pixels
        half = self.margin * self.input_size / s / 2  # half-side of the region, original pixels
        # Whole pixels whose area meets the region, plus a rim of about one
        # cached pixel so that bilinear sampling at the region's edge still
        # reads photograph, not border.
        rim = int(np.ceil(2 * half / self.cache_size)) + 1
        lo = np.floor(centre - half + 0.5).astype(int) - rim
        hi = np.ceil(centre + half - 0.5).astype(int) + rim
        side = int((hi - lo).max()) + 1
        # An integer shift is an exact copy; warpAffine also pads the parts
        # outside the photograph with the dataset's border mode.
        shift = np.array([[1.0, 0.0, -lo[0]], [0.0, 1.0, -lo[1]]])
        region = cv2.warpAffine(image, shift, (side, side), flags=cv2.INTER_NEAREST, borderMode=self._cv_border)
        size = min(side, self.cache_size)
        if size < side:
            region = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)
        # cv2.resize keeps pixel edges on pixel edges: x' = k (x + 0.5) - 0.5.
        k = size / side
        matrix = np.array([[k, 0.0, k * (0.5 - lo[0]) - 0.5], [0.0, k, k * (0.5 - lo[1]) - 0.5]])
        return np.ascontiguousarray(region), matrix

    def _source(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Image to warp from and its 2x3 original -> source matrix (cached crop, or the whole photograph)."""
        if not self.cache:
            return self.records[i].load_image(), np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        hit = self._cached[i]
        if hit is None:
            hit = self._margin_crop(i)
            self._cached[i] = hit
        return hit

    def prefetch(self, progress: bool = True) -> None:
        """Decode and cache every record now (before DataLoader workers fork, so that they share it)."""
        if not self.cache:
            return
        from tqdm.auto import tqdm  # heavy (tqdm): loaded where it is used  # noqa: PLC0415

        todo = [i for i, c in enumerate(self._cached) if c is None]
        for i in tqdm(todo, desc="caching face crops", unit="face", disable=not progress or not todo):
            self._cached[i] = self._margin_crop(i)

    @property
    def cache_bytes(self) -> int:
        """Bytes of image data held in the cache now."""
        return sum(c[0].nbytes for c in self._cached if c is not None)

    # -- items --------------------------------------------------------------

    def __getitem__(self, index: int) -> dict:

        if not -len(self) <= index < len(self):
            raise IndexError(f"FaceDataset index {index} out of range for {len(self)} records")
        index = int(index) % len(self)
        rec = self.records[index]
        size = self.input_size
        matrix = as3(self._crop[index])
        flipped = False
        aug = self.augment
        u = None
        if aug is not None:
            u = item_draws(self.seed, self.epoch, [index])
            a, flips = augment_matrices(u, aug, size)
            matrix, flipped = a[0] @ matrix, bool(flips[0])
        matrix = matrix[:2]

        src, to_src = self._source(index)
        warp = (as3(matrix) @ as3(invert(to_src)))[:2]
        img = cv2.warpAffine(src, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=self._cv_border)

        targets = rec.clean_landmarks if self.clean_targets else rec.landmarks
        pts = transform_points(np.asarray(targets, dtype=np.float64), matrix)
        if flipped:
            pts = pts[list(self.scheme.mirror)]

        if aug is not None:
            img = self._colour(img, colour_params(u, aug, size))
        # (x / 255 - mean) / std as one per-channel affine map in OpenCV (measured
        # 5x faster than the same arithmetic with torch in-place ops), then CHW.
        x = cv2.transform(img.astype(np.float32), _NORMALISE)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))),
            "landmarks": torch.from_numpy(pts.astype(np.float32)),
            "matrix": torch.from_numpy(matrix.astype(np.float32)),
            "inverse": torch.from_numpy(invert(matrix).astype(np.float32)),
            "index": index,
        }

    @staticmethod
    def _colour(img: np.ndarray, jitter: dict) -> np.ndarray:
        """Brightness, contrast, saturation, blur, greyscale (in this order) on a uint8 HWC RGB image.

        The three jitters are linear, so they are composed into one 3x4
        colour matrix (:func:`~aniso.data.augment.colour_matrices`) applied with ``cv2.transform`` (which rounds
        and clips to [0, 255] once, at the end, where torchvision clips after each).
        """

        b, c, s = (float(jitter[k][0]) for k in ("brightness", "contrast", "saturation"))
        if b != 1 or c != 1 or s != 1:
            mean = torch.tensor([cv2.mean(img)[:3]], dtype=torch.float64)
            colour = colour_matrices(*(torch.tensor([v], dtype=torch.float64) for v in (b, c, s)), mean)
            img = cv2.transform(img, colour[0].numpy())
        sigma = float(jitter["blur"][0])
        if sigma > 0:
            img = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
        if jitter["grey"][0]:
            img = cv2.transform(img, np.outer(np.ones(3), LUMA))
        return img


def _worker_init(worker_id: int) -> None:
    """Seed numpy and ``random`` in a DataLoader worker from torch's per-worker seed."""

    # Items draw from their own (seed, epoch, index) generators; this only
    # covers any other randomness. (Do not call cv2.setNumThreads here: in a
    # forked child it waits forever on the parent's thread pool.)
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(dataset: FaceDataset, batch_size: int, shuffle: bool | None = None,
                sampler: torch.utils.data.Sampler | None = None, num_workers: int = 0, pin_memory: bool = False,
                seed: int = 0, drop_last: bool | None = None, prefetch: bool = True) -> torch.utils.data.DataLoader:
    """A DataLoader over ``dataset`` with a seeded generator.

    ``shuffle`` and ``drop_last`` default to ``dataset.train`` (``shuffle`` is
    off when a ``sampler`` is given). The shuffle order comes from a
    ``torch.Generator`` seeded with ``seed``. With ``num_workers > 0`` the
    cache is filled first (``prefetch``) so forked workers share it, and the
    workers are not persistent, so :meth:`FaceDataset.set_epoch` reaches them
    at the start of each epoch's iteration.
    """
    train = bool(getattr(dataset, "train", False))
    if sampler is not None and shuffle:
        raise ValueError("make_loader: pass either shuffle=True or a sampler, not both")
    if shuffle is None:
        shuffle = train and sampler is None
    if drop_last is None:
        drop_last = train
    if num_workers > 0 and prefetch and getattr(dataset, "cache", False):
        dataset.prefetch(progress=True)
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, sampler=sampler, num_workers=num_workers,
        pin_memory=pin_memory, drop_last=drop_last, generator=generator,
        worker_init_fn=_worker_init if num_workers > 0 else None, persistent_workers=False,
    )
