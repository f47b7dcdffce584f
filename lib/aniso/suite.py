"""The runs behind the paper's tables, defined once so notebooks share them.

A configuration is identified by its hash (:func:`aniso.experiments.config_id`),
so two notebooks that ask for the same method on the same data get the same
stored runs: the anisotropic 300W runs of Table 1 are the anisotropic column
of Table 6 and the last row of Table 4, and are trained once.

The paper's full method is the default of every run: anisotropic loss,
displacement from the mean of bin means, per-epoch undersampling over 9 pose
bins. A loss comparison changes only the loss; the ablation changes only the
target and the balancing.
"""

from __future__ import annotations

from .experiments import PROFILES, RunConfig, make_config, profile_runs

__all__ = ["method_configs", "ABLATION", "LOSS_LABELS", "grid", "seeds", "source_label"]


def source_label(profile: str, *data_roots) -> str:
    """How our rows are labelled in tables: ``ours (synthetic, quick)``; several roots may be given."""
    given = [r is not None for r in data_roots] or [False]
    data = "real data" if all(given) else "synthetic" if not any(given) else "real and synthetic data"
    return f"ours ({data}, {profile})"

LOSS_LABELS = {"l2": "L2", "l1": "L1", "smooth_l1": "smooth L1", "wing": "Wing", "adaptive_wing": "AWing",
               "anisotropic": "Anisotropic"}

# Table 4's rows: label -> run settings (each row adds one thing to the one above, as in the paper).
ABLATION = {
    "Anisotropic": dict(balancing="none", target="displacement"),
    "Anisotropic + direct prediction": dict(balancing="none", target="absolute"),
    "Anisotropic + Wing's data balancing": dict(balancing="wing", target="displacement"),
    "Anisotropic + our data balancing": dict(balancing="under", target="displacement"),
}


def seeds(profile: str, runs: int | None = None, seed: int = 0) -> list[int]:
    """The seeds of a profile's runs (``runs`` overrides the profile's count)."""
    n = profile_runs(profile) if runs is None else int(runs)
    if n <= 0:
        raise ValueError(f"runs must be a positive integer, got {runs!r}")
    return list(range(int(seed), int(seed) + n))


def method_configs(dataset: str, loss: str = "anisotropic", profile: str = "quick", runs: int | None = None,
                   seed: int = 0, **overrides) -> list[RunConfig]:
    """One configuration per seed for ``loss`` on ``dataset`` (the paper's pipeline otherwise)."""
    from .experiments import validate

    configs = [make_config(profile, dataset=dataset, loss=loss, seed=s, **overrides) for s in seeds(profile, runs, seed)]
    validate(configs[0])  # a bad data_root fails here, before any training
    return configs


def grid(profile: str, name: str):
    """A profile's grid for the supplementary notebooks (``"ab"``: (a values, b values); ``"archs"``)."""
    grids = PROFILES[profile].grids if profile in PROFILES else None
    if grids is None:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    if name not in grids:
        raise ValueError(f"profile {profile!r} has no grid {name!r}: it has {sorted(grids)}")
    return grids[name]
