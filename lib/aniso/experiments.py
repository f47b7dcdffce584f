"""Runs: configuration, profiles, the cached run store and the training loop.

One *run* trains one model with one configuration and one seed, evaluates it
on every test subset of its data set under every normalisation the paper
reports for that data set, and stores a record under ``results/runs/``:

* ``<id>.json``: the configuration, provenance (seed, library versions,
  commit, device), the per-epoch history and the summary metrics;
* ``<id>.npz``: per-image NMEs, the predictions (original-image pixels) and
  the tracked faces' predictions after every epoch (Figures 2 and 3).

``<id>`` is a hash of the configuration (and of the device type, since a GPU
run does not give the CPU's numbers). Asking for a stored run returns the
record without training. A run that is interrupted resumes from its last
epoch checkpoint, kept in the cache directory (``.cache/aniso/``, never in
git; ``ANISO_CACHE`` overrides it; ``ANISO_RUNS_DIR`` overrides the store).

Randomness: the model's initialisation is seeded by ``seed``; each epoch's
sample order and each image's augmentation are drawn from generators seeded
by ``(seed, epoch[, index])``, so a resumed run is bit-for-bit the run that
was not interrupted, and the same seed on the same machine gives the same
numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .files import atomic_path, atomic_write

__all__ = [
    "RunConfig", "RunRecord", "PROFILES", "Profile", "make_config", "profile_runs", "validate", "run", "run_many",
    "config_id", "data_root", "runs_dir", "cache_dir", "resolve_device", "EVAL_SUBSETS", "NORMS_BY_DATASET",
    "PRIMARY", "REPO_ROOT",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
# Bump when a library change alters the numbers a stored run would give.
STORE_VERSION = 1

DATASET_NAMES = ("300w", "wflw", "aflw")
# Test subsets evaluated by every run of a data set (shared by all tables).
EVAL_SUBSETS = {
    "300w": ("common", "challenging", "full", "private"),
    "wflw": ("test", "pose", "expression", "illumination", "makeup", "occlusion", "blur"),
    "aflw": ("full", "frontal"),
}
# Normalisations the paper reports per data set (AFLW: the AFLW-Full box
# protocol of the compared methods, and inter-pupil as the paper's text says).
NORMS_BY_DATASET = {
    "300w": ("inter_pupil", "inter_ocular"),
    "wflw": ("inter_ocular",),
    "aflw": ("box", "inter_pupil"),
}
# (subset, norm) monitored after every epoch and used for convergence plots.
PRIMARY = {"300w": ("full", "inter_pupil"), "wflw": ("test", "inter_ocular"), "aflw": ("full", "box")}
BALANCING = {"none": "none", "wing": "over", "under": "under"}
TARGETS = ("absolute", "displacement")
SCHEDULES = ("step", "cosine", "constant")
OPTIMIZERS = ("adam", "adamw", "sgd")
THRESHOLDS = (0.08, 0.10)
# The regression head predicts in units of 1/HEAD_UNITS of the input side (8 px at 64 px):
# displacements from the mean shape are then O(1). With the output in whole input widths,
# Adam's first steps (lr 1e-3) threw predictions tens of pixels off the face and 300W runs
# stayed at the mean shape for many epochs (measured: full NME 36.6% vs 20.8% after 6 epochs).
HEAD_UNITS = 8


@dataclass(frozen=True)
class RunConfig:
    """Everything one run depends on. Units: pixels for sizes, epochs for time.

    ``root=None`` selects the synthetic benchmark, generated once per
    ``(dataset, synth_seed, synth_scale, synth_image_size)`` into the cache.
    ``target="displacement"`` predicts the displacement from the mean of bin
    means (the paper); ``"absolute"`` is the paper's "direct prediction"
    (the head's output is offset by the crop centre only).
    ``balancing``: ``"none"``, ``"wing"`` (oversampling) or ``"under"``
    (the paper's per-epoch undersampling). ``loss_params`` are passed to
    :func:`aniso.losses.make_loss`.
    """

    dataset: str = "300w"
    root: str | None = None
    synth_scale: float = 0.1
    synth_seed: int = 0
    synth_image_size: int = 128
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
    augment: bool = True
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "step"
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Profile:
    """A named set of defaults: ``runs`` seeds per configuration plus RunConfig overrides."""

    name: str
    runs: int
    settings: dict
    description: str
    per_dataset: dict = field(default_factory=dict)
    grids: dict = field(default_factory=dict)


# The one place where profiles are defined. Timings are measured on the
# development machine (2 CPU cores) and recorded in the README.
PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke", runs=1, description="seconds per run, for CI: tiny synthetic sets, 32 px, 2 epochs",
        settings=dict(arch="resnet18", input_size=32, epochs=2, batch_size=16, synth_scale=0.01,
                      synth_image_size=64, lr=1e-3, schedule="cosine"),
        per_dataset={"wflw": dict(synth_scale=0.005), "aflw": dict(synth_scale=0.002)},
        grids={"ab": ((3.0, 6.0), (1.5, 3.0)), "archs": ("resnet18", "resnet50", "densenet121", "wide_resnet50_2")}),
    "quick": Profile(
        "quick", runs=2, description="the default: synthetic benchmark, ResNet18 at 64 px, 10 epochs, 2 seeds, on two CPU cores",
        settings=dict(arch="resnet18", input_size=64, epochs=10, batch_size=32, synth_scale=0.15,
                      synth_image_size=128, lr=1e-3, schedule="cosine"),
        per_dataset={"wflw": dict(synth_scale=0.05), "aflw": dict(synth_scale=0.02)},
        grids={"ab": ((3.0, 6.0), (1.5, 3.0)), "archs": ("resnet18", "resnet50", "densenet121", "wide_resnet50_2")}),
    "paper": Profile(
        "paper", runs=5, description="the paper's protocol: ResNet50 at 256 px, 60 epochs, 5 runs; for a GPU and the real data",
        settings=dict(arch="resnet50", input_size=256, epochs=60, batch_size=32, synth_scale=1.0,
                      synth_image_size=320, lr=2e-4, schedule="step", num_workers=8),
        grids={"ab": ((3.0, 4.5, 6.0, 9.0, 12.0), (1.0, 2.0, 3.0, 4.0, 5.0)),
               "archs": ("resnet50", "densenet121", "wide_resnet50_2", "resnet18")}),
}


def profile_runs(profile: str) -> int:
    """Number of seeds a profile asks for."""
    return _profile(profile).runs


def _profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: expected one of {', '.join(PROFILES)}")
    return PROFILES[name]


def make_config(profile: str = "quick", **overrides) -> RunConfig:
    """A :class:`RunConfig` from a profile's defaults; explicit ``overrides`` win.

    ``None`` values in ``overrides`` mean "keep the profile's value" (so a
    notebook can pass its parameters through unchanged). Checks every value
    (see :func:`validate`, which also opens the data set's annotation lists).
    """
    prof = _profile(profile)
    names = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown run setting(s) {unknown}: expected some of {sorted(names)}")
    values = dict(prof.settings)
    values.update(prof.per_dataset.get(overrides.get("dataset") or RunConfig.dataset, {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["loss_params"] = _with_loss_defaults(values.get("loss", RunConfig.loss), values.get("loss_params") or {})
    config = RunConfig(**values)
    _check_values(config)
    return config


def _with_loss_defaults(loss: str, params: dict) -> dict:
    """``params`` completed with the loss function's defaults, so that a run
    asked for with ``{}`` and one asked for with the defaults spelled out are
    the same run (same hash)."""
    import inspect

    from . import losses

    fn = getattr(losses, f"{loss}_loss", None)
    if fn is None:
        return dict(params)
    defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items()
                if p.default is not inspect.Parameter.empty and isinstance(p.default, (int, float))}
    return {**defaults, **{k: float(v) if isinstance(v, int) else v for k, v in params.items()}}


def _check_values(c: RunConfig) -> None:
    from . import losses, models
    from .data import DATASETS

    def bad(name, value, expected):
        raise ValueError(f"run setting {name}={value!r} is invalid: expected {expected}")

    choices = {"dataset": DATASET_NAMES, "train_subset": DATASETS.get(c.dataset, ()), "loss": losses.LOSS_NAMES,
               "balancing": tuple(BALANCING), "target": TARGETS, "arch": models.ARCHS, "schedule": SCHEDULES,
               "optimizer": OPTIMIZERS}
    for name, allowed in choices.items():
        if getattr(c, name) not in allowed:
            bad(name, getattr(c, name), f"one of {tuple(allowed)}")
    for name in ("epochs", "batch_size", "input_size", "k_bins", "synth_image_size"):
        v = getattr(c, name)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
            bad(name, v, "a positive integer")
    for name in ("lr", "synth_scale", "crop_scale"):
        v = getattr(c, name)
        if not isinstance(v, (int, float)) or not v > 0:
            bad(name, v, "a positive number")
    if c.weight_decay < 0:
        bad("weight_decay", c.weight_decay, "a number >= 0")
    if c.device not in ("auto", "cpu", "cuda") and not str(c.device).startswith("cuda:"):
        bad("device", c.device, "'auto', 'cpu', 'cuda' or 'cuda:N'")
    if c.device != "auto" and str(c.device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            bad("device", c.device, "'auto' or 'cpu' (no CUDA device is available)")
    if c.root is not None and not Path(c.root).exists():
        raise FileNotFoundError(f"data_root {c.root} does not exist: give the folder of the {c.dataset} release, "
                                f"or None for the synthetic benchmark")
    # the loss must accept its parameters
    from .topology import get_scheme

    losses.make_loss(c.loss, scheme=get_scheme(c.dataset), input_size=c.input_size, **c.loss_params)


def validate(config: RunConfig) -> None:
    """Check the values and open every annotation list the run needs (no image is decoded).

    Raises before any training: unknown names, non-positive sizes, a
    ``root`` without the release layout (the loader's message names the path
    and what it expected).
    """
    from .data import open_dataset

    _check_values(config)
    if config.root is not None:
        for subset in (config.train_subset, *EVAL_SUBSETS[config.dataset]):
            open_dataset(config.dataset, config.root, subset)


# ----------------------------------------------------------------------------- paths

def cache_dir() -> Path:
    """Where synthetic data sets and checkpoints live (``ANISO_CACHE`` or ``<repo>/.cache/aniso``)."""
    return Path(os.environ.get("ANISO_CACHE", REPO_ROOT / ".cache" / "aniso"))


def runs_dir() -> Path:
    """The run store (``ANISO_RUNS_DIR`` or ``<repo>/results/runs``)."""
    return Path(os.environ.get("ANISO_RUNS_DIR", REPO_ROOT / "results" / "runs"))


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def config_id(config: RunConfig) -> str:
    """The run's key in the store: a hash of the settings that change its numbers."""
    d = config.to_dict()
    d.pop("num_workers")  # sample order and augmentation do not depend on it
    d["device"] = resolve_device(config.device).split(":")[0]
    d["store_version"] = STORE_VERSION
    blob = json.dumps(d, sort_keys=True, default=str)
    return f"{config.dataset}-{config.loss}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"


def data_root(config: RunConfig, progress: bool = True) -> Path:
    """The data set's folder: ``config.root``, or the synthetic benchmark (generated once into the cache)."""
    if config.root is not None:
        return Path(config.root)
    from . import synthetic

    name = f"{config.dataset}-seed{config.synth_seed}-scale{config.synth_scale:g}-px{config.synth_image_size}"
    root = cache_dir() / "synthetic" / name
    if not (root / "synthetic_truth.npz").exists():
        if root.exists():  # an earlier generation died half-way: start again
            shutil.rmtree(root)
        root.parent.mkdir(parents=True, exist_ok=True)
        synthetic.generate(config.dataset, root, seed=config.synth_seed, scale=config.synth_scale,
                           image_size=config.synth_image_size, progress=progress)
    return root


# ----------------------------------------------------------------------------- records

class RunRecord:
    """A finished run: configuration, provenance, history, metrics and per-image arrays."""

    def __init__(self, meta: dict, arrays: dict[str, np.ndarray]):
        self.meta = meta
        self.arrays = arrays

    @property
    def id(self) -> str:
        return self.meta["id"]

    @property
    def config(self) -> RunConfig:
        return RunConfig(**self.meta["config"])

    @property
    def history(self):
        import pandas as pd

        return pd.DataFrame(self.meta["history"])

    @property
    def metrics(self) -> dict:
        """``{subset: {norm: {"nme", "fr@0.08", "auc@0.08", "fr@0.1", "auc@0.1"}}}`` as fractions."""
        return self.meta["metrics"]

    def nmes(self, subset: str, norm: str) -> np.ndarray:
        """Per-image NME (fraction) of one test subset under one normalisation."""
        key = f"nme/{subset}/{norm}"
        if key not in self.arrays:
            raise KeyError(f"run {self.id} has no NMEs for subset={subset!r}, norm={norm!r}; "
                           f"it has {sorted(k for k in self.arrays if k.startswith('nme/'))}")
        return self.arrays[key]

    def keys(self, subset: str) -> np.ndarray:
        return self.arrays[f"keys/{subset}"]

    def predictions(self, subset: str) -> np.ndarray:
        """``(M, N, 2)`` predictions in original-image pixels."""
        return self.arrays[f"pred/{subset}"]

    @property
    def tracked(self) -> dict:
        """Predictions (original pixels) on the tracked test faces after epochs 0..E."""
        return {"keys": self.arrays["tracked/keys"], "epochs": self.arrays["tracked/epochs"],
                "pred": self.arrays["tracked/pred"]}

    @classmethod
    def load(cls, run_id: str, directory: Path | None = None) -> "RunRecord":
        d = Path(directory or runs_dir())
        meta = json.loads((d / f"{run_id}.json").read_text())
        with np.load(d / f"{run_id}.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls(meta, arrays)

    def save(self, directory: Path | None = None) -> None:
        import io

        d = Path(directory or runs_dir())
        buf = io.BytesIO()
        np.savez_compressed(buf, **self.arrays)
        # the json marks a finished run: drop an old one first, then arrays, then the json
        (d / f"{self.id}.json").unlink(missing_ok=True)
        atomic_write(d / f"{self.id}.npz", buf.getvalue())
        atomic_write(d / f"{self.id}.json", json.dumps(self.meta, indent=1, default=_jsonable))


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"cannot store {type(x).__name__} in a run record")


def stored(config: RunConfig) -> bool:
    """Whether the store already holds this run."""
    rid = config_id(config)
    return (runs_dir() / f"{rid}.json").exists() and (runs_dir() / f"{rid}.npz").exists()


# ----------------------------------------------------------------------------- provenance

def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "lib"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(device: str) -> dict:
    """Seedless provenance: library versions, commit, device, threads."""
    import cv2
    import torch
    import torchvision

    from . import __version__

    dev = device
    if device.startswith("cuda"):
        dev = f"{device} ({torch.cuda.get_device_name(0)})"
    return {
        "commit": _git_commit(),
        "device": dev,
        "torch_threads": torch.get_num_threads(),
        "versions": {"python": platform.python_version(), "aniso": __version__, "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "numpy": np.__version__, "opencv": cv2.__version__},
        "machine": platform.machine(),
    }


# ----------------------------------------------------------------------------- training

def _lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """Learning-rate multiplier for 0-based ``epoch``: step = x0.1 for the last quarter."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + np.cos(np.pi * epoch / epochs))
    return 0.1 if epoch >= int(round(0.75 * epochs)) and epochs > 1 else 1.0


def _make_optimizer(config: RunConfig, params):
    import torch

    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay, nesterov=True)


def _tracked_indices(records) -> list[int]:
    """The most frontal and the most profile face (by the stored yaw when known, else by shape asymmetry)."""
    if not records:
        return []
    if all("yaw" in r.attributes for r in records):
        yaws = np.array([abs(float(r.attributes["yaw"])) for r in records])
    else:  # without a pose: horizontal offset of the landmark centroid inside the landmark box
        yaws = np.array([abs((r.landmarks[:, 0].mean() - (r.gt_box[0] + r.gt_box[2]) / 2)
                             / max(r.gt_box[2] - r.gt_box[0], 1e-6)) for r in records])
    front, profile = int(np.argmin(yaws)), int(np.argmax(yaws))
    return [front] if front == profile else [front, profile]


def run(config: RunConfig, progress: bool = True, force: bool = False,
        on_epoch_end: Callable[[int, dict], None] | None = None) -> RunRecord:
    """Train and evaluate one run, or return its stored record.

    ``on_epoch_end(epoch, history_row)`` is called after each epoch's
    checkpoint is written (epoch counts from 1); raising from it stops the
    run, which then resumes from that checkpoint when asked again.
    ``force=True`` ignores a stored record (and any checkpoint).
    """
    rid = config_id(config)
    if not force and stored(config):
        return RunRecord.load(rid)
    _check_values(config)  # the annotation lists are opened first thing in _train, before any model exists
    return _train(config, rid, progress=progress, force=force, on_epoch_end=on_epoch_end)


def run_many(configs: Iterable[RunConfig], progress: bool = True) -> list[RunRecord]:
    """Run (or load) several configurations with one overall progress bar."""
    from tqdm.auto import tqdm

    configs = list(configs)
    todo = sum(not stored(c) for c in configs)
    out = []
    with tqdm(total=len(configs), desc=f"runs ({todo} to train)", disable=not progress) as bar:
        for c in configs:
            out.append(run(c, progress=progress))
            bar.update(1)
    return out


def _train(config: RunConfig, rid: str, progress: bool, force: bool, on_epoch_end) -> RunRecord:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch
    from tqdm.auto import tqdm

    from .data import open_dataset
    from .data.pipeline import AugmentConfig, FaceDataset, crop_matrix, make_loader, to_original, transform_points
    from .losses import make_loss
    from .metrics import auc, failure_rate, nme
    from .models import build_model
    from .sampling import FixedBudgetSampler, PoseBalancedSampler, mean_of_bin_means, pose_bins
    from .topology import get_scheme

    device = resolve_device(config.device)
    cuda = device.startswith("cuda")
    torch.use_deterministic_algorithms(True, warn_only=True)
    if cuda:
        torch.backends.cudnn.benchmark = False
    scheme = get_scheme(config.dataset)
    root = data_root(config, progress=progress)
    S = config.input_size
    started = time.time()

    # ---- data
    train_records = open_dataset(config.dataset, root, config.train_subset)
    eval_subsets = EVAL_SUBSETS[config.dataset]
    subset_records = {s: open_dataset(config.dataset, root, s) for s in eval_subsets}
    # evaluate each distinct face once, whatever subsets it belongs to
    eval_records, eval_index, subset_rows = [], {}, {}
    for s, recs in subset_records.items():
        rows = []
        for r in recs:
            if r.key not in eval_index:
                eval_index[r.key] = len(eval_records)
                eval_records.append(r)
            rows.append(eval_index[r.key])
        subset_rows[s] = np.asarray(rows, dtype=np.int64)
    augment = AugmentConfig() if config.augment else AugmentConfig.none()
    train_ds = FaceDataset(train_records, scheme, input_size=S, train=True, augment=augment,
                           crop_scale=config.crop_scale, seed=config.seed)
    eval_ds = FaceDataset(eval_records, scheme, input_size=S, train=False, crop_scale=config.crop_scale,
                          seed=config.seed)
    primary_subset, primary_norm = PRIMARY[config.dataset]
    tracked_rows = subset_rows[primary_subset][_tracked_indices(subset_records[primary_subset])]

    # ---- pose bins, sampler, mean shape (all from the training labels)
    shapes = np.stack([r.landmarks for r in train_records])
    bins = pose_bins(shapes, scheme, k=config.k_bins)
    sampler = FixedBudgetSampler(PoseBalancedSampler(bins, mode=BALANCING[config.balancing], seed=config.seed),
                                  length=len(train_records))
    if config.target == "displacement":
        input_shapes = np.stack([transform_points(r.landmarks, crop_matrix(r.gt_box, S, config.crop_scale))
                                 for r in train_records])
        mean_shape = mean_of_bin_means(input_shapes, bins)
    else:  # direct prediction: only the crop centre as offset
        mean_shape = np.full((scheme.n_points, 2), (S - 1) / 2.0)

    torch.manual_seed(config.seed)
    model = build_model(config.arch, scheme.n_points, mean_shape=mean_shape, weights=config.weights,
                        output_scale=S / HEAD_UNITS)
    model = model.to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    loss_fn = make_loss(config.loss, scheme=scheme, input_size=S, **config.loss_params).to(device)
    optimizer = _make_optimizer(config, model.parameters())

    # ---- resume
    ckpt_dir = cache_dir() / "checkpoints" / rid
    ckpt = ckpt_dir / "last.pt"
    history: list[dict] = []
    tracked_pred: list[np.ndarray] = []
    start_epoch = 0
    prior_seconds = 0.0
    if force and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, tracked_pred = state["history"], state["tracked_pred"]
        start_epoch = state["epoch"]
        prior_seconds = state["seconds"]

    loader_kw = dict(num_workers=config.num_workers, pin_memory=cuda, seed=config.seed)
    eval_loader = make_loader(eval_ds, batch_size=max(64, config.batch_size), shuffle=False, **loader_kw)

    def predict(rows=None):
        """Predictions in original pixels for eval_records (all, or the given rows)."""
        model.eval()
        ds = eval_ds if rows is None else torch.utils.data.Subset(eval_ds, list(map(int, rows)))
        loader = eval_loader if rows is None else make_loader(ds, batch_size=64, shuffle=False, **loader_kw)
        out = []
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            for batch in loader:
                x = batch["image"].to(device, torch.float32, non_blocking=True)
                if cuda:
                    x = x.to(memory_format=torch.channels_last)
                p = model(x).float().cpu()
                out.append(to_original(p, batch["inverse"]).numpy())
        return np.concatenate(out).astype(np.float64)

    gt_all = np.stack([r.landmarks for r in eval_records])
    boxes_all = np.stack([r.box for r in eval_records])

    def subset_nme(pred_all, subset, norm):
        rows = subset_rows[subset]
        return nme(pred_all[rows], gt_all[rows], scheme, norm, boxes=boxes_all[rows])

    if start_epoch == 0:
        tracked_pred = [predict(tracked_rows)] if len(tracked_rows) else []

    epochs_bar = tqdm(range(start_epoch, config.epochs), desc=f"{rid} epochs", initial=start_epoch,
                      total=config.epochs, disable=not progress, leave=False)
    for epoch in epochs_bar:
        t0 = time.time()
        for g in optimizer.param_groups:
            g["lr"] = config.lr * _lr_factor(config.schedule, epoch, config.epochs)
        sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        loader = make_loader(train_ds, batch_size=config.batch_size, sampler=sampler, **loader_kw)
        model.train()
        total, count = 0.0, 0
        for batch in tqdm(loader, desc=f"epoch {epoch + 1}", disable=not progress, leave=False):
            x = batch["image"].to(device, torch.float32, non_blocking=True)
            y = batch["landmarks"].to(device, torch.float32, non_blocking=True)
            if cuda:
                x = x.to(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                pred = model(x)
            loss = loss_fn(pred.float(), y)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"run {rid}: the {config.loss} loss became {loss.item()} in epoch {epoch + 1}; "
                                         f"lower lr (now {config.lr})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(x)
            count += len(x)
        pred_all = predict()
        val = float(subset_nme(pred_all, primary_subset, primary_norm).mean())
        if len(tracked_rows):
            tracked_pred.append(pred_all[tracked_rows])
        row = {"epoch": epoch + 1, "train_loss": total / max(count, 1), "val_nme": val,
               "lr": optimizer.param_groups[0]["lr"], "seconds": time.time() - t0}
        history.append(row)
        epochs_bar.set_postfix(loss=f"{row['train_loss']:.3g}", nme=f"{100 * val:.2f}%")
        with atomic_path(ckpt) as tmp:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "history": history,
                        "tracked_pred": tracked_pred, "epoch": epoch + 1,
                        "seconds": prior_seconds + time.time() - started}, tmp)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
    epochs_bar.close()

    # ---- final evaluation
    pred_all = predict()
    arrays: dict[str, np.ndarray] = {}
    metrics: dict[str, dict] = {}
    for s in eval_subsets:
        rows = subset_rows[s]
        arrays[f"keys/{s}"] = np.asarray([eval_records[i].key for i in rows], dtype=str)
        arrays[f"pred/{s}"] = pred_all[rows].astype(np.float32)
        metrics[s] = {"n": int(len(rows))}
        for norm in NORMS_BY_DATASET[config.dataset]:
            e = subset_nme(pred_all, s, norm)
            arrays[f"nme/{s}/{norm}"] = e
            m = {"nme": float(e.mean())}
            for t in THRESHOLDS:
                m[f"fr@{t:g}"] = float(failure_rate(e, t))
                m[f"auc@{t:g}"] = float(auc(e, t))
            metrics[s][norm] = m
    arrays["tracked/keys"] = np.asarray([eval_records[i].key for i in tracked_rows], dtype=str)
    arrays["tracked/epochs"] = np.arange(start=0, stop=len(tracked_pred))
    arrays["tracked/pred"] = (np.stack(tracked_pred).astype(np.float32) if tracked_pred
                              else np.zeros((0, 0, scheme.n_points, 2), np.float32))
    meta = {
        "id": rid,
        "config": config.to_dict(),
        "seed": config.seed,
        "data": {"root": str(config.root) if config.root else None, "synthetic": config.root is None,
                 "n_train": len(train_records), "bins": np.bincount(bins, minlength=config.k_bins).tolist()},
        "provenance": provenance(device),
        "history": history,
        "metrics": metrics,
        "train_seconds": prior_seconds + time.time() - started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    record = RunRecord(meta, arrays)
    record.save()
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return record


# ----------------------------------------------------------------------------- analyses of stored runs

def subset_records(record: RunRecord, subset: str) -> list:
    """The data-set records of one evaluated subset, in the order of the run's stored arrays."""
    from .data import open_dataset

    config = record.config
    by_key = {r.key: r for r in open_dataset(config.dataset, data_root(config), subset)}
    keys = record.keys(subset)
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise ValueError(f"run {record.id}: {len(missing)} evaluated faces of {subset!r} are no longer in the data "
                         f"set (first: {missing[0]!r}); was the data regenerated?")
    return [by_key[k] for k in keys]


def tracked_faces(record: RunRecord, size: int = 128) -> dict:
    """Crops of the run's tracked test faces and its predictions on them after every epoch.

    Returns ``images`` (list of ``(size, size, 3)`` uint8), ``gt`` (list of
    ``(N, 2)``), ``pred`` ``(E + 1, F, N, 2)`` — all in crop pixels — ``epochs``
    (0 = before training) and ``labels`` (pose of each face when known).
    """
    import cv2

    from .data import open_dataset
    from .data.pipeline import crop_matrix, transform_points

    config = record.config
    tr = record.tracked
    by_key = {r.key: r for r in open_dataset(config.dataset, data_root(config),
                                             PRIMARY[config.dataset][0])}
    images, gts, mats, labels = [], [], [], []
    for key in tr["keys"]:
        rec = by_key[str(key)]
        m = crop_matrix(rec.gt_box, size, config.crop_scale)
        images.append(cv2.warpAffine(rec.load_image(), m, (size, size), flags=cv2.INTER_AREA,
                                     borderMode=cv2.BORDER_REPLICATE))
        gts.append(transform_points(rec.landmarks, m))
        mats.append(m)
        yaw = rec.attributes.get("yaw")
        labels.append(f"yaw {yaw:+.0f}°" if yaw is not None else str(key))
    pred = np.stack([np.stack([transform_points(tr["pred"][e, f], mats[f]) for f in range(len(mats))])
                     for e in range(len(tr["epochs"]))]) if len(mats) else np.zeros((0, 0))
    return {"images": images, "gt": gts, "pred": pred, "epochs": list(map(int, tr["epochs"])), "labels": labels}


def epochs_to_reach(records, target: float) -> np.ndarray:
    """Per run, the first epoch whose validation NME (fraction) is <= ``target``; ``inf`` if never."""
    out = []
    for r in records:
        h = r.history
        hit = h.index[h["val_nme"] <= target]
        out.append(float(h.loc[hit[0], "epoch"]) if len(hit) else float("inf"))
    return np.asarray(out)


def val_curves(records) -> np.ndarray:
    """``(R, E)`` validation NME (fraction) per run and epoch."""
    return np.stack([r.history["val_nme"].to_numpy() for r in records])
