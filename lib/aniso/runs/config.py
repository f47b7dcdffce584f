"""Run configuration: :class:`RunConfig`, validation and the run's id in the store.

One *run* trains one model with one configuration and one seed. Everything
it depends on is a field of :class:`RunConfig`; the run's id is a hash of the
fields that change its numbers, so asking twice for the same configuration
finds the stored run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import checks, losses, models
from ..data import DATASET_NAMES, dataset_spec
from ..data.augment import AUGMENTATIONS
from ..synthetic.noise import ERROR_MODELS
from ..topology import get_scheme

__all__ = ["RunConfig", "STORE_VERSION", "BALANCING", "TARGETS", "SCHEDULES", "OPTIMIZERS", "PRECISIONS",
           "EVALUATE", "check_config", "config_id", "with_loss_defaults", "resolve_device", "resolve_precision"]

# Bump when a library change alters the numbers a stored run would give (then regenerate the store).
# 2: validation split, truth NME, bf16 on CPU, threads, light augmentation, synthetic faces without degenerate poses.
# 3: device-resident crops augmented on the device (aniso.data.resident), no loader workers.
STORE_VERSION = 3

BALANCING = {"none": "none", "wing": "over", "under": "under"}  # run setting -> PoseBalancedSampler mode
TARGETS = ("absolute", "displacement")
SCHEDULES = ("step", "cosine", "constant")
OPTIMIZERS = ("adam", "adamw", "sgd")
PRECISIONS = ("auto", "fp32", "bf16")
EVALUATE = ("test", "val")
_WHAT = "run setting"


@dataclass(frozen=True)
class RunConfig:
    """Everything one run depends on. Units: pixels for sizes, epochs for time.

    Data: ``root=None`` selects the synthetic benchmark, generated once per
    ``(dataset, synth_seed, synth_scale, synth_image_size, synth_noise, synth_errors)``
    into the cache; ``synth_noise`` multiplies its along-contour label noise;
    ``synth_errors`` names its annotation-error model
    (:data:`aniso.synthetic.noise.ERROR_MODELS`; ``"N0"``, today's independent
    errors, is left out of the run's id, so the stores made before it stay valid).
    ``val_fraction`` of the training faces (drawn with ``split_seed``) is held
    out as the validation split: it never trains, it gives the per-epoch
    curve and it is what learning-rate tuning looks at. ``evaluate="test"``
    evaluates every test subset at the end (final runs); ``"val"`` only the
    validation split (tuning runs never touch a test subset).

    Method: ``target="displacement"`` predicts the displacement from the mean
    of bin means (the paper); ``"absolute"`` is the paper's "direct
    prediction". ``balancing``: ``"none"``, ``"wing"`` (oversampling) or
    ``"under"`` (the paper's per-epoch undersampling). ``loss_params`` go to
    :func:`aniso.losses.make_loss`; ``loss`` may also be a user reference
    ``"package.module:attribute"``.

    ``tuning``: the profile whose learning-rate protocol (:mod:`aniso.runs.tuning`) gives the run its rate
    (:func:`~aniso.runs.profiles.make_config` sets it); left out of the id: the rate it chose is ``lr``.

    Execution: ``precision="auto"`` trains with bf16 autocast where the device
    supports it (CUDA, or a CPU with bf16 matrix units), else fp32.
    ``threads`` is torch's CPU thread count: it changes the order of sums and
    so the last bits, which is why it is part of a CPU run's id.
    """

    dataset: str = "300w"
    root: str | None = None
    synth_scale: float = 1.0
    synth_seed: int = 0
    synth_image_size: int = 128
    synth_noise: float = 1.0
    synth_errors: str = "N0"
    val_fraction: float = 0.1
    split_seed: int = 0
    evaluate: str = "test"
    train_subset: str = "train"
    loss: str = "anisotropic"
    loss_params: dict = field(default_factory=dict)
    balancing: str = "under"
    k_bins: int = 9
    target: str = "displacement"
    arch: str = "resnet18"
    weights: str | None = None
    input_size: int = 64
    crop_scale: float = 1.25
    augment: str = "light"
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    threads: int = 2
    tuning: str = "default"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)


def with_loss_defaults(loss: str, params: dict) -> dict:
    """``params`` completed with the loss's numeric defaults, so that a run asked for with ``{}`` and one
    with the defaults spelled out are the same run (same id)."""
    if loss not in losses.LOSS_NAMES:
        return dict(params)
    defaults = {k: v for k, v in losses.loss_spec(loss).defaults.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {**defaults, **{k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                           for k, v in params.items()}}


def check_config(c: RunConfig) -> None:
    """Raise ``ValueError`` naming the first bad setting (no file is opened, nothing is trained)."""
    checks.one_of(_WHAT, "dataset", c.dataset, DATASET_NAMES)
    spec = dataset_spec(c.dataset)
    choices = {"train_subset": spec.subsets, "balancing": tuple(BALANCING), "target": TARGETS,
               "arch": models.ARCHS, "schedule": SCHEDULES, "optimizer": OPTIMIZERS, "augment": tuple(AUGMENTATIONS),
               "precision": PRECISIONS, "evaluate": EVALUATE}
    for name, allowed in choices.items():
        checks.one_of(_WHAT, name, getattr(c, name), allowed)
    for name in ("epochs", "batch_size", "input_size", "k_bins", "synth_image_size", "threads"):
        checks.positive_int(_WHAT, name, getattr(c, name))
    for name in ("lr", "synth_scale", "crop_scale"):
        checks.positive_number(_WHAT, name, getattr(c, name))
    checks.non_negative(_WHAT, "weight_decay", c.weight_decay)
    checks.non_negative(_WHAT, "synth_noise", c.synth_noise)
    checks.one_of(_WHAT, "synth_errors", c.synth_errors, ERROR_MODELS)
    checks.fraction(_WHAT, "val_fraction", c.val_fraction)
    if c.device not in ("auto", "cpu", "cuda") and not str(c.device).startswith("cuda:"):
        raise checks.invalid(_WHAT, "device", c.device, "'auto', 'cpu', 'cuda' or 'cuda:N'")
    if c.root is not None and not Path(c.root).exists():
        raise FileNotFoundError(f"data_root {c.root} does not exist: give the folder of the {spec.label} release, "
                                f"or None for the synthetic benchmark")
    # the loss must accept its parameters (a user loss is imported and probed here)
    _check_loss(c, spec)


def _check_loss(c: RunConfig, spec) -> None:
    """The loss must exist and accept its parameters; a user loss is imported and probed here."""
    if losses.is_reference(c.loss):
        losses.make_loss(c.loss, scheme=get_scheme(spec.scheme), input_size=c.input_size, **c.loss_params)
        return
    checks.one_of(_WHAT, "loss", c.loss, losses.LOSS_NAMES)
    if not losses.loss_spec(c.loss).needs_train_shapes:  # those are built from the training labels, in training
        losses.make_loss(c.loss, scheme=get_scheme(spec.scheme), input_size=c.input_size, **c.loss_params)
    else:
        unknown = sorted(set(c.loss_params) - set(losses.loss_spec(c.loss).params))
        if unknown:
            raise ValueError(f"make_loss({c.loss!r}): unknown parameter(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(losses.loss_spec(c.loss).params)}")


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (AVX512-BF16 or AMX-BF16), read from ``/proc/cpuinfo``."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: str) -> str:
    """``"bf16"`` or ``"fp32"``: ``"auto"`` picks bf16 on CUDA and on CPUs with bf16 units."""
    if precision != "auto":
        return precision
    return "bf16" if device.startswith("cuda") or cpu_has_bf16() else "fp32"


def config_id(config: RunConfig) -> str:
    """The run's key in the store: a hash of the settings that change its numbers.

    Left out: ``threads`` on CUDA, ``synth_errors`` at its default, ``tuning``. Added: the device type, the
    resolved precision, the store version and, for a user loss, a hash of its module's source.
    """
    d = config.to_dict()
    d.pop("tuning")  # how the rate was found: the rate itself is ``lr``
    if d["synth_errors"] == RunConfig.synth_errors:  # today's benchmark: the ids made before the option stay valid
        d.pop("synth_errors")
    device = resolve_device(config.device).split(":")[0]
    d["device"] = device
    d["precision"] = resolve_precision(config.precision, device)
    if device == "cuda":
        d.pop("threads")
    if losses.is_reference(config.loss):  # editing a user's loss makes its runs new runs
        d["loss_source"] = losses.loss_source_hash(config.loss)
    d["store_version"] = STORE_VERSION
    blob = json.dumps(d, sort_keys=True, default=str)
    short = config.loss if config.loss in losses.LOSS_NAMES else "user"
    return f"{config.dataset}-{short}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"
