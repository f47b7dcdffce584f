"""Run configuration: profiles, validation, hashing, cells (no training here)."""

from __future__ import annotations

import pytest

from aniso import experiments, models, suite
from aniso.runs import PROFILES, config_id, make_config, profile_runs
from aniso.runs.config import STORE_VERSION


def test_profiles_are_complete(monkeypatch):
    monkeypatch.setattr("aniso.runs.profiles.chosen_error_model", lambda: "N1")  # the calibrated ones too
    for name, prof in PROFILES.items():
        c = make_config(name)
        assert c.epochs > 0 and prof.runs > 0
        a_vals, b_vals = suite.grid(name, "ab")
        assert 3.0 in b_vals, f"{name}: the paper's b = 3 must be in the sweep"
        assert set(suite.grid(name, "archs")) <= set(models.ARCHS)
        assert "resnet18" in suite.grid(name, "archs")
        assert prof.tuning is not None and set(prof.tuning.grids) >= set(suite.grid(name, "optimizers"))
    assert make_config("paper").arch == "resnet50" and make_config("paper").input_size == 256
    assert profile_runs("paper") == 5
    assert profile_runs("default") >= 3, "every default-profile cell needs at least three seeds"


def test_tuning_grids_are_log_spaced():
    import numpy as np

    for prof in PROFILES.values():
        for opt, grid in prof.tuning.grids.items():
            if len(grid) == 1:  # the smoke profile exercises the protocol with one rate
                continue
            ratios = np.diff(np.log10(grid))
            # equal steps in log10 (1-3-10 half decades round sqrt(10) to 3: 0.48 or 0.52)
            assert np.all(ratios > 0) and np.allclose(ratios, ratios.mean(), atol=0.03), (prof.name, opt, grid)


def test_overrides_win_and_none_keeps_profile():
    c = make_config("default", epochs=3, batch_size=None)
    assert c.epochs == 3 and c.batch_size == make_config("default").batch_size


@pytest.mark.parametrize("bad, match", [
    (dict(dataset="lfw"), "dataset"), (dict(epochs=0), "epochs"), (dict(epochs=-2), "epochs"),
    (dict(loss="l3"), "loss"), (dict(balancing="more"), "balancing"), (dict(arch="vgg"), "arch"),
    (dict(target="relative"), "target"), (dict(lr=0), "lr"), (dict(augment="heavy"), "augment"),
    (dict(val_fraction=1.0), "val_fraction"), (dict(synth_noise=-1.0), "synth_noise"),
    (dict(precision="fp16"), "precision"), (dict(threads=0), "threads"),
    (dict(train_subset="full", dataset="aflw"), None),
    (dict(loss_params={"c": 1}), "unknown parameter"), (dict(epoch=3), "unknown run setting"),
])
def test_bad_values_fail_before_training(bad, match):
    if match is None:  # a valid (if odd) choice
        make_config("smoke", **bad)
        return
    with pytest.raises(ValueError, match=match):
        make_config("smoke", **bad)


def test_missing_profile_and_root():
    with pytest.raises(ValueError, match=r"profile='fast' is invalid: expected one of 'smoke', 'default'"):
        make_config("fast")
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        make_config("smoke", root="/does-not-exist")


def test_root_without_layout_fails_in_plan(tmp_path):
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        experiments.plan("table1", profile="smoke", data_roots={"300w": str(tmp_path)}, tune=False)


def test_hash_depends_on_what_changes_numbers():
    base = make_config("smoke")
    assert config_id(base) == config_id(make_config("smoke"))
    assert config_id(base) == config_id(make_config("smoke", loss_params={"a": 6.0, "b": 3.0}))
    for change in (dict(seed=1), dict(loss="wing"), dict(balancing="none"), dict(epochs=3), dict(lr=5e-4),
                   dict(synth_noise=2.0), dict(threads=1), dict(augment="none"), dict(val_fraction=0.3),
                   dict(precision="bf16" if base.precision == "fp32" else "fp32")):
        assert config_id(base) != config_id(make_config("smoke", **change)), change


def test_store_version_is_in_the_hash(monkeypatch):
    from aniso.runs import config

    base = make_config("smoke")
    before = config_id(base)
    monkeypatch.setattr(config, "STORE_VERSION", STORE_VERSION + 1)
    assert config_id(base) != before


def test_seeds_and_plans_share_runs():
    a = experiments.plan("table1", profile="smoke", runs=2, seed=5, tune=False)
    b = experiments.plan("table1", profile="smoke", runs=3, seed=5, tune=False)
    for key in a:
        assert [c.seed for c in a[key][1]] == [5, 6]
        assert [config_id(c) for c in a[key][1]] == [config_id(c) for c in b[key][1][:2]]
    with pytest.raises(ValueError, match="runs"):
        suite.seeds("smoke", runs=0)


def test_notebooks_share_cells():
    t1 = experiments.notebook_cells("table1", "default")
    t6 = experiments.notebook_cells("table6", "default")
    assert set(t1) <= set(t6)
    t4 = experiments.notebook_cells("table4", "default")
    assert suite.cell_key("300w", "anisotropic") in t4, "the ablation's full method is Table 1's anisotropic cell"
    mech = experiments.notebook_cells("mechanism", "default")
    study = suite.study_settings("default")
    assert suite.cell_key("300w", "l2", optimizer="adam", synth_noise=1.0, **study) in mech


def test_user_losses_become_cells(tmp_path, monkeypatch):
    (tmp_path / "userloss_mod.py").write_text(
        "def my_loss(pred, target, scheme):\n    return ((pred - target) ** 2).sum(dim=(1, 2)).mean()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cells = experiments.notebook_cells("table6", "default", extra_losses=["userloss_mod:my_loss"])
    assert suite.cell_key("wflw", "userloss_mod:my_loss") in cells
    assert suite.loss_label("userloss_mod:my_loss") == "my_loss"
    c = make_config("smoke", loss="userloss_mod:my_loss")
    rid = config_id(c)
    (tmp_path / "userloss_mod.py").write_text(
        "def my_loss(pred, target, scheme):\n    return ((pred - target).abs()).sum(dim=(1, 2)).mean()\n")
    assert config_id(c) != rid, "editing a user's loss must make its runs new runs"


def test_source_label():
    assert suite.source_label("default", {}) == "ours (synthetic, default)"
    assert suite.source_label("paper", {"300w": "/d/300W"}, ["300w"]) == "ours (real data, paper)"
    roots = {"300w": None, "aflw": "/d/aflw", "wflw": None}
    assert suite.source_label("default", roots, ["300w", "aflw", "wflw"]) == "ours (real and synthetic data, default)"
