"""Synthetic benchmark: the parametric face (mean face, splines, pose conventions, mirroring, self-occlusion)."""

from __future__ import annotations

import numpy as np
import pytest

from aniso.synthetic.face import (
    FaceParams,
    default_model,
    load_face3d,
    mirror_params,
    rotation_matrix,
    spline_basis,
)
from aniso.topology import get_scheme

SIZE = 128


# --------------------------------------------------------------------------- geometry


def test_mean_face_is_package_data_and_bad_files_are_named(tmp_path):
    from importlib import resources

    points = load_face3d()
    assert points.shape == (68, 3) and points.dtype == np.float64
    text = resources.files("aniso.synthetic").joinpath("face3d_68.csv").read_text(encoding="utf-8")
    assert text.startswith("#") and "OpenFace" in text  # provenance stated in the file itself
    # Nose tip (30) nearest the viewer, outer eye corners about 90 mm apart, chin below the eyes.
    assert points[30, 2] == points[:, 2].min()
    assert 80 < np.linalg.norm(points[36] - points[45]) < 100
    assert points[8, 1] > points[36, 1]
    bad = tmp_path / "short.csv"
    bad.write_text("# comment\n1,2,3\n1,2\n")
    with pytest.raises(ValueError, match="short.csv"):
        load_face3d(bad)
    few = tmp_path / "few.csv"
    few.write_text("# comment\n1,2,3\n")
    with pytest.raises(ValueError, match="expected 68 rows"):
        load_face3d(few)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_face3d(tmp_path / "nowhere.csv")


def test_spline_basis_interpolates_and_reproduces_lines():
    b = spline_basis(5, np.arange(5.0))
    np.testing.assert_allclose(b, np.eye(5), atol=1e-12)
    t = np.linspace(0, 4, 9)
    # A straight line of control points stays a straight line (natural spline).
    np.testing.assert_allclose(spline_basis(5, t) @ np.arange(5.0), t, atol=1e-12)
    np.testing.assert_allclose(spline_basis(5, t).sum(axis=1), 1.0, atol=1e-12)


def test_rotation_conventions():
    nose = np.array([0.0, 0.0, -30.0])  # in front of the origin, toward the camera
    assert (rotation_matrix(30, 0, 0) @ nose)[0] > 0    # yaw > 0: nose to the image right
    assert (rotation_matrix(0, 20, 0) @ nose)[1] < 0    # pitch > 0: nose up
    right = np.array([10.0, 0.0, 0.0])
    assert (rotation_matrix(0, 0, 30) @ right)[1] > 0   # roll > 0: clockwise in the image (y down)


@pytest.mark.parametrize("name", ["300w", "wflw", "aflw"])
@pytest.mark.parametrize("yaw, pitch, roll", [(12.0, 4.0, 6.0), (38.0, -8.0, 10.0), (65.0, 5.0, -15.0)])
def test_mirror_consistency(name, yaw, pitch, roll):
    """A face at yaw +y, flipped with the scheme's map, equals the same face drawn at yaw -y."""
    model = default_model()
    ident = tuple(np.linspace(-1.5, 1.5, 12))
    expr = (0.4, 0.5, 0.3, 0.2)
    a = FaceParams(identity=ident, expression=expr, gaze=(0.0, 0.05), yaw=yaw, pitch=pitch, roll=roll,
                   distance=800.0, scale=0.45, cx=52.0, cy=66.0)
    b = FaceParams(identity=ident, expression=expr, gaze=(0.0, 0.05), yaw=-yaw, pitch=pitch, roll=-roll,
                   distance=800.0, scale=0.45, cx=SIZE - 1 - 52.0, cy=66.0)
    fa, fb = model.project(a), model.project(b)
    scheme = get_scheme(name)
    np.testing.assert_allclose(scheme.flip(fb.landmarks.of(name), SIZE), fa.landmarks.of(name), atol=1e-6)
    if name == "aflw":
        np.testing.assert_array_equal(fb.visibility.visible19[list(scheme.mirror)], fa.visibility.visible19)
    if yaw > 30:
        assert fa.visibility.jaw_hidden.any()  # the self-occlusion step is part of what is compared


