"""Figures: error ellipses, CED curves, convergence grids, NME curves, heat maps.

Every function draws into a matplotlib ``Axes`` (or makes a figure) and
returns it; :func:`save_figure` writes a PNG atomically. Coordinates are in
the unit of the arrays given (pixels, or inter-ocular units for normalised
shapes); image y axes point down.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

from .files import atomic_path
from .metrics import ced
from .topology import Scheme

__all__ = ["save_figure", "draw_ellipses", "draw_shape", "ced_plot", "convergence_grid", "nme_curves",
           "heatmap"]


def save_figure(fig, path: str | Path, dpi: int = 130) -> Path:
    """Save ``fig`` as PNG atomically (:mod:`aniso.files`)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    return Path(path)


def draw_shape(ax, shape: np.ndarray, scheme: Scheme, color="k", lw=0.8, ms=6, label=None):
    """The scheme's curves through ``shape`` ``(N, 2)`` plus its points; corners as squares."""
    for c in scheme.curves:
        idx = list(c.indices) + ([c.indices[0]] if c.closed else [])
        ax.plot(shape[idx, 0], shape[idx, 1], "-", color=color, lw=lw, alpha=0.6)
    corner = np.zeros(scheme.n_points, bool)
    corner[list(scheme.corners)] = True
    ax.scatter(shape[~corner, 0], shape[~corner, 1], s=ms, color=color, label=label, zorder=3)
    ax.scatter(shape[corner, 0], shape[corner, 1], s=ms * 2, marker="s", color=color, zorder=3)
    return ax


def draw_ellipses(ax, shape: np.ndarray, covs: np.ndarray, scale: float = 1.0, color="tab:red", alpha=0.35,
                  n_std: float = 1.0):
    """One ellipse per point: ``n_std`` standard deviations of ``covs`` ``(N, 2, 2)``, times ``scale``."""
    vals, vecs = np.linalg.eigh(covs)
    vals = np.clip(vals, 0, None)
    for p, v, w in zip(shape, vals, vecs):
        angle = np.degrees(np.arctan2(w[1, 1], w[0, 1]))
        ax.add_patch(Ellipse(p, 2 * n_std * scale * np.sqrt(v[1]), 2 * n_std * scale * np.sqrt(v[0]),
                             angle=angle, facecolor=color, edgecolor=color, alpha=alpha, lw=0.5))
    return ax


def ced_plot(curves: dict, threshold: float, ax=None, title: str = ""):
    """CED curves: ``{label: per-image NMEs (fractions)}``; x axis in percent."""
    ax = ax or plt.subplots(figsize=(4.5, 3.5))[1]
    for label, nmes in curves.items():
        x, y = ced(np.asarray(nmes), threshold)
        ax.plot(100 * x, y, label=label)
    ax.set_xlim(0, 100 * threshold)
    ax.set_ylim(0, 1)
    ax.set_xlabel("NME (%)")
    ax.set_ylabel("share of test images")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def convergence_grid(images: list[np.ndarray], rows: dict, gt: list[np.ndarray], epochs: list[int],
                     scheme: Scheme, face_labels=None):
    """Predictions after each epoch: one row per (loss, face), one column per epoch.

    ``images``: crops ``(S, S, 3)`` uint8 per face; ``rows``: ``{loss label:
    array (E, F, N, 2)}`` predictions in crop pixels after each epoch of
    ``epochs``; ``gt``: ground truth per face in crop pixels.
    """
    n_faces = len(images)
    labels = list(rows)
    fig, axes = plt.subplots(len(labels) * n_faces, len(epochs), figsize=(1.6 * len(epochs), 1.7 * len(labels) * n_faces),
                             squeeze=False)
    for li, lab in enumerate(labels):
        for f in range(n_faces):
            r = li * n_faces + f
            for ci, e in enumerate(epochs):
                ax = axes[r, ci]
                ax.imshow(images[f])
                ax.scatter(gt[f][:, 0], gt[f][:, 1], s=2, c="lime")
                p = rows[lab][ci, f]
                ax.scatter(p[:, 0], p[:, 1], s=2, c="red")
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"epoch {e}", fontsize=8)
                if ci == 0:
                    name = face_labels[f] if face_labels else f"face {f}"
                    ax.set_ylabel(f"{lab}\n{name}", fontsize=7)
    fig.suptitle("predictions (red) and ground truth (green)", fontsize=9)
    fig.tight_layout()
    return fig


def nme_curves(histories: dict, ax=None, title: str = ""):
    """Validation NME per epoch: ``{label: (R, E) array of fractions}``; mean line and min-max band."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    for label, h in histories.items():
        h = 100 * np.asarray(h, float)
        x = np.arange(1, h.shape[1] + 1)
        ax.plot(x, h.mean(0), label=label)
        ax.fill_between(x, h.min(0), h.max(0), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation NME (%)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(title)
    return ax


def heatmap(values: np.ndarray, rows, cols, ax=None, row_label="", col_label="", title="", best=None):
    """Annotated heat map of ``values`` ``(len(rows), len(cols))``; ``best`` (i, j) is boxed."""
    ax = ax or plt.subplots(figsize=(4.5, 3.5))[1]
    im = ax.imshow(values, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(cols)), [f"{c:g}" for c in cols])
    ax.set_yticks(range(len(rows)), [f"{r:g}" for r in rows])
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=8, color="w")
    if best is not None:
        ax.add_patch(plt.Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False, ec="red", lw=2))
    plt.colorbar(im, ax=ax)
    ax.set_title(title)
    return ax
