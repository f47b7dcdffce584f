"""Pose balancing: Procrustes alignment, pose bins, balanced samplers, mean of bin means.

The paper balances the training set by head pose following Wing loss (Feng et
al. 2018): align every training shape to the mean shape with Procrustes
analysis, run PCA on the aligned shapes, and split the pose axis into K bins
(K = 9 for 300W). Wing loss's reference code projects on one principal component (the 1st for
68/98 points, the 2nd for AFLW-19: ``Scheme.pose_component``), takes the
absolute value (left and right yaw share a bin) and splits ``[0, max]`` into
K equal-width bins.

Two ways to balance the bins:

* ``"over"`` (Wing's): replicate every sample of bin b
  ``round(max_count / count_b)`` times, once, before training.
* ``"under"`` (this paper's): every epoch, draw ``min_count`` samples at
  random, without replacement, from every non-empty bin.

:func:`mean_of_bin_means` gives the paper's reference shape ``x_bar`` for the
"displacement from the mean" head (see :func:`aniso.models.build_model`).

Shapes are ``(M, N, 2)`` arrays of x, y in pixels (any unit: nothing here
depends on it). Everything is vectorised over shapes; everything random is
seeded.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from torch.utils.data import Sampler

from . import checks
from .topology import Scheme, as_scheme

__all__ = [
    "procrustes_align",
    "pose_scores",
    "pose_bins",
    "PoseBalancedSampler",
    "FixedBudgetSampler",
    "SAMPLER_MODES",
    "mean_of_bin_means",
    "balance_report",
]

#: Modes of :class:`PoseBalancedSampler`.
SAMPLER_MODES = ("under", "over", "none")


def _centred_unit(z: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre complex shapes ``(M, N)`` and scale each to unit norm.

    Returns (normalised shapes, centroids (M,), norms (M,)).
    """
    c = z.mean(axis=1)
    zc = z - c[:, None]
    s = np.sqrt(np.sum(np.abs(zc) ** 2, axis=1))
    bad = s <= 1e-12 * np.maximum(1.0, np.abs(c))
    if bad.any():
        raise ValueError(f"{name}: shape index {np.flatnonzero(bad)[:10].tolist()} has all its points at one place; "
                         "Procrustes needs shapes with extent")
    return zc / s[:, None], c, s


