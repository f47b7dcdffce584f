"""A contact sheet: synthetic faces of every scheme, at several poses and attributes, with their landmarks."""

from __future__ import annotations

import numpy as np

from ..data import DATASETS
from ..data.formats import WFLW_FLAGS
from ..topology import get_scheme
from .difficulty import DIFFICULTIES
from .face import default_model
from .noise import NoiseConfig
from .sample import FaceSample, sample_face

__all__ = ["contact_sheet"]

# Columns: title, (yaw, pitch, roll) in degrees ("cap": the data set's yaw cap), attributes drawn strongly.
_SHEET_COLUMNS = (
    ("frontal", (0.0, 0.0, 0.0), {}),
    ("yaw -20", (-20.0, 3.0, 0.0), {}),
    ("yaw 35", (35.0, -5.0, 4.0), {}),
    ("yaw -50", (-50.0, 0.0, -3.0), {}),
    ("yaw at the cap", "cap", {}),
    ("pitch 30 roll -20", (10.0, 30.0, -20.0), {}),
    ("expression", (8.0, 0.0, 0.0), {"expression": True}),
    ("occlusion", (-10.0, 0.0, 0.0), {"occlusion": True}),
    ("make-up", (15.0, 0.0, 0.0), {"makeup": True}),
    ("illumination", (-25.0, 0.0, 0.0), {"illumination": True}),
    ("blur", (5.0, 0.0, 0.0), {"blur": True}),
)
_COLOURS = {"contour": "#19e619", "other": "#1f6fff", "corner": "#ff2020"}


def _draw_face(ax, s: FaceSample, groups: dict[str, np.ndarray], visible: np.ndarray, image_size: int) -> None:
    """One cell: the image and its written landmarks, coloured by group; hidden points hollow."""
    ax.imshow(s.image[..., ::-1], interpolation="nearest")
    pts = s.noisy
    for group, sel in groups.items():
        colour = _COLOURS[group]
        ax.scatter(pts[sel & visible, 0], pts[sel & visible, 1], s=2.2, c=colour, linewidths=0)
        ax.scatter(pts[sel & ~visible, 0], pts[sel & ~visible, 1], s=5, facecolors="none", edgecolors=colour,
                   linewidths=0.4)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlim(-0.5, image_size - 0.5)
    ax.set_ylim(image_size - 0.5, -0.5)


def contact_sheet(seed: int = 0, image_size: int = 160, noise: NoiseConfig = NoiseConfig()):
    """A ``matplotlib.figure.Figure``: synthetic faces of every scheme with their written (noisy) landmarks.

    Rows: 300W (68), WFLW (98), AFLW (19 points; hidden points hollow).
    Columns: poses from frontal to the data set's yaw cap, pitch and roll,
    then one face per attribute. Dots: contour points green, corners red,
    points on no curve blue. The figure is not shown or saved (no pyplot
    state); ``fig.savefig(path)`` writes it.
    """
    from matplotlib.figure import Figure  # heavy (matplotlib): loaded where it is used  # noqa: PLC0415

    rows = tuple(DATASETS)
    fig = Figure(figsize=(1.6 * len(_SHEET_COLUMNS), 1.75 * len(rows)))
    axes = fig.subplots(len(rows), len(_SHEET_COLUMNS), squeeze=False)
    model = default_model()
    for r, name in enumerate(rows):
        scheme = get_scheme(name, corners=noise.corners)
        corner = np.zeros(scheme.n_points, dtype=bool)
        corner[list(scheme.corners)] = True
        groups = {"contour": scheme.has_tangent, "other": ~corner & ~scheme.has_tangent, "corner": corner}
        difficulty = DIFFICULTIES[name]
        for c, (title, pose, want) in enumerate(_SHEET_COLUMNS):
            pose = (difficulty.yaw_max, 5.0, 0.0) if pose == "cap" else pose
            s = sample_face(name, difficulty, [int(seed), 99, r, c], image_size, noise,
                            wants=dict(dict.fromkeys(WFLW_FLAGS, False), **want), pose=pose, model=model)
            visible = s.visible if name == "aflw" else np.ones(scheme.n_points, dtype=bool)
            _draw_face(axes[r, c], s, groups, visible, image_size)
            if r == 0:
                axes[r, c].set_title(title, fontsize=7)
            if c == 0:
                axes[r, c].set_ylabel(f"{name.upper()} ({scheme.n_points})", fontsize=7)
    fig.suptitle("Synthetic faces with their annotated landmarks (green: contour, red: corners, blue: other)",
                 fontsize=8)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.96))
    return fig
