"""Synthetic benchmark: parametric faces rendered into the real 300W, WFLW and AFLW release formats.

``generate(name, out_dir, seed=0, scale=DEFAULT_SCALE, ...)`` writes a tree
that ``aniso.data.open_dataset`` reads like the real release, plus the
noise-free truth (:mod:`aniso.data.truth`). The modules: :mod:`.face` (the
parametric 3-D face), :mod:`.render` (drawing it), :mod:`.difficulty`,
:mod:`.pose`, :mod:`.attributes` and :mod:`.noise` (what is drawn),
:mod:`.sample` (one face), :mod:`.layouts` (the release layouts),
:mod:`.generator` (whole trees), :mod:`.sheet` (a contact sheet), :mod:`.trees`
(poses and label noise read back from a tree) and :mod:`.cli`
(``python -m aniso.synthetic``).
"""

from .attributes import occlusion_minimum, wflw_flags
from .difficulty import (
    DEFAULT_SCALE,
    DIFFICULTIES,
    MIN_FACES,
    POSE_LIMITS,
    YAW_MAX_300W,
    YAW_MAX_AFLW,
    YAW_MAX_WFLW,
    Difficulty,
    plan,
    quota_wants,
)
from .generator import GENERATOR_VERSION, INFO_FILE, generate
from .layouts import WFLW_LIST_NAMES
from .noise import NoiseConfig, annotation_noise
from .pose import sample_pose
from .sample import MIN_EYE_FRACTION, FaceSample, eye_fractions, sample_face
from .sheet import contact_sheet
from .trees import LabelNoise, label_noise, tree_poses

__all__ = ["DEFAULT_SCALE", "MIN_FACES", "POSE_LIMITS", "YAW_MAX_300W", "YAW_MAX_WFLW", "YAW_MAX_AFLW",
           "MIN_EYE_FRACTION", "INFO_FILE", "GENERATOR_VERSION", "WFLW_LIST_NAMES", "Difficulty", "DIFFICULTIES",
           "NoiseConfig", "FaceSample", "generate", "plan", "quota_wants", "sample_face", "sample_pose",
           "eye_fractions", "annotation_noise", "occlusion_minimum", "wflw_flags", "contact_sheet", "tree_poses",
           "LabelNoise", "label_noise"]
