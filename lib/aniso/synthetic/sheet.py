"""A contact sheet: synthetic faces of every scheme, at several poses and attributes, with their landmarks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..data import DATASETS
from ..data.formats import WFLW_FLAGS
from ..files import atomic_write
from ..topology import get_scheme
from .difficulty import DIFFICULTIES
from .face import default_model
from .noise import NoiseConfig
from .sample import sample_face

__all__ = ["contact_sheet"]


_SHEET_COLUMNS = (
    ("frontal", (0.0, 0.0, 0.0), {}),
    ("yaw -20", (-20.0, 3.0, 0.0), {}),
    ("yaw 35", (35.0, -5.0, 4.0), {}),
    ("yaw -55", (-55.0, 0.0, -3.0), {}),
    ("yaw 80", (80.0, 5.0, 0.0), {}),
    ("pitch 30 roll -20", (10.0, 30.0, -20.0), {}),
    ("expression", (8.0, 0.0, 0.0), {"expression": True}),
    ("occlusion", (-10.0, 0.0, 0.0), {"occlusion": True}),
    ("make-up", (15.0, 0.0, 0.0), {"makeup": True}),
    ("illumination", (-25.0, 0.0, 0.0), {"illumination": True}),
    ("blur", (5.0, 0.0, 0.0), {"blur": True}),
)


def contact_sheet(path: str | Path, seed: int = 0, image_size: int = 160, noise: NoiseConfig = NoiseConfig()) -> Path:
    """A grid of synthetic faces of every scheme with their written (noisy) landmarks, saved as PNG.

    Rows: 300W (68), WFLW (98), AFLW (19 points; hidden points hollow).
    Columns: poses from frontal to 80 degrees of yaw, pitch and roll, then one
    face per attribute. Dots: contour points green, corners red, points on no
    curve blue. Written atomically (matplotlib Agg).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    none = dict.fromkeys(WFLW_FLAGS, False)
    rows = tuple(DATASETS)
    fig, axes = plt.subplots(len(rows), len(_SHEET_COLUMNS), figsize=(1.6 * len(_SHEET_COLUMNS), 1.75 * len(rows)))
    model = default_model()
    for r, scheme_name in enumerate(rows):
        scheme = get_scheme(scheme_name, corners=noise.corners)
        corner = np.zeros(scheme.n_points, dtype=bool)
        corner[list(scheme.corners)] = True
        contour = scheme.has_tangent
        other = ~corner & ~contour
        for c, (title, pose, want) in enumerate(_SHEET_COLUMNS):
            wants = dict(none, **want)
            s = sample_face(scheme_name, DIFFICULTIES["wflw"], [int(seed), 99, r, c], image_size, noise,
                            wants=wants, pose=pose, model=model)
            ax = axes[r, c]
            ax.imshow(s.image[..., ::-1], interpolation="nearest")
            pts = s.noisy
            vis = s.visible if scheme_name == "aflw" else np.ones(len(pts), dtype=bool)
            for sel, colour in ((contour, "#19e619"), (other, "#1f6fff"), (corner, "#ff2020")):
                ax.scatter(pts[sel & vis, 0], pts[sel & vis, 1], s=2.2, c=colour, linewidths=0)
                ax.scatter(pts[sel & ~vis, 0], pts[sel & ~vis, 1], s=5, facecolors="none", edgecolors=colour,
                           linewidths=0.4)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlim(-0.5, image_size - 0.5)
            ax.set_ylim(image_size - 0.5, -0.5)
            if r == 0:
                ax.set_title(title, fontsize=7)
            if c == 0:
                ax.set_ylabel(f"{scheme_name.upper()} ({scheme.n_points})", fontsize=7)
    fig.suptitle("Synthetic faces with their annotated landmarks (green: contour, red: corners, blue: other)",
                 fontsize=8)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.96))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write(Path(path), buf.getvalue())

