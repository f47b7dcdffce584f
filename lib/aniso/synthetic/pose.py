"""Head poses: an imbalanced mix of a near-frontal bulk and a large-pose tail, per :class:`Difficulty`.

Most faces come from a bulk with half-normal |yaw| (``yaw_sd``), normal pitch
and roll, kept below the large-pose limits (:data:`POSE_LIMITS`); a share
``pose`` of faces is a large pose instead: 80 % a yaw tail uniform from 30
degrees to the data set's cap ``yaw_max`` (60 for 300W, 70 for WFLW, 80 for
AFLW), 10 % |pitch| 25-40, 10 % |roll| 30-55.
"""

from __future__ import annotations

import numpy as np

from .difficulty import DIFFICULTIES, POSE_LIMITS, Difficulty

__all__ = ["sample_pose", "bulk_pose", "hard_pose"]


def bulk_pose(rng: np.random.Generator, prof: Difficulty) -> tuple[float, float, float]:
    """A near-frontal pose below every large-pose limit."""
    for _ in range(1000):
        yaw = abs(rng.normal(0.0, prof.yaw_sd)) * rng.choice((-1.0, 1.0))
        pitch = rng.normal(0.0, prof.pitch_sd)
        roll = rng.normal(0.0, prof.roll_sd)
        if abs(yaw) <= POSE_LIMITS[0] and abs(pitch) <= POSE_LIMITS[1] and abs(roll) <= POSE_LIMITS[2]:
            return float(yaw), float(pitch), float(roll)
    return 0.0, 0.0, 0.0


def hard_pose(rng: np.random.Generator, prof: Difficulty) -> tuple[float, float, float]:
    """A large pose: mostly a yaw tail up to ``prof.yaw_max``, sometimes a strong pitch or roll."""
    yaw, pitch, roll = bulk_pose(rng, prof)
    kind = rng.random()
    sign = rng.choice((-1.0, 1.0))
    if kind < 0.8:
        yaw = sign * rng.uniform(POSE_LIMITS[0] + 0.5, prof.yaw_max)
    elif kind < 0.9:
        pitch = sign * rng.uniform(POSE_LIMITS[1] + 0.5, 40.0)
    else:
        roll = sign * rng.uniform(POSE_LIMITS[2] + 0.5, 55.0)
    return float(yaw), float(pitch), float(roll)


def sample_pose(rng: np.random.Generator, difficulty: Difficulty | str,
                large: bool | None = None) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees: a large pose with probability ``difficulty.pose``.

    ``large`` forces the choice. Near-frontal poses stay within the
    large-pose limits (|yaw| <= 30, |pitch| <= 25, |roll| <= 30).
    """
    prof = DIFFICULTIES[difficulty] if isinstance(difficulty, str) else difficulty
    if large is None:
        large = bool(rng.random() < prof.pose)
    return hard_pose(rng, prof) if large else bulk_pose(rng, prof)

