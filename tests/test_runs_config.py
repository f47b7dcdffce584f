"""Run configuration: profiles, validation, hashing (no training here)."""

from __future__ import annotations

import pytest

from aniso import experiments, suite
from aniso.experiments import config_id, make_config


def test_profiles_are_complete():
    for name, prof in experiments.PROFILES.items():
        c = make_config(name)
        assert c.epochs > 0 and prof.runs > 0
        a_vals, b_vals = suite.grid(name, "ab")
        assert len(a_vals) and len(b_vals)
        assert set(suite.grid(name, "archs")) <= set(__import__("aniso.models").models.ARCHS)
    assert make_config("paper").arch == "resnet50" and make_config("paper").input_size == 256
    assert experiments.profile_runs("paper") == 5


def test_overrides_win_and_none_keeps_profile():
    c = make_config("quick", epochs=3, batch_size=None)
    assert c.epochs == 3 and c.batch_size == make_config("quick").batch_size


@pytest.mark.parametrize("bad, match", [
    (dict(dataset="lfw"), "dataset"), (dict(epochs=0), "epochs"), (dict(epochs=-2), "epochs"),
    (dict(loss="l3"), "loss"), (dict(balancing="more"), "balancing"), (dict(arch="vgg"), "arch"),
    (dict(target="relative"), "target"), (dict(lr=0), "lr"), (dict(train_subset="full", dataset="aflw"), None),
    (dict(loss_params={"c": 1}), "unknown parameter"), (dict(epoch=3), "unknown run setting"),
])
def test_bad_values_fail_before_training(bad, match):
    if match is None:  # a valid (if odd) choice
        make_config("smoke", **bad)
        return
    with pytest.raises(ValueError, match=match):
        make_config("smoke", **bad)


def test_missing_profile_and_root():
    with pytest.raises(ValueError, match="profile"):
        make_config("fast")
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        make_config("smoke", root="/does-not-exist")


def test_root_without_layout_fails_in_method_configs(tmp_path):
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        suite.method_configs("300w", "anisotropic", profile="smoke", root=str(tmp_path))


def test_hash_depends_on_what_changes_numbers():
    base = make_config("smoke")
    assert config_id(base) == config_id(make_config("smoke"))
    assert config_id(base) == config_id(make_config("smoke", loss_params={"a": 6.0, "b": 3.0}))
    assert config_id(base) == config_id(base.replace(num_workers=4))
    for change in (dict(seed=1), dict(loss="wing"), dict(balancing="none"), dict(epochs=3), dict(lr=5e-4)):
        assert config_id(base) != config_id(make_config("smoke", **change)), change


def test_seeds_and_method_configs_share_runs():
    a = suite.method_configs("300w", "anisotropic", profile="smoke", runs=2, seed=5)
    assert [c.seed for c in a] == [5, 6]
    b = suite.method_configs("300w", "anisotropic", profile="smoke", runs=3, seed=5)
    assert [config_id(c) for c in a] == [config_id(c) for c in b[:2]]
    with pytest.raises(ValueError, match="runs"):
        suite.seeds("smoke", runs=0)


def test_source_label():
    assert suite.source_label("quick", None) == "ours (synthetic, quick)"
    assert suite.source_label("paper", "/d/300W") == "ours (real data, paper)"
    assert suite.source_label("quick", None, "/d/aflw", None) == "ours (real and synthetic data, quick)"
