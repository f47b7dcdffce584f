"""Drawing: error ellipses, CED curves, convergence grids, NME curves, heat maps.

Every function draws into a matplotlib ``Axes`` (or makes a figure) and
returns it; :func:`save_figure` writes a PNG atomically. Coordinates are in
the unit of the arrays given (pixels, or inter-ocular units for normalised
shapes); image y axes point down.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.patches import Ellipse

from .files import atomic_path
from .metrics import ced
from .topology import Scheme

#: One colour-blind-safe palette for every figure (Okabe and Ito, "Color universal design", 2008): black, orange,
#: sky blue, bluish green, yellow, blue, vermillion, reddish purple. Matplotlib's colour cycle is set to it.
PALETTE = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
CYCLE = (PALETTE[5], PALETTE[1], PALETTE[3], PALETTE[6], PALETTE[7], PALETTE[2], PALETTE[4], PALETTE[0])
PREDICTION, TRUTH, HIGHLIGHT = PALETTE[1], PALETTE[5], PALETTE[6]
matplotlib.rcParams["axes.prop_cycle"] = matplotlib.cycler(color=CYCLE)

__all__ = ["PALETTE", "save_figure", "draw_ellipses", "draw_shape", "shape_key", "ced_plot", "ced_panels",
           "convergence_grid", "nme_curves", "heatmap", "bar_chart", "ellipse_grid", "gain_curves", "pose_histograms",
           "noise_ellipses", "budget_plot"]


def save_figure(fig, path: str | Path, dpi: int = 130) -> None:
    """Save ``fig`` as PNG atomically (:mod:`aniso.files`); returns nothing, so a notebook cell that ends
    with it shows the figure, not a path of this machine."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png", metadata={"Software": None})


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


def shape_key(fig, ellipse_label: str = "error ellipse: 1 standard deviation", color=HIGHLIGHT):
    """A figure-level key for shapes drawn with :func:`draw_shape` and :func:`draw_ellipses`."""
    from matplotlib.lines import Line2D  # heavy (matplotlib): loaded where it is used  # noqa: PLC0415
    from matplotlib.patches import Patch  # heavy (matplotlib): loaded where it is used  # noqa: PLC0415

    handles = [Line2D([], [], color="k", lw=0.8, alpha=0.6, label="contour (the scheme's curves)"),
               Line2D([], [], ls="", marker="o", ms=4, color="k", label="contour point (anisotropic weight)"),
               Line2D([], [], ls="", marker="s", ms=5, color="k", label="corner (W = I)"),
               Patch(facecolor=color, alpha=0.35, label=ellipse_label)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    return fig


def draw_ellipses(ax, shape: np.ndarray, covs: np.ndarray, scale: float = 1.0, color=HIGHLIGHT, alpha=0.35,
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
    size = (1.6 * len(epochs), 1.7 * len(labels) * n_faces)
    fig, axes = plt.subplots(len(labels) * n_faces, len(epochs), figsize=size, squeeze=False)
    for li, lab in enumerate(labels):
        for f in range(n_faces):
            r = li * n_faces + f
            for ci, e in enumerate(epochs):
                ax = axes[r, ci]
                ax.imshow(images[f])
                ax.scatter(gt[f][:, 0], gt[f][:, 1], s=2, color=TRUTH)
                p = rows[lab][ci, f]
                ax.scatter(p[:, 0], p[:, 1], s=2, color=PREDICTION)
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"epoch {e}", fontsize=8)
                if ci == 0:
                    name = face_labels[f] if face_labels else f"face {f}"
                    ax.set_ylabel(f"{lab}\n{name}", fontsize=7)
    fig.suptitle("predictions (orange) and ground truth (blue)", fontsize=9)
    fig.tight_layout()
    return fig


def nme_curves(histories: dict, ax=None, title: str = ""):
    """Validation NME per epoch: ``{label: (R, E) array of fractions}``; mean line and min-max band over runs."""
    from matplotlib.ticker import LogLocator, ScalarFormatter  # heavy (matplotlib): loaded where it is used  # noqa: PLC0415

    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    for label, h in histories.items():
        h = 100 * np.asarray(h, float)
        x = np.arange(1, h.shape[1] + 1)
        line, = ax.plot(x, h.mean(0), label=f"{label} (mean of {h.shape[0]} runs)")
        ax.fill_between(x, h.min(0), h.max(0), alpha=0.2, color=line.get_color(), label=f"{label}: min-max over runs")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation NME (%)")
    ax.set_yscale("log")
    # plain numbers on the log axis, minor ticks labelled too (a decade rarely fits on these curves)
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_locator(LogLocator(subs=(2, 3, 5, 7)))
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(title)
    return ax


def heatmap(values: np.ndarray, rows, cols, ax=None, row_label="", col_label="", title="", best=None,
            value_label="NME (%)"):
    """Annotated heat map of ``values`` ``(len(rows), len(cols))``; ``best`` (i, j) is boxed.

    Cell text is black on light cells and white on dark ones; the colour bar
    is labelled ``value_label``.
    """
    ax = ax or plt.subplots(figsize=(4.5, 3.5))[1]
    im = ax.imshow(values, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(cols)), [f"{c:g}" for c in cols])
    ax.set_yticks(range(len(rows)), [f"{r:g}" for r in rows])
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    finite = values[np.isfinite(values)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                # viridis_r: low values are light (yellow), high values dark (purple)
                colour = "k" if values[i, j] <= mid else "w"
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=9, color=colour)
    if best is not None:
        ax.add_patch(plt.Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False, ec=HIGHLIGHT, lw=2))
    plt.colorbar(im, ax=ax, label=value_label)
    ax.set_title(title)
    return ax


