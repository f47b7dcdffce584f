"""The built-in losses by name, and :func:`make_loss`, what run configurations use.

Each entry of :data:`LOSS_REGISTRY` is a :class:`LossSpec`: the module class
and which of its parameters are lengths chosen for a 64x64 input. Everything
else (parameter names, defaults, whether a scheme or training shapes are
needed) is read from the module's constructor, so it is stated only there.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from numbers import Real
from types import MappingProxyType

import numpy as np
from torch import nn

from aniso.topology import Scheme, as_scheme

from .anisotropic import AnisotropicLoss
from .common import REFERENCE_INPUT_SIZE
from .family import AnisotropicDirectionLoss, AnisotropicWingLoss
from .isotropic import L1Loss, L2Loss, SmoothL1Loss
from .learned import LearnedAnisotropicLoss
from .user import is_reference, make_user_loss
from .wing import AdaptiveWingLoss, WingLoss

__all__ = ["LossSpec", "LOSS_REGISTRY", "LOSS_NAMES", "loss_spec", "make_loss"]

# Constructor arguments that make_loss supplies itself (not loss parameters).
_CONTEXT = ("scheme", "train_shapes")


@dataclass(frozen=True)
class LossSpec:
    """A built-in loss: its name, module class and length parameters.

    Attributes:
        name: the key in :data:`LOSS_REGISTRY`.
        module: the :class:`torch.nn.Module` class :func:`make_loss` builds.
        scaled: parameters in pixels of a 64x64 input, multiplied by
            ``input_size / 64`` by :func:`make_loss`.
    """

    name: str
    module: type[nn.Module]
    scaled: tuple[str, ...] = ()

    @property
    def _arguments(self) -> dict[str, inspect.Parameter]:
        # Named arguments only: a module without its own __init__ shows nn.Module's (*args, **kwargs).
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return {k: p for k, p in inspect.signature(self.module.__init__).parameters.items()
                if k != "self" and p.kind in named}

    @property
    def params(self) -> tuple[str, ...]:
        """The loss's own parameters, in constructor order."""
        return tuple(k for k in self._arguments if k not in _CONTEXT)

    @property
    def defaults(self) -> dict[str, object]:
        """Default of every parameter that has one (values as the constructor states them)."""
        return {k: p.default for k, p in self._arguments.items()
                if k not in _CONTEXT and p.default is not inspect.Parameter.empty}

    @property
    def needs_scheme(self) -> bool:
        """True if the loss needs the landmark scheme (tangents, corners)."""
        return "scheme" in self._arguments

    @property
    def needs_train_shapes(self) -> bool:
        """True if the loss is estimated from the training labels (``make_loss(train_shapes=...)``)."""
        return "train_shapes" in self._arguments


LOSS_REGISTRY = MappingProxyType({
    spec.name: spec
    for spec in (
        LossSpec("l2", L2Loss),
        LossSpec("l1", L1Loss),
        LossSpec("smooth_l1", SmoothL1Loss),
        LossSpec("wing", WingLoss, scaled=("w", "epsilon")),
        LossSpec("adaptive_wing", AdaptiveWingLoss, scaled=("theta", "epsilon")),
        LossSpec("anisotropic", AnisotropicLoss),
        LossSpec("anisotropic_direction", AnisotropicDirectionLoss, scaled=("scale",)),
        LossSpec("anisotropic_wing", AnisotropicWingLoss, scaled=("w", "epsilon")),
        LossSpec("learned_anisotropic", LearnedAnisotropicLoss),
    )
})
#: Names of the built-in losses, in registry order.
LOSS_NAMES = tuple(LOSS_REGISTRY)


def loss_spec(name: str) -> LossSpec:
    """The :class:`LossSpec` of a built-in loss (case and ``-``/``_`` insensitive)."""
    key = str(name).lower().replace("-", "_")
    if key not in LOSS_REGISTRY:
        raise ValueError(f"unknown loss {name!r}: expected one of {', '.join(LOSS_NAMES)}, "
                         "or a user loss 'package.module:attribute'")
    return LOSS_REGISTRY[key]


def _check_input_size(input_size: float | None) -> None:
    if input_size is None:
        return
    if not isinstance(input_size, Real) or not math.isfinite(input_size) or input_size <= 0:
        raise ValueError(f"make_loss: input_size must be a positive number of pixels, got {input_size!r}")


def make_loss(
    name: str,
    scheme: Scheme | str | None = None,
    input_size: float | None = None,
    train_shapes: np.ndarray | None = None,
    **params: float,
) -> nn.Module:
    """Build a loss module by name (one of :data:`LOSS_NAMES`) or user-loss reference.

    Args:
        name: a built-in name (case and ``-``/``_`` insensitive), or a user
            loss ``"package.module:attribute"`` (see :mod:`aniso.losses.user`),
            which is imported, checked and probed here, before any training;
            it needs ``scheme``, receives ``params`` and ignores
            ``input_size`` and ``train_shapes``.
        scheme: landmark scheme (or its name); required by the losses whose
            :attr:`LossSpec.needs_scheme` is true, accepted and ignored by the
            others so callers can always pass it.
        input_size: side of the network input in pixels. The parameters in
            :attr:`LossSpec.scaled` (e.g. Wing's ``w``, ``epsilon``), whether
            defaults or given in ``params``, are read as values for a 64x64
            input and multiplied by ``input_size / 64``. Ignored otherwise.
        train_shapes: ``(M, N, 2)`` training labels in pixels, required by
            the losses whose :attr:`LossSpec.needs_train_shapes` is true,
            ignored by the others.
        **params: the loss's own parameters (see its function).

    Raises:
        ValueError: unknown name, unknown parameter, missing scheme or
            training shapes, bad input_size; for a user loss,
            :class:`aniso.losses.user.LossReferenceError` (a ValueError).
    """
    _check_input_size(input_size)
    if is_reference(name):
        return make_user_loss(name, scheme, params)
    spec = loss_spec(name)
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        valid = ", ".join(spec.params) if spec.params else "none"
        raise ValueError(f"make_loss({spec.name!r}): unknown parameter(s) {', '.join(unknown)}; valid: {valid}")
    if input_size is not None and spec.scaled:
        factor = float(input_size) / REFERENCE_INPUT_SIZE
        params = {**params, **{k: float(params.get(k, spec.defaults[k])) * factor for k in spec.scaled}}
    context = {}
    if spec.needs_scheme:
        if scheme is None:
            raise ValueError(
                f"make_loss({spec.name!r}): a landmark scheme is required (scheme=get_scheme(...) or its name)"
            )
        context["scheme"] = as_scheme(scheme)
    if spec.needs_train_shapes:
        if train_shapes is None:
            raise ValueError(
                f"make_loss({spec.name!r}): train_shapes is required: the (M, N, 2) array of training labels "
                "in pixels from which the loss estimates its per-point covariances"
            )
        context["train_shapes"] = train_shapes
    return spec.module(**context, **params)
