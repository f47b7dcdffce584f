"""Landmark regression losses.

Every loss takes ``pred`` and ``target`` of shape ``(B, N, 2)`` (x, y of N
landmarks per image, in pixels of the network's input image) and returns one
scalar: the MEAN over the batch of the per-image SUM over points and
coordinates. The same reduction everywhere makes the losses comparable and
gives the identity ``anisotropic_loss(p, t, scheme, a=1, b=1) ==
l2_loss(p, t)`` bit for bit.

Each loss is a function ``name_loss(pred, target, ...)`` plus a thin
:class:`torch.nn.Module` that stores the parameters; :func:`make_loss` builds
the module from a name (``LOSS_NAMES``), which is what run configurations use.

Units. L2, L1, smooth L1 and the anisotropic loss are defined for any
coordinate unit (their parameters ``beta``, ``a``, ``b`` are in the unit of
the coordinates, i.e. pixels here). Wing and Adaptive Wing have a "small
error" range (``w``, ``theta``) and a curvature (``epsilon``) that their
papers chose for 64x64 pixel inputs; ``make_loss(..., input_size=S)`` rescales
them by ``S / 64`` so that an error that is the same fraction of the face
costs the same part of the curve.

Modules: ``common`` (checks, reductions), ``isotropic`` (L2, L1, smooth L1),
``wing`` (Wing, AWing), ``anisotropic`` (the paper's cost), ``family``
(ADNet's direction loss, anisotropic Wing), ``learned`` (covariances
estimated from the training labels), ``registry`` (names, :func:`make_loss`),
``user`` (user losses named ``"package.module:attribute"``).
"""

from .anisotropic import ANISOTROPIC_DEFAULTS, AnisotropicLoss, anisotropic_loss, anisotropic_weights
from .common import REFERENCE_INPUT_SIZE
from .family import (
    ADNET_DEFAULTS,
    AnisotropicDirectionLoss,
    AnisotropicWingLoss,
    anisotropic_direction_loss,
    anisotropic_wing_loss,
)
from .isotropic import SMOOTH_L1_BETA, L1Loss, L2Loss, SmoothL1Loss, l1_loss, l2_loss, smooth_l1_loss
from .learned import (
    LEARNED_DEFAULTS,
    LearnedAnisotropicLoss,
    LearnedCovariance,
    learned_anisotropic_loss,
    learned_covariances,
)
from .registry import LOSS_NAMES, LOSS_REGISTRY, LossSpec, loss_spec, make_loss
from .user import LossReferenceError, UserLoss, is_reference, loss_source_hash, probe_loss, resolve_loss
from .wing import (
    ADAPTIVE_WING_DEFAULTS,
    WING_DEFAULTS,
    AdaptiveWingLoss,
    WingLoss,
    adaptive_wing_loss,
    wing_loss,
)

__all__ = [
    "LOSS_NAMES",
    "LOSS_REGISTRY",
    "REFERENCE_INPUT_SIZE",
    "SMOOTH_L1_BETA",
    "WING_DEFAULTS",
    "ADAPTIVE_WING_DEFAULTS",
    "ANISOTROPIC_DEFAULTS",
    "ADNET_DEFAULTS",
    "LEARNED_DEFAULTS",
    "l2_loss",
    "l1_loss",
    "smooth_l1_loss",
    "wing_loss",
    "adaptive_wing_loss",
    "anisotropic_weights",
    "anisotropic_loss",
    "L2Loss",
    "L1Loss",
    "SmoothL1Loss",
    "WingLoss",
    "AdaptiveWingLoss",
    "AnisotropicLoss",
    "anisotropic_direction_loss",
    "AnisotropicDirectionLoss",
    "anisotropic_wing_loss",
    "AnisotropicWingLoss",
    "LearnedCovariance",
    "learned_covariances",
    "learned_anisotropic_loss",
    "LearnedAnisotropicLoss",
    "LossSpec",
    "loss_spec",
    "make_loss",
    "resolve_loss",
    "probe_loss",
    "loss_source_hash",
    "is_reference",
    "LossReferenceError",
    "UserLoss",
]