def bar_chart(values, xlabel: str = "", ylabel: str = "", title: str = "", ax=None):
    """Bars of ``values`` at 0..n-1."""
    ax = ax or plt.subplots(figsize=(4.5, 3))[1]
    ax.bar(range(len(values)), values)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    return ax


def ced_panels(curves: dict, thresholds, title: str = ""):
    """One CED panel per threshold, side by side."""
    fig, axes = plt.subplots(1, len(thresholds), figsize=(4.5 * len(thresholds), 3.6), squeeze=False)
    for ax, t in zip(axes[0], thresholds):
        ced_plot(curves, t, ax=ax, title=f"{title}, CED up to {100 * t:g}%")
    fig.tight_layout()
    return fig


# Figure 1's columns: key of the geometry dict, title. The assumed covariances are W^-1 relative to corners = 1;
# they are scaled so that their mean trace matches the observed one, to compare shapes, not sizes.
_ELLIPSE_COLUMNS = (("assumed", "assumed: W⁻¹ (a={a:g}, b={b:g}), rescaled"),
                    ("learned", "learned from the training labels"),
                    ("observed", "observed: L2 model vs labels"),
                    ("observed_truth", "observed: L2 model vs truth"),
                    ("label_noise", "labels vs truth"))


def _mean_sd(covs) -> float:
    return float(np.sqrt(np.mean(np.trace(covs, axis1=1, axis2=2)) / 2))


def _face_panel(ax, mean, scheme: Scheme, covs, scale: float, title: str, fontsize: int) -> None:
    """One face: the scheme drawn on ``mean``, ``covs`` as ellipses (times ``scale``) when given; image axes."""
    draw_shape(ax, mean, scheme, ms=3)
    if covs is not None:
        draw_ellipses(ax, mean, covs, scale=scale)
    ax.set_title(title, fontsize=fontsize)
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.set_yticks([])


def _scale_bar(ax, mean: np.ndarray, length: float = 0.1) -> None:
    """A bar of ``length`` inter-ocular distances under the face (the normalised frame's unit is the IOD)."""
    x0, y = float(mean[:, 0].min()), float(mean[:, 1].max()) + 0.12
    ax.plot([x0, x0 + length], [y, y], color="k", lw=2)
    ax.text(x0 + length + 0.03, y, f"{length:g} IOD", va="center", fontsize=6)