def test_mirror_params_with_asymmetry_and_gaze():
    model = default_model()
    p = FaceParams(identity=tuple(np.linspace(1, -1, 12)), asymmetry=(0.8, -0.6), gaze=(0.15, -0.05),
                   expression=(0.2, 0.1, 0.0, 0.0), yaw=-27.0, pitch=9.0, roll=-5.0, scale=0.5, cx=70.0, cy=60.0)
    fa, fb = model.project(p), model.project(mirror_params(p, SIZE))
    for name in ("300w", "wflw", "aflw"):
        np.testing.assert_allclose(get_scheme(name).flip(fb.landmarks.of(name), SIZE), fa.landmarks.of(name), atol=1e-6)


def test_wflw_and_300w_shapes_agree_where_the_schemes_share_points():
    f = default_model().project(FaceParams(yaw=20.0, pitch=5.0, expression=(0.5, 0.2, 0.1, 0.0)))
    a, b = f.landmarks.lm68, f.landmarks.lm98
    np.testing.assert_allclose(b[0:33:2], a[0:17])            # contour: every second point is a 68-point jaw point
    np.testing.assert_allclose(b[33:38], a[17:22])            # brow upper arcs
    np.testing.assert_allclose(b[42:47], a[22:27])
    np.testing.assert_allclose(b[51:60], a[27:36])            # nose
    np.testing.assert_allclose(b[[60, 64, 68, 72]], a[[36, 39, 42, 45]])  # eye corners (WFLW order)
    np.testing.assert_allclose(b[76:96], a[48:68])            # lips
    c = f.landmarks.lm19
    np.testing.assert_allclose(c[[6, 8, 9, 11]], a[[36, 39, 42, 45]])
    np.testing.assert_allclose(c[[12, 13, 14, 15, 17, 18]], a[[31, 30, 35, 48, 54, 8]])
    np.testing.assert_allclose(c[[7, 10]], b[[96, 97]])      # eye centres = pupils
    # WFLW brows, frontal: the lower arc (knots 3.2, 2.4, 1.6, 0.8) lies below the upper arc.
    g = default_model().project(FaceParams(scale=1.0, cx=0.0, cy=0.0))
    lm = g.landmarks.lm98
    for lower, upper in ((lm[38:42], lm[33:38]), (lm[47:51][::-1], lm[42:47])):
        t = np.array([0.8, 1.6, 2.4, 3.2]) if lower is not g.landmarks.lm98[38:42] else np.array([3.2, 2.4, 1.6, 0.8])
        y_up = np.interp(t, np.arange(5.0), upper[:, 1])
        assert (lower[:, 1] > y_up + 1.0).all()


def test_self_occlusion_moves_only_the_far_jaw():
    model = default_model()
    assert not model.project(FaceParams(yaw=0.0)).visibility.jaw_hidden.any()
    assert not model.project(FaceParams(yaw=15.0)).visibility.jaw_hidden.any()
    f = model.project(FaceParams(yaw=45.0))      # nose to the image right: the right-hand jaw turns away
    hidden = np.flatnonzero(f.visibility.jaw_hidden)
    assert len(hidden) >= 10 and (hidden > 32).all()
    # A hidden jaw point projects inside the face; its label moves out to the silhouette.
    p = FaceParams(yaw=45.0)
    jaw3d = spline_basis(17, np.arange(65) / 4.0) @ model.shape3d(p)[:17]
    cam = jaw3d @ rotation_matrix(45.0, 0.0, 0.0).T
    bare_x = cam[:, 0] * p.distance / (cam[:, 2] + p.distance) * p.scale + p.cx
    np.testing.assert_allclose(f.head.jaw[~f.visibility.jaw_hidden, 0], bare_x[~f.visibility.jaw_hidden], atol=1e-9)
    shift = f.head.jaw[hidden, 0] - bare_x[hidden]
    assert (shift > 0).all() and shift.max() > 0.05 * np.ptp(f.head.jaw[:, 0])
    g = model.project(FaceParams(yaw=-45.0))
    assert (np.flatnonzero(g.visibility.jaw_hidden) < 32).all()


def test_aflw_far_side_points_hidden_at_large_yaw():
    f = default_model().project(FaceParams(yaw=70.0))
    assert not f.visibility.visible19[11] and not f.visibility.visible19[14]      # far eye corner, far nostril
    assert f.visibility.visible19[[0, 6, 12, 13, 16, 18]].all()        # near side and midline stay visible
    assert default_model().project(FaceParams(yaw=5.0)).visibility.visible19.all()
