"""The annotator-error options of the synthetic benchmark: what each moves, by how much, how often (issue 24)."""

import numpy as np
import pytest

from aniso.runs.config import RunConfig, check_config, config_id
from aniso.runs.data import synthetic_root
from aniso.synthetic.noise import ERROR_MODELS, NoiseConfig, annotation_noise, error_model, group_styles
from aniso.synthetic.sample import guessed, sample_face
from aniso.topology import get_scheme

IOD = 50.0
DRAWS = 3000


@pytest.fixture(scope="module")
def clean():
    return sample_face("300w", "300w", [0, 0, 3], pose=(0.0, 0.0, 0.0)).clean


def _errors(clean, noise, hidden=None, draws=DRAWS):
    """(draws, N, 2) errors, draw i from the generator seeded i (so two configs see the same first draws)."""
    return np.stack([annotation_noise(clean, "300w", IOD, noise, np.random.default_rng(i), hidden) - clean
                     for i in range(draws)])


def test_every_option_off_is_todays_benchmark(clean):
    base = _errors(clean, NoiseConfig(), draws=50)
    assert np.array_equal(base, _errors(clean, ERROR_MODELS["N0"], draws=50))
    # the hidden guess needs hidden points: none hidden, the same bytes as today
    assert np.array_equal(base, _errors(clean, ERROR_MODELS["N1"], hidden=np.zeros(68, bool), draws=50))
    assert not NoiseConfig().annotators and all(ERROR_MODELS[k].annotators for k in ERROR_MODELS if k != "N0")


def test_hidden_points_are_guessed_with_their_own_spread(clean):
    hidden = np.zeros(68, bool)
    hidden[[0, 1, 2, 30, 48]] = True
    base, guess = _errors(clean, NoiseConfig()), _errors(clean, NoiseConfig(hidden=0.08), hidden)
    assert np.array_equal(guess[:, ~hidden], base[:, ~hidden])  # what is seen keeps its error, draw for draw
    sd = guess[:, hidden].std(axis=0) / IOD
    assert np.allclose(sd, 0.08, rtol=0.06), sd  # isotropic, sd 0.08 IOD, on every axis of every hidden point
    assert abs(np.mean(guess[:, hidden]) / IOD) < 0.005


def test_gross_errors_hit_points_at_their_rate_with_their_spread(clean):
    base, noisy = _errors(clean, NoiseConfig()), _errors(clean, NoiseConfig(gross_rate=0.05, gross=0.2))
    hit = np.any(noisy != base, axis=2)
    rate = hit.mean()
    assert abs(rate - 0.05) < 3 * np.sqrt(0.05 * 0.95 / hit.size), rate
    assert np.std(noisy[hit]) / IOD == pytest.approx(0.2, rel=0.05)


def test_jaw_shifts_move_the_whole_contour_by_one_offset(clean):
    jaw = np.arange(17)
    base, noisy = _errors(clean, NoiseConfig()), _errors(clean, NoiseConfig(jaw_rate=0.1, jaw_shift=0.1))
    moved = noisy - base
    faces = np.any(moved != 0, axis=(1, 2))
    assert abs(faces.mean() - 0.1) < 3 * np.sqrt(0.09 / DRAWS), faces.mean()
    assert not np.any(moved[:, 17:]), "only the jaw moves"
    shift = moved[faces][:, jaw]
    assert np.allclose(shift, shift[:, :1], atol=1e-9), "one common offset per face"
    assert np.std(shift[:, 0]) / IOD == pytest.approx(0.1, rel=0.1)


def test_annotator_groups_slide_jaw_and_brows_along_themselves(clean):
    cfg = NoiseConfig(groups=4, style=0.03)
    base, noisy = _errors(clean, NoiseConfig(), draws=400), _errors(clean, cfg, draws=400)
    moved = noisy - base
    t = get_scheme("300w").unit_tangents(clean, fallback=(1.0, 0.0))
    slides = np.einsum("dnk,nk->dn", moved, t) / IOD  # along the tangent
    across = np.einsum("dnk,nk->dn", moved, np.stack([-t[:, 1], t[:, 0]], 1))
    assert np.allclose(across, 0, atol=1e-9) and not np.any(moved[:, 27:])
    jaw, brows = slides[:, 0], slides[:, 17]
    expected = group_styles(4) * 0.03
    assert set(np.round(jaw, 9)) == set(np.round(expected[:, 0], 9))  # four styles, each shared by its faces
    assert set(np.round(brows, 9)) == set(np.round(expected[:, 1], 9))
    assert np.allclose(slides[:, :17], jaw[:, None]) and np.allclose(slides[:, 17:27], brows[:, None])


def test_along_contour_errors_are_correlated_with_todays_spread(clean):
    noisy = _errors(clean, NoiseConfig(correlation=4.0), draws=2000)
    t = get_scheme("300w").unit_tangents(clean, fallback=(1.0, 0.0))
    along = np.einsum("dnk,nk->dn", noisy, t)[:, :17] / IOD
    assert along.std(axis=0).mean() == pytest.approx(0.04, rel=0.05)
    r = np.corrcoef(along.T)
    assert r[8, 9] == pytest.approx(np.exp(-1 / 32), abs=0.03)
    assert r[4, 12] == pytest.approx(np.exp(-64 / 32), abs=0.07)
    independent = np.corrcoef((np.einsum("dnk,nk->dn", _errors(clean, NoiseConfig(), draws=2000), t)[:, :17]).T)
    assert abs(independent[8, 9]) < 0.07


def test_guessed_points_cover_occluded_and_turned_away_points():
    turned = sample_face("300w", "300w", [0, 0, 5], pose=(60.0, 0.0, 0.0))
    hidden = guessed(turned.face, "300w", np.zeros(68, bool))
    assert hidden[:17].any() and not hidden[17:].any(), "a 60-degree yaw hides part of the jaw, nothing else"
    frontal = sample_face("300w", "300w", [0, 0, 5], pose=(0.0, 0.0, 0.0))
    covered = np.zeros(68, bool)
    covered[48:55] = True
    assert np.array_equal(guessed(frontal.face, "300w", covered), covered)
    aflw = sample_face("aflw", "aflw", [0, 0, 5], pose=(70.0, 0.0, 0.0))
    assert np.array_equal(guessed(aflw.face, "aflw", np.zeros(19, bool)), ~aflw.face.visibility.visible19)


def test_run_settings_name_an_error_model():
    assert config_id(RunConfig()) == config_id(RunConfig(synth_errors="N0"))
    ids = {config_id(RunConfig(synth_errors=k)) for k in ERROR_MODELS}
    assert len(ids) == len(ERROR_MODELS)
    assert synthetic_root(RunConfig()) != synthetic_root(RunConfig(synth_errors="N4"))
    assert "errors" not in synthetic_root(RunConfig()).name
    with pytest.raises(ValueError, match="synth_errors.*N5"):
        check_config(RunConfig(synth_errors="N5"))
    with pytest.raises(ValueError, match="expected one of N0"):
        error_model("gross")
    with pytest.raises(ValueError, match="gross_rate"):
        NoiseConfig(gross_rate=1.5)
    with pytest.raises(ValueError, match="groups"):
        NoiseConfig(groups=2.5)


def test_tuning_runs_on_the_error_models_own_data():
    from aniso.runs.tuning import tuning_problem

    base = tuning_problem(RunConfig(loss="l1", optimizer="adam"), "default")
    other = tuning_problem(RunConfig(loss="l1", optimizer="adam", synth_errors="N2a"), "default")
    assert other.base.synth_errors == "N2a" and base.base.synth_errors == "N0" and other.key != base.key