def ellipse_grid(geometry: dict, a: float, b: float):
    """Figure 1: one row per data set, one column per kind of covariance (see
    :func:`aniso.figure_data.error_geometry`)."""
    cols = [(k, t.format(a=a, b=b)) for k, t in _ELLIPSE_COLUMNS
            if any(g.get(k) is not None for g in geometry.values())]
    fig, axes = plt.subplots(len(geometry), len(cols), figsize=(3.0 * len(cols), 3.0 * len(geometry)), squeeze=False)
    for row, (ds, g) in zip(axes, geometry.items()):
        ref = _mean_sd(g["observed"])
        for ax, (key, title) in zip(row, cols):
            covs = g.get(key)
            scale = ref / _mean_sd(covs) if covs is not None and key in ("assumed", "learned") else 1.0
            resized = scale != 1.0 and "rescaled" not in title
            said = f"{ds}: {title}" + ("\n(resized to the observed mean size)" if resized else "")
            _face_panel(ax, g["mean"], g["scheme"], covs, scale, said, fontsize=7)
            if scale == 1.0:
                _scale_bar(ax, g["mean"])
    shape_key(fig, "error ellipse: 1 std (units: inter-ocular distance)")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def gain_curves(gains):
    """The mechanism figure: gain over L2 (points) against label-noise level, one panel per optimiser and
    reference (labels, truth), one line per loss with its 95% interval."""
    t = gains.reset_index()
    opts, refs = list(dict.fromkeys(t["optimizer"])), list(dict.fromkeys(t["against"]))
    colours = {loss: f"C{i}" for i, loss in enumerate(dict.fromkeys(t["loss"]))}  # one colour per loss everywhere
    levels = sorted(set(t["noise"]))
    fig, axes = plt.subplots(len(refs), len(opts), figsize=(4.2 * len(opts), 3.2 * len(refs)), squeeze=False,
                             sharey="row")
    for i, ref in enumerate(refs):
        for j, opt in enumerate(opts):
            ax = axes[i, j]
            for loss, part in t[(t["optimizer"] == opt) & (t["against"] == ref)].groupby("loss", sort=False):
                part = part.sort_values("noise")
                if len(levels) > 1:
                    ax.plot(part["noise"], part["gain"], marker="o", label=loss, color=colours[loss])
                    ax.fill_between(part["noise"], part["ci_low"], part["ci_high"], alpha=0.15, color=colours[loss])
                else:  # one noise level: the losses side by side, each with its interval as an error bar
                    x = list(colours).index(loss)
                    ax.errorbar([x], part["gain"], yerr=[part["gain"] - part["ci_low"], part["ci_high"] - part["gain"]],
                                marker="o", capsize=3, label=loss, color=colours[loss])
            if len(levels) == 1:
                ax.set_xticks(range(len(colours)), list(colours), rotation=30, ha="right", fontsize=7)
                ax.set_xlim(-0.6, len(colours) - 0.4)
            ax.axhline(0, color="k", lw=0.8)
            ax.set_title(f"{opt}, NME against the {ref}", fontsize=9)
            ax.set_xlabel("along-contour label noise (x default)" if len(levels) > 1 else
                          f"loss, at {levels[0]:g}x the default along-contour label noise")
            ax.set_ylabel("gain over L2 (NME points)")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, title="shaded: 95% interval" if len(levels) > 1 else "bars: 95% interval",
                      title_fontsize=7)
    fig.tight_layout()
    return fig


def pose_histograms(poses: dict):
    """Histogram of |yaw| per data set (``{name: (M, 3) yaw, pitch, roll in degrees}``), log counts."""
    fig, axes = plt.subplots(1, len(poses), figsize=(3.6 * len(poses), 3), squeeze=False)
    for ax, (ds, p) in zip(axes[0], poses.items()):
        ax.hist(np.abs(np.asarray(p)[:, 0]), bins=np.arange(0, 95, 5), log=True)
        ax.set_title(f"{ds}: {len(p)} faces", fontsize=9)
        ax.set_xlabel("|yaw| (degrees)")
        ax.set_ylabel("faces (log)")
    fig.tight_layout()
    return fig


