"""User losses, named by a reference ``"package.module:attribute"``.

The attribute is either

* a function ``loss(pred, target, scheme, **params) -> Tensor``, called with
  the ``(B, N, 2)`` pixel landmarks, the :class:`aniso.topology.Scheme` and
  the run's loss parameters; or
* an :class:`torch.nn.Module` subclass, built as ``cls(**params)``, or an
  instance (no parameters), whose ``forward(pred, target, scheme)`` is called.

It must return a scalar tensor, reduced like the built-in losses (mean over
the batch of the per-image sum over points and coordinates) if it is to be
compared with them. :func:`aniso.losses.make_loss` accepts a reference in
place of a name and checks everything before any training (see
:func:`make_user_loss`).

The module must be importable by the Python that runs the experiment: put
the folder that holds it (``my_losses.py``, or the package folder's parent)
on ``PYTHONPATH``, e.g. ``PYTHONPATH=examples:$PYTHONPATH`` for the worked
example ``examples/my_losses.py`` (reference ``"my_losses:corner_weighted_l1"``),
or install it as a package.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from aniso.topology import Scheme, as_scheme

from .common import REFERENCE_INPUT_SIZE

__all__ = ["LossReferenceError", "is_reference", "resolve_loss", "make_user_loss", "probe_loss", "UserLoss",
           "loss_source_hash"]

_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_HOW = "make its folder importable, e.g. PYTHONPATH=/path/to/folder (see aniso.losses.user)"
PROBE_BATCH = 2  # images in the probe call


class LossReferenceError(ValueError):
    """A user loss reference that cannot be used; the message names the reference and the reason."""


def is_reference(name: object) -> bool:
    """True for a user-loss reference (a string with a ``:``), False for a built-in name."""
    return isinstance(name, str) and ":" in name


def _import_attribute(ref: str) -> Any:
    """The object ``ref = "package.module:attribute"`` names (attribute may be dotted)."""
    if not isinstance(ref, str) or not _REF.match(ref):
        raise LossReferenceError(f"loss reference {ref!r}: expected 'package.module:attribute', "
                                 "e.g. 'my_losses:corner_weighted_l1'")
    module_name, attr = ref.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise LossReferenceError(f"loss reference {ref!r}: module {module_name!r} cannot be imported "
                                 f"({exc}); {_HOW}") from exc
    except Exception as exc:  # the user's module failed while importing: say which and why
        raise LossReferenceError(f"loss reference {ref!r}: importing module {module_name!r} raised "
                                 f"{type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            where = getattr(module, "__file__", module_name)
            raise LossReferenceError(f"loss reference {ref!r}: module {module_name!r} ({where}) has no "
                                     f"attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def resolve_loss(ref: str) -> Callable | type[nn.Module] | nn.Module:
    """Import and check the user loss ``ref = "package.module:attribute"``.

    Checks that the module imports, the attribute exists, and that it is a
    function or an :class:`torch.nn.Module` class or instance whose call
    accepts ``(pred, target, scheme)`` positionally. Does not call it (see
    :func:`make_user_loss` for the probe call).

    Returns:
        The function, class or instance.

    Raises:
        LossReferenceError (a ValueError) naming ``ref`` and the reason.
    """
    obj = _import_attribute(ref)
    if isinstance(obj, type) and not issubclass(obj, nn.Module):
        raise LossReferenceError(f"loss reference {ref!r}: class {obj.__name__} is not a torch.nn.Module subclass")
    if not callable(obj):
        raise LossReferenceError(f"loss reference {ref!r}: {type(obj).__name__} object is neither a function "
                                 "nor a torch.nn.Module class or instance")
    # A class's forward is still unbound: its first positional argument is self.
    fn = obj.forward if isinstance(obj, (type, nn.Module)) else obj
    args = ("self", "pred", "target", "scheme") if isinstance(obj, type) else ("pred", "target", "scheme")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise LossReferenceError(f"loss reference {ref!r}: its signature cannot be read ({exc})") from exc
    try:
        signature.bind_partial(*args)
    except TypeError as exc:
        raise LossReferenceError(f"loss reference {ref!r}: wrong signature {signature}: a loss must accept "
                                 f"(pred, target, scheme, **params) positionally ({exc})") from exc
    return obj


class UserLoss(nn.Module):
    """A user loss bound to its scheme and parameters: ``forward(pred, target)``.

    Attributes:
        ref: the reference it was built from.
        loss: the user's function, or module (registered as a submodule,
            so ``.to(device)`` reaches its buffers).
        scheme: the :class:`aniso.topology.Scheme` passed on every call.
        params: keyword arguments passed on every call (functions only).
    """

    def __init__(self, ref: str, loss: Callable | nn.Module, scheme: Scheme, params: dict[str, Any]) -> None:
        super().__init__()
        self.ref, self.loss, self.scheme, self.params = ref, loss, scheme, dict(params)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.loss(pred, target, self.scheme, **self.params)

    def extra_repr(self) -> str:
        return f"ref={self.ref!r}, scheme={self.scheme.name!r}, params={self.params}"


def _bind(ref: str, obj: Any, scheme: Scheme, params: dict[str, Any]) -> UserLoss:
    """The :class:`UserLoss` for a resolved object, its parameters checked."""
    if isinstance(obj, type):
        try:
            return UserLoss(ref, obj(**params), scheme, {})
        except Exception as exc:  # the user's constructor: report what it said
            raise LossReferenceError(f"loss reference {ref!r}: {obj.__name__}(**{params}) raised "
                                     f"{type(exc).__name__}: {exc}") from exc
    if isinstance(obj, nn.Module):
        if params:
            raise LossReferenceError(f"loss reference {ref!r}: an nn.Module instance takes no parameters, "
                                     f"got {sorted(params)}; reference its class instead")
        return UserLoss(ref, obj, scheme, {})
    try:
        inspect.signature(obj).bind("pred", "target", "scheme", **params)
    except TypeError as exc:
        raise LossReferenceError(f"loss reference {ref!r}: {inspect.signature(obj)} cannot be called with "
                                 f"(pred, target, scheme, **{params}): {exc}") from exc
    return UserLoss(ref, obj, scheme, params)


def probe_loss(loss: nn.Module, scheme: Scheme | str, name: str) -> None:
    """Call ``loss(pred, target)`` once on a small random batch and check what comes back.

    The batch: ``PROBE_BATCH = 2`` float32 targets uniform in a 64 px square
    with the scheme's N points, predictions 1 px of Gaussian noise away. The
    result must be a finite floating scalar tensor (shape ``()``) with a
    gradient, and its gradient with respect to ``pred`` must exist and be
    finite. Seeded by its own generator (the global RNG is untouched).

    Raises:
        LossReferenceError naming ``name`` and what was wrong.
    """
    sch = as_scheme(scheme)
    g = torch.Generator().manual_seed(0)
    target = torch.rand(PROBE_BATCH, sch.n_points, 2, generator=g) * REFERENCE_INPUT_SIZE
    pred = (target + torch.randn(target.shape, generator=g)).requires_grad_(True)
    where = f"loss {name!r}: the probe call on a random ({PROBE_BATCH}, {sch.n_points}, 2) batch"
    try:
        with torch.enable_grad():
            out = loss(pred, target)
    except Exception as exc:  # anything the user's code raises is reported with the reference
        raise LossReferenceError(f"{where} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(out, Tensor):
        raise LossReferenceError(f"{where} returned {type(out).__name__}, expected a scalar torch.Tensor")
    if out.dim() != 0:
        raise LossReferenceError(f"{where} returned shape {tuple(out.shape)}, expected a scalar (shape ()): "
                                 "reduce over the batch, points and coordinates")
    if not out.is_floating_point() or not torch.isfinite(out):
        raise LossReferenceError(f"{where} returned {out.item()!r} ({out.dtype}), expected a finite float")
    if out.grad_fn is None:
        raise LossReferenceError(f"{where} returned a tensor without gradient (detached, or computed outside "
                                 "torch?)")
    out.backward()
    if pred.grad is None or not torch.isfinite(pred.grad).all():
        raise LossReferenceError(f"{where}: the gradient with respect to pred is missing or not finite")


def make_user_loss(ref: str, scheme: Scheme | str | None, params: dict[str, Any]) -> UserLoss:
    """Resolve ``ref`` (:func:`resolve_loss`), bind its scheme and parameters, and probe it.

    Everything that can fail does so here, before any training: import,
    attribute, signature, parameters, and the probe call (:func:`probe_loss`).
    """
    obj = resolve_loss(ref)
    if scheme is None:
        raise LossReferenceError(f"loss reference {ref!r}: a landmark scheme is required (user losses are "
                                 "called as loss(pred, target, scheme))")
    module = _bind(ref, obj, as_scheme(scheme), params)
    probe_loss(module, module.scheme, ref)
    return module


def loss_source_hash(ref: str) -> str:
    """SHA-1 (hex) of the source file of the module that DEFINES the loss ``ref`` names.

    For a function or class, the module it was defined in (which may differ
    from the one the reference imports it from); for an instance, its class's.
    The file is read from disk now, so an edit shows even if the module was
    imported before. Lets a run store keyed by configuration notice that a
    user's loss changed.

    Raises:
        LossReferenceError: bad reference, or no Python source file to hash.
    """
    obj = _import_attribute(ref)
    owner = obj if isinstance(obj, type) or inspect.isroutine(obj) else type(obj)
    module = inspect.getmodule(owner) or importlib.import_module(ref.split(":")[0])
    try:
        path = inspect.getsourcefile(module)
    except TypeError:  # built-in module: no file
        path = None
    if path is None:
        raise LossReferenceError(f"loss reference {ref!r}: module {module.__name__!r} has no Python source file")
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()