def procrustes_align(shapes, reference=None, iters: int = 20, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Generalised Procrustes alignment (translation, scale, rotation; no reflection).

    Every shape is fitted, by least squares, with a similarity transform to the
    current mean; the mean is re-estimated from the aligned shapes, brought
    back to unit size and to the orientation of the starting reference (so
    the frame does not drift), and the two steps repeat until the mean moves
    by less than ``tol`` or after ``iters`` rounds.

    In 2-D a similarity without reflection is multiplication by a complex
    number, so shapes are handled as complex vectors ``x + iy`` and the
    least-squares fit of ``z`` to ``mu`` is closed-form,
    ``a = <z, mu> / <z, z>``, for all shapes at once (no loop over shapes).

    Args:
        shapes: ``(M, N, 2)`` landmarks (any unit, e.g. pixels).
        reference: optional ``(N, 2)`` starting mean. When given, the results
            are returned in its frame (its position, size and orientation),
            so a similarity-transformed copy of ``reference`` comes back as
            ``reference`` itself. When ``None``, the first shape starts the
            iteration and the results are in a normalised frame: the mean is
            centred at the origin with unit Frobenius norm and the
            orientation of the first shape.
        iters: maximum number of re-estimation rounds.
        tol: stop when the normalised mean moves less than this (Frobenius).

    Returns:
        ``(aligned, mean)``: ``(M, N, 2)`` aligned shapes and the ``(N, 2)``
        mean shape, both float64, in the frame described above.
    """
    s = checks.shapes(shapes)
    z = s[..., 0] + 1j * s[..., 1]
    zn, _, _ = _centred_unit(z, "shapes")
    if reference is not None:
        r = np.asarray(reference, dtype=np.float64)
        if r.shape != s.shape[1:]:
            raise ValueError(f"procrustes_align: reference must have shape {s.shape[1:]}, got {r.shape}")
        rz = (r[:, 0] + 1j * r[:, 1])[None]
        if not np.isfinite(rz).all():
            raise ValueError("procrustes_align: reference holds NaN or inf")
        r_unit, r_c, r_s = _centred_unit(rz, "reference")
        anchor = r_unit[0]
    else:
        anchor = zn[0]
    mu = anchor
    for _ in range(max(int(iters), 1)):
        # Least-squares similarity of every (unit-norm) shape onto mu: a = <z, mu> / <z, z> = <z, mu>.
        a = np.sum(np.conj(zn) * mu[None], axis=1)
        new = (a[:, None] * zn).mean(axis=0)
        new = new - new.mean()
        norm = np.sqrt(np.sum(np.abs(new) ** 2))
        if norm <= 1e-12:
            raise ValueError("procrustes_align: the mean shape collapsed to a point; the shapes are too inconsistent")
        new = new / norm
        # Fix the rotation gauge: turn the new mean to face the anchor (pure rotation).
        phase = np.sum(np.conj(new) * anchor)
        if abs(phase) > 1e-12:
            new = new * (phase / abs(phase))
        moved = np.sqrt(np.sum(np.abs(new - mu) ** 2))
        mu = new
        if moved < tol:
            break
    a = np.sum(np.conj(zn) * mu[None], axis=1)
    aligned = a[:, None] * zn
    if reference is not None:
        # Map the unit-frame mean onto the reference by least squares and carry everything with it.
        b = np.sum(np.conj(mu) * (r_unit[0] * r_s[0])) / np.sum(np.abs(mu) ** 2)
        aligned = b * aligned + r_c[0]
        mu = b * mu + r_c[0]
    out = np.stack([aligned.real, aligned.imag], axis=-1)
    mean = np.stack([mu.real, mu.imag], axis=-1)
    return out, mean


def pose_scores(shapes, scheme: Scheme | str) -> np.ndarray:
    """``(M,)`` absolute projection of every shape on the pose principal component.

    Shapes are Procrustes-aligned (:func:`procrustes_align`), flattened to
    ``2N`` vectors, centred, and projected on principal component
    ``scheme.pose_component`` (Wing loss's reference choice). The sign of a
    principal component is arbitrary, and Wing pools left and right yaw, so
    the absolute value is returned (unit: the normalised Procrustes frame).
    """
    sch = as_scheme(scheme)
    s = checks.shapes(shapes)
    if s.shape[1] != sch.n_points:
        raise ValueError(f"pose_scores: scheme {sch.name!r} has {sch.n_points} points, shapes have {s.shape[1]}")
    aligned, _ = procrustes_align(s)
    x = aligned.reshape(len(aligned), -1)
    x = x - x.mean(axis=0)
    c = int(sch.pose_component)
    if c >= min(x.shape):
        raise ValueError(f"pose_scores: need principal component {c} but {x.shape[0]} shapes of {x.shape[1]} "
                         f"coordinates have at most {min(x.shape)} components")
    # Thin SVD of the centred data: the right singular vectors are the principal axes.
    u, sv, _ = np.linalg.svd(x, full_matrices=False)
    return np.abs(u[:, c] * sv[c])


def pose_bins(shapes, scheme: Scheme | str, k: int = 9) -> np.ndarray:
    """Wing-style pose bin (0..k-1) of every shape, ``(M,)`` int64.

    :func:`pose_scores` gives each shape's absolute pose projection; ``[0, max]``
    is split into ``k`` equal-width bins and the maximum falls in bin ``k - 1``.
    Bins may be empty. If every score is 0 (identical shapes) all go to bin 0.
    """
    k = int(k)
    if k < 1:
        raise ValueError(f"pose_bins: k must be >= 1, got {k}")
    a = pose_scores(shapes, scheme)
    top = a.max()
    if not top > 0:
        return np.zeros(a.shape, dtype=np.int64)
    return np.minimum(np.floor(a / top * k).astype(np.int64), k - 1)


class PoseBalancedSampler(Sampler[int]):
    """Sampler of dataset indices balanced over pose bins.

    Args:
        bins: ``(M,)`` bin id of every sample of the dataset (e.g. from
            :func:`pose_bins`); index ``i`` of the sampler is item ``i``.
        mode:
            * ``"under"`` (the paper's): at every ``__iter__`` draw afresh
              ``min_count`` samples without replacement from every non-empty
              bin (``min_count`` = size of the smallest non-empty bin), then
              shuffle them together. ``len`` = non-empty bins x ``min_count``.
            * ``"over"`` (Wing's): replicate each sample of bin b
              ``round(max_count / count_b)`` times, once at construction
              (rounded half up, as MATLAB's ``round`` in Wing's code does:
              2.5 -> 3), and shuffle that list every epoch.
            * ``"none"``: a seeded permutation of all samples every epoch.
        seed: base seed. Epoch ``e`` uses ``numpy.random.default_rng([seed, e])``,
            where ``e`` counts the ``__iter__`` calls so far (or the value
            given to :meth:`set_epoch`), so the same seed gives the same
            sequence of epochs and each epoch differs.
    """

    def __init__(self, bins, mode: str = "under", seed: int = 0) -> None:
        super().__init__()
        if mode not in SAMPLER_MODES:
            raise ValueError(f"PoseBalancedSampler: unknown mode {mode!r}: expected one of {', '.join(SAMPLER_MODES)}")
        self.bins = checks.bin_ids(bins)
        self.mode = mode
        self.seed = int(seed)
        self.epoch = 0
        self.counts = np.bincount(self.bins)
        nonempty = self.counts[self.counts > 0]
        self.n_nonempty = int(nonempty.size)
        self.min_count = int(nonempty.min())
        self.max_count = int(nonempty.max())
        if mode == "over":
            reps = np.zeros(self.counts.shape, dtype=np.int64)
            ok = self.counts > 0
            reps[ok] = np.floor(self.max_count / self.counts[ok] + 0.5).astype(np.int64)
            self.replication = reps
            self._pool = np.repeat(np.arange(self.bins.size), reps[self.bins])
        else:
            self.replication = None
            self._pool = np.arange(self.bins.size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``__iter__`` draw epoch ``epoch`` (then count on from it)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.mode == "under":
            return self.n_nonempty * self.min_count
        return int(self._pool.size)

    def indices(self, epoch: int) -> np.ndarray:
        """The ``(len(self),)`` int64 indices of epoch ``epoch`` (pure: no counter moves)."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        if self.mode != "under":
            return rng.permutation(self._pool)
        n = self.bins.size
        # Sort by bin, ties in random order; the first min_count of each bin are a
        # uniform draw without replacement from it (no loop over bins or samples).
        order = np.lexsort((rng.random(n), self.bins))
        sorted_bins = self.bins[order]
        rank = np.arange(n) - np.searchsorted(sorted_bins, sorted_bins, side="left")
        return rng.permutation(order[rank < self.min_count])

    def __iter__(self) -> Iterator[int]:
        # Draw eagerly so the epoch counter moves when the DataLoader asks, not lazily.
        idx = self.indices(self.epoch)
        self.epoch += 1
        return iter(idx.tolist())


class FixedBudgetSampler(Sampler[int]):
    """Every epoch the same number of samples, whatever the balancing.

    The paper's undersampling draws K x (smallest bin count) samples per
    pass, which on an imbalanced set is a small fraction of it; Wing's
    oversampling makes a pass longer. So that a balancing mode changes WHICH
    samples a model sees and not HOW MANY steps it trains, one epoch here is
    ``length`` samples (the training set's size): successive fresh passes of
    the balanced sampler, concatenated and cut to ``length``. Pass ``j`` of
    epoch ``e`` is the sampler's epoch ``e * 10_000 + j`` (deterministic).
    """

    def __init__(self, base: PoseBalancedSampler, length: int) -> None:
        super().__init__()
        self.base, self.length, self.epoch = base, int(length), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        parts, n, j = [], 0, 0
        while n < self.length:
            idx = self.base.indices(self.epoch * 10_000 + j)
            parts.append(idx)
            n += len(idx)
            j += 1
        self.epoch += 1
        return iter(np.concatenate(parts)[: self.length].tolist())


def mean_of_bin_means(shapes, bins) -> np.ndarray:
    """The paper's ``x_bar``: mean shape of every non-empty bin, then the mean of those means.

    Args:
        shapes: ``(M, N, 2)`` landmarks in their own coordinates (e.g. pixels
            of the network input); they are averaged as given, not aligned.
        bins: ``(M,)`` bin id of every shape.

    Returns:
        ``(N, 2)`` float64 in the unit of ``shapes``.
    """
    s = checks.shapes(shapes)
    b = checks.bin_ids(bins)
    if b.size != s.shape[0]:
        raise ValueError(f"mean_of_bin_means: {s.shape[0]} shapes but {b.size} bin ids")
    counts = np.bincount(b)
    sums = np.zeros((counts.size, s.shape[1] * 2))
    np.add.at(sums, b, s.reshape(s.shape[0], -1))
    ok = counts > 0
    means = sums[ok] / counts[ok, None]
    return means.mean(axis=0).reshape(s.shape[1], 2)


def balance_report(bins, k: int) -> np.ndarray:
    """``(k,)`` int64: number of samples in each bin 0..k-1 (for notebooks)."""
    b = checks.bin_ids(bins)
    k = int(k)
    if b.max() >= k:
        raise ValueError(f"balance_report: bin id {int(b.max())} at index {int(np.argmax(b))} is >= k = {k}")
    return np.bincount(b, minlength=k).astype(np.int64)
