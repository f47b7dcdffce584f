"""Landmark schemes: sizes, mirror maps, curves, tangent neighbours."""

import numpy as np
import pytest

from aniso.topology import SCHEME_NAMES, as_scheme, get_scheme

EXPECTED_POINTS = {"300w": 68, "wflw": 98, "aflw": 19}


@pytest.fixture(params=SCHEME_NAMES)
def scheme(request):
    return get_scheme(request.param)


def _random_face(n, seed=0):
    return np.random.default_rng(seed).uniform(10, 90, size=(n, 2))


def test_all_three_schemes_exist():
    assert set(SCHEME_NAMES) == set(EXPECTED_POINTS)


def test_n_points(scheme):
    assert scheme.n_points == EXPECTED_POINTS[scheme.name]
    assert len(scheme.mirror) == scheme.n_points
    assert scheme.tangent_prev.shape == scheme.tangent_next.shape == scheme.has_tangent.shape == (scheme.n_points,)


def test_mirror_is_an_involution(scheme):
    m = np.asarray(scheme.mirror)
    assert sorted(m.tolist()) == list(range(scheme.n_points))
    np.testing.assert_array_equal(m[m], np.arange(scheme.n_points))
    # A mirror map that is the identity would be an involution too, but wrong.
    assert (m != np.arange(scheme.n_points)).sum() > scheme.n_points // 2


def test_curves_disjoint_and_in_range(scheme):
    seen = []
    for c in scheme.curves:
        assert len(c.indices) >= 2, c.name
        assert all(0 <= i < scheme.n_points for i in c.indices), c.name
        seen.extend(c.indices)
    assert len(seen) == len(set(seen))


def test_flip_twice_is_identity(scheme):
    pts = _random_face(scheme.n_points)
    once = scheme.flip(pts, width=100)
    assert not np.allclose(once, pts)
    np.testing.assert_allclose(scheme.flip(once, width=100), pts)
    batch = np.stack([pts, pts + 1])
    np.testing.assert_allclose(scheme.flip(scheme.flip(batch, 100), 100), batch)


def test_flip_x_formula(scheme):
    pts = _random_face(scheme.n_points, seed=1)
    out = scheme.flip(pts, width=100)
    m = list(scheme.mirror)
    np.testing.assert_allclose(out[:, 0], 99 - pts[m, 0])
    np.testing.assert_allclose(out[:, 1], pts[m, 1])


def test_flipped_left_eye_is_original_right_eye(scheme):
    m = np.asarray(scheme.mirror)
    p0, p1 = (list(p) for p in scheme.pupils)
    assert sorted(m[p0].tolist()) == sorted(p1)
    assert sorted(m[p1].tolist()) == sorted(p0)
    o0, o1 = scheme.ocular
    assert m[o0] == o1 and m[o1] == o0
    pts = _random_face(scheme.n_points, seed=2)
    out = scheme.flip(pts, width=100)
    # The eye centre called "pupils[0]" after the flip is the mirrored "pupils[1]" centre before it.
    before = pts[p1].mean(axis=0)
    after = out[p0].mean(axis=0)
    np.testing.assert_allclose(after, [99 - before[0], before[1]])
    np.testing.assert_allclose(out[o0], [99 - pts[o1, 0], pts[o1, 1]])


def test_corners_have_no_tangent(scheme):
    assert len(scheme.corners) > 0
    assert not scheme.has_tangent[list(scheme.corners)].any()
    ext = get_scheme(scheme.name, corners="extended")
    assert not ext.has_tangent[list(ext.corners)].any()
    assert set(scheme.corners) <= set(ext.corners)


def test_points_on_no_curve_have_no_tangent(scheme):
    on = np.zeros(scheme.n_points, bool)
    for c in scheme.curves:
        on[list(c.indices)] = True
    assert not scheme.has_tangent[~on].any()
    assert scheme.has_tangent.sum() > 0
    if scheme.name == "wflw":
        assert not scheme.has_tangent[[96, 97]].any()  # pupils lie on no curve


def test_closed_curves_wrap(scheme):
    closed = [c for c in scheme.curves if c.closed]
    if scheme.name in ("300w", "wflw"):
        assert len(closed) >= 4  # eyes and lips at least
    for c in closed:
        idx = list(c.indices)
        assert scheme.tangent_prev[idx[0]] == idx[-1], c.name
        assert scheme.tangent_next[idx[-1]] == idx[0], c.name
        for k in range(1, len(idx) - 1):
            assert scheme.tangent_prev[idx[k]] == idx[k - 1]
            assert scheme.tangent_next[idx[k]] == idx[k + 1]


def test_open_curve_ends_are_one_sided(scheme):
    opened = [c for c in scheme.curves if not c.closed]
    assert opened  # every scheme has open curves (jaw / contour, nose, AFLW lines)
    for c in opened:
        idx = list(c.indices)
        assert scheme.tangent_prev[idx[0]] == idx[0], c.name
        assert scheme.tangent_next[idx[0]] == idx[1], c.name
        assert scheme.tangent_next[idx[-1]] == idx[-1], c.name
        assert scheme.tangent_prev[idx[-1]] == idx[-2], c.name
        for k in range(1, len(idx) - 1):
            assert scheme.tangent_prev[idx[k]] == idx[k - 1]
            assert scheme.tangent_next[idx[k]] == idx[k + 1]


def test_300w_known_indices():
    s = get_scheme("300w")
    assert s.ocular == (36, 45)
    assert tuple(s.pupils[0]) == tuple(range(36, 42)) and tuple(s.pupils[1]) == tuple(range(42, 48))
    assert s.tangent_prev[8] == 7 and s.tangent_next[8] == 9  # jaw interior


def test_get_scheme_rejects_unknown_name():
    with pytest.raises(ValueError, match="nope"):
        get_scheme("nope")
    with pytest.raises(ValueError):
        get_scheme("300w", corners="sometimes")


def test_flip_rejects_wrong_shape(scheme):
    with pytest.raises(ValueError):
        scheme.flip(np.zeros((scheme.n_points + 1, 2)), width=10)


def test_unit_tangents_follow_neighbours_and_fall_back():
    s = get_scheme("300w")
    rng = np.random.default_rng(0)
    shapes = rng.uniform(0, 100, (3, 68, 2))
    t = s.unit_tangents(shapes)
    np.testing.assert_allclose(np.linalg.norm(t[:, s.has_tangent], axis=-1), 1.0)
    i = 8  # chin: interior point of the jaw
    d = shapes[:, 9] - shapes[:, 7]
    np.testing.assert_allclose(t[:, i], d / np.linalg.norm(d, axis=-1, keepdims=True))
    flat = np.zeros((68, 2))
    np.testing.assert_array_equal(s.unit_tangents(flat, fallback=(1.0, 0.0)), np.tile([1.0, 0.0], (68, 1)))
    with pytest.raises(ValueError, match="68"):
        s.unit_tangents(np.zeros((5, 2)))


def test_as_scheme_accepts_a_scheme_or_its_name():
    s = get_scheme("wflw")
    assert as_scheme(s) is s
    assert as_scheme("WFLW") is s  # same cached object as get_scheme
    assert as_scheme("300w").n_points == 68


@pytest.mark.parametrize("bad", [None, 68, ("300w",)])
def test_as_scheme_rejects_other_types(bad):
    with pytest.raises(ValueError, match=f"Scheme or a scheme name.*got {type(bad).__name__}"):
        as_scheme(bad)
    with pytest.raises(ValueError, match="unknown landmark scheme 'helen'"):
        as_scheme("helen")