def noise_ellipses(noise: dict):
    """The synthetic labels' noise per data set: ``{name: (mean shape, covariances, scheme)}`` in face units."""
    fig, axes = plt.subplots(1, len(noise), figsize=(3.4 * len(noise), 3.2), squeeze=False)
    for ax, (ds, (mean, covs, scheme)) in zip(axes[0], noise.items()):
        _face_panel(ax, mean, scheme, covs, 3.0, f"{ds}: label noise (x3)", fontsize=9)
    shape_key(fig, "label noise: 1 std, drawn x3 (units: inter-ocular distance)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def budget_plot(tables: dict, floors: dict | None = None, title: str = ""):
    """NME against training images (log x), one curve per regime (each at its own input size, which its name
    says): ``tables`` is ``{regime: budget table}`` (:func:`aniso.tables.budget_table`), against the labels (left)
    and the noise-free truth (right); ``floors`` ``{regime: label-noise floor (fraction) or None}`` as dashed lines
    on the left only (one when the regimes share it): what a perfect model scores against the labels, and nothing
    against the truth. Returns the left axes."""
    fig, (ax, ax_t) = plt.subplots(1, 2, figsize=(10, 4.8), layout="constrained", sharex=True)
    for i, (name, table) in enumerate(tables.items()):
        x = table["training images"].to_numpy(float)
        ax.plot(x, table["NME (%)"], marker="o", color=f"C{i}", label=name)
        if table["NME vs truth (%)"].notna().any():
            ax_t.plot(x, table["NME vs truth (%)"], marker="s", color=f"C{i}", label=name)
    by_value: dict = {}
    for name, floor in (floors or {}).items():  # regimes with the same labels share one line
        if floor is not None:
            by_value.setdefault(round(100 * floor, 2), []).append(name.split(" (")[0])
    for i, (value, names) in enumerate(by_value.items()):
        ax.axhline(value, color="k" if len(by_value) == 1 else f"C{i}", ls="--", lw=0.8,
                   label="label-noise floor" + ("" if len(by_value) == 1 else f" ({', '.join(names)})"))
    for a_, what in ((ax, "against the labels"), (ax_t, "against the noise-free truth")):
        _budget_axes(a_, what)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncol=2)  # clear of the curves
    fig.suptitle(title, fontsize=9)
    return ax


def _budget_axes(ax, what: str) -> None:
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # the minor ticks' labels overlap
    ax.set_xlabel("training images seen (faces x epochs)")
    ax.set_ylabel(f"NME (%) {what}")
    ax.grid(alpha=0.3, which="both")


def controls_plot(gains: dict, real: dict, title: str = ""):
    """The positive controls side by side: ``gains`` {candidate: {control: (gain, low, high)}} in percent (our
    relative gain over L2 with its 95% interval; ``nan`` ends: no bar), ``real`` {control: percent} (the real data's
    gain), one x position per control; a marker per candidate, offset so that none hides another."""
    controls = list(real)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(controls) + 2), 3.8))
    x = np.arange(len(controls))
    width = 0.7 / max(1, len(gains))
    ax.scatter(x, [real[c] for c in controls], marker="_", s=400, color=PALETTE[0], zorder=3,
               label="real faces (Table 6)")
    for i, (name, by_control) in enumerate(gains.items()):
        xs = x - 0.35 + width * (i + 0.5)
        g = np.array([by_control.get(c, (np.nan, np.nan, np.nan)) for c in controls], dtype=float)
        yerr = np.nan_to_num([g[:, 0] - g[:, 1], g[:, 2] - g[:, 0]])  # no interval (one seed): the point alone
        ax.errorbar(xs, g[:, 0], yerr=yerr, fmt="o", ms=4, lw=1,
                    color=PALETTE[1 + i % (len(PALETTE) - 1)], label=name)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xticks(x, controls, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("relative NME gain over L2 (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return ax
