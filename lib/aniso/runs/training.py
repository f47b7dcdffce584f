"""Training one run: set up, train epoch by epoch with checkpoints, evaluate, store.

Randomness: the model's initialisation is seeded by ``seed`` (so seed i of
every loss starts from the same backbone); each epoch's sample order and each
image's augmentation are drawn from generators seeded by ``(seed, epoch[,
index])``, so a resumed run is bit for bit the run that was not interrupted,
and the same seed on the same machine, threads and lock gives the same
numbers. Every record keeps a fingerprint of its initial weights and of its
first epoch's sample order, so that comparisons can check that two methods
really were paired.

Concurrency: a run is trained under a claim (:mod:`~aniso.runs.claims`), so two workers (processes, Ray
tasks, notebooks) never train the same run at once: the second waits for the first one's record.

Checkpoints: after an epoch, when the last one is older than :func:`checkpoint_every`.
Failures: a run that raises removes its partial checkpoint; only an
interruption (``KeyboardInterrupt``, or :class:`Interrupt` raised from
``on_epoch_end``) keeps it for a resume. Temporary files that a killed
process left beside a checkpoint are removed when the run starts again.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import losses
from ..data import dataset_spec
from ..data.augment import AUGMENTATIONS, cache_margin, crop_matrix, transform_points
from ..data.resident import CropGeometry, EvaluationCrops, TrainingCrops
from ..files import atomic_write
from ..metrics import nme
from ..models import build_model
from ..sampling import FixedBudgetSampler, PoseBalancedSampler, mean_of_bin_means, pose_bins
from ..topology import get_scheme
from .claims import acquire
from .config import BALANCING, RunConfig, check_config, config_id, resolve_device, resolve_precision
from .data import RunData, load_run_data, prepare_data
from .evaluation import evaluate, predict
from .store import RunRecord, SaveFailed, cache_dir, checkpoint_dir, find, provenance, save_failed, warn_other_versions

__all__ = ["run", "train_step", "configure_torch", "Interrupt", "HEAD_UNITS"]

# The regression head predicts in units of 1/HEAD_UNITS of the input side (8 px at 64 px):
# displacements from the mean shape are then O(1). With the output in whole input widths,
# Adam's first steps (lr 1e-3) threw predictions tens of pixels off the face and 300W runs
# stayed at the mean shape for many epochs (measured: full NME 36.6% vs 20.8% after 6 epochs).
HEAD_UNITS = 8


class Interrupt(Exception):
    """Raise from ``on_epoch_end`` to stop a run and keep its checkpoint (it resumes when asked again)."""


def run(config: RunConfig, progress: bool = True, force: bool = False,
        on_epoch_end: Callable[[int, dict], None] | None = None, extra_meta: dict | None = None,
        keep: bool = True) -> RunRecord:
    """Train and evaluate one run, or return its stored record.

    ``on_epoch_end(epoch, history_row)`` is called after each epoch's
    checkpoint is written (epoch counts from 1). ``force=True`` ignores a
    stored record and any checkpoint. ``extra_meta`` is stored in the
    record (e.g. how its learning rate was chosen). ``keep=False`` trains
    without storing the record (tuning runs keep only their score).
    """
    rid = config_id(config)
    if keep and not force and find(rid) is not None:
        record = RunRecord.load(rid)
        warn_other_versions(record)
        return record
    check_config(config)
    device = resolve_device(config.device)
    if device.startswith("cuda"):
        import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415

        if not torch.cuda.is_available():
            raise RuntimeError(f"run {rid} is not in the store and needs CUDA ({config.device}), which is not "
                               "available")
    # one worker at a time: wait while another trains it; its record may then be all we need
    claim = acquire(rid, done=lambda: keep and not force and find(rid) is not None)
    if claim is None:
        return RunRecord.load(rid)
    with claim:
        return _train_claimed(config, rid, device, progress, force, on_epoch_end, extra_meta or {}, keep, claim)


def _train_claimed(config: RunConfig, rid: str, device: str, progress: bool, force: bool, on_epoch_end,
                   extra_meta: dict, keep: bool, claim) -> RunRecord:
    """Train under ``claim`` (touched at every epoch end), store the record, remove the checkpoint."""

    def epoch_end(epoch: int, row: dict) -> None:
        claim.refresh()
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)


    ckpt_dir = checkpoint_dir(rid)
    try:
        record = _train(config, rid, device, progress, force, epoch_end, extra_meta)
    except (Interrupt, KeyboardInterrupt, SaveFailed):  # a checkpoint not written: the last one stays for a resume
        raise
    except BaseException:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        raise
    if keep:
        try:
            record.save()
        except OSError as exc:  # a full disk, a read-only store: keep the checkpoint, the run resumes from it
            raise save_failed(exc, f"run {rid}: its record could not be stored", ckpt_dir / "last.pt") from exc
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return record


@dataclass
class _Setup:
    """What one run trains with."""

    model: object
    loss_fn: object
    optimizer: object
    scheduler: object
    sampler: object
    train_set: object
    eval_set: object
    augment: object
    val_rows: np.ndarray
    tracked_rows: np.ndarray
    bins: np.ndarray
    fingerprint: dict


def _mean_shape(config: RunConfig, data: RunData, scheme, bins) -> np.ndarray:
    """The head's offset: the mean of bin means (displacement) or the crop centre (direct prediction)."""

    S = config.input_size
    if config.target == "absolute":
        return np.full((scheme.n_points, 2), (S - 1) / 2.0)
    shapes = np.stack([transform_points(r.landmarks, crop_matrix(r.gt_box, S, config.crop_scale)) for r in data.train])
    return mean_of_bin_means(shapes, bins)


def _scheduler(config: RunConfig, optimizer):
    """Per-epoch learning-rate schedule: cosine to 0, step (x0.1 for the last quarter) or constant."""
    from torch.optim import lr_scheduler  # heavy (torch): loaded where it is used  # noqa: PLC0415

    if config.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "step":
        return lr_scheduler.MultiStepLR(optimizer, milestones=[max(1, round(0.75 * config.epochs))], gamma=0.1)
    return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _optimizer(config: RunConfig, params):
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415

    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay, nesterov=True)


def _fingerprint(model, sampler) -> dict:
    """Hashes of the initial weights and of epoch 0's sample order (methods paired by seed share both)."""
    h = hashlib.sha1()
    for name, p in sorted(model.backbone.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().numpy().tobytes())
    order = np.asarray(sampler.base.indices(0), dtype=np.int64)
    return {"init": h.hexdigest()[:16], "order": hashlib.sha1(order.tobytes()).hexdigest()[:16]}


def _setup(config: RunConfig, data: RunData, device: str, amp: bool, progress: bool) -> _Setup:
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415


    spec_scheme = get_scheme(config.dataset)
    S = config.input_size
    shapes = np.stack([r.landmarks for r in data.train])
    bins = pose_bins(shapes, spec_scheme, k=config.k_bins)
    sampler = FixedBudgetSampler(PoseBalancedSampler(bins, mode=BALANCING[config.balancing], seed=config.seed),
                                 length=len(data.train))
    augment = AUGMENTATIONS[config.augment]
    # every image is decoded (once, into the crop cache): a file that does not decode fails here, naming it,
    # before any model exists
    crops = cache_dir() / "crops"
    train_set = TrainingCrops(data.train, spec_scheme, CropGeometry(S, config.crop_scale, cache_margin(augment)),
                              device, crops, progress)
    eval_set = EvaluationCrops(data.eval_records + data.val, spec_scheme, CropGeometry(S, config.crop_scale),
                               device, crops, progress)
    torch.manual_seed(config.seed)
    model = build_model(config.arch, spec_scheme.n_points, mean_shape=_mean_shape(config, data, spec_scheme, bins),
                        weights=config.weights, output_scale=S / HEAD_UNITS)
    fingerprint = _fingerprint(model, sampler)
    model = model.to(device)
    if amp:
        model = model.to(memory_format=torch.channels_last)
    # a data-driven loss (learned covariances) is estimated from the training labels
    needs_shapes = not losses.is_reference(config.loss) and losses.loss_spec(config.loss).needs_train_shapes
    loss_fn = losses.make_loss(config.loss, scheme=spec_scheme, input_size=S, **config.loss_params,
                               **({"train_shapes": shapes} if needs_shapes else {})).to(device)
    optimizer = _optimizer(config, model.parameters())
    n_eval = len(data.eval_records)
    val_rows = np.arange(n_eval, n_eval + len(data.val))
    return _Setup(model, loss_fn, optimizer, _scheduler(config, optimizer), sampler, train_set, eval_set, augment,
                  val_rows, _tracked_rows(config, data), bins, fingerprint)


def _tracked_rows(config: RunConfig, data: RunData) -> np.ndarray:
    """Rows of the most frontal and the most profile test face (Figures 2 and 3); none for a tuning run."""

    if config.evaluate != "test":
        return np.zeros(0, dtype=np.int64)
    rows = data.subset_rows[dataset_spec(config.dataset).primary[0]]
    recs = [data.eval_records[i] for i in rows]
    if all("yaw" in r.attributes for r in recs):
        yaws = np.array([abs(float(r.attributes["yaw"])) for r in recs])
    else:  # without a pose: horizontal offset of the landmark centroid inside the landmark box
        yaws = np.array([abs((r.landmarks[:, 0].mean() - (r.gt_box[0] + r.gt_box[2]) / 2)
                             / max(r.gt_box[2] - r.gt_box[0], 1e-6)) for r in recs])
    picked = sorted({int(np.argmin(yaws)), int(np.argmax(yaws))}, key=lambda i: yaws[i])
    return rows[picked]


def train_step(model, loss_fn, optimizer, images, landmarks, amp: bool):
    """One optimisation step on a batch already on the model's device; returns the loss (a detached scalar
    tensor, left on the device: reading it would make the host wait for the device at every step).

    bf16 autocast (``amp``) covers the model only: the loss is computed in float32 on its float32 output. A
    step whose loss is not finite is taken all the same (the caller checks the running sum and stops the run).
    """
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415

    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
        pred = model(images)
    loss = loss_fn(pred.float(), landmarks)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


# Steps between two checks that the running loss is finite (each check waits for the device).
_CHECK_EVERY = 25


def _train_epoch(config: RunConfig, st: _Setup, epoch: int, amp: bool, progress: bool, rid: str) -> float:
    """One epoch; returns the mean training loss. Raises ``FloatingPointError`` when the loss is not finite."""
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415
    from tqdm.auto import tqdm  # heavy (tqdm): loaded where it is used  # noqa: PLC0415

    st.sampler.set_epoch(epoch)
    order = np.fromiter(iter(st.sampler), dtype=np.int64)
    batches = st.train_set.epoch(order, st.augment, config.seed, epoch, config.batch_size, channels_last=amp)
    st.model.train()
    total = torch.zeros((), device=st.train_set.device)
    count = 0
    n_batches = len(order) // config.batch_size
    for step, (x, y) in enumerate(tqdm(batches, total=n_batches, desc=f"epoch {epoch + 1}", disable=not progress,
                                       leave=False), 1):
        total += train_step(st.model, st.loss_fn, st.optimizer, x, y, amp) * len(x)
        count += len(x)
        if step % _CHECK_EVERY == 0 or step == n_batches:
            _check_finite(float(total), config, epoch, rid)
    st.scheduler.step()
    return float(total) / max(count, 1)


def _check_finite(total: float, config: RunConfig, epoch: int, rid: str) -> None:
    if not math.isfinite(total):
        raise FloatingPointError(f"run {rid}: the {config.loss} loss became {total} in epoch {epoch + 1} "
                                 f"(lr {config.lr}, {config.optimizer}); a lower learning rate may train")


def checkpoint_every() -> float:
    """Seconds of training between epoch checkpoints (``ANISO_CHECKPOINT_EVERY``, default 60).

    A checkpoint (model and optimiser state, ~135 MB for ResNet18 with Adam)
    costs about a second to write; after every 15-second epoch of the default
    profile that would add a fifth to every run. So an epoch ends with a
    checkpoint only when the last one is at least this old: an interrupted run
    loses at most that much training. 0 checkpoints every epoch.
    """
    return float(os.environ.get("ANISO_CHECKPOINT_EVERY", "60"))


def _clean_stale_temporaries(ckpt_dir) -> None:
    """Remove temporary files a killed process left beside a checkpoint (atomic writes name them ``.last.*``)."""
    if ckpt_dir.exists():
        for p in ckpt_dir.glob(".last.*"):
            p.unlink(missing_ok=True)


def _resume(st: _Setup, ckpt, device: str) -> dict:
    """Load the last checkpoint into ``st``; returns the state (``epoch`` 0 and empty history without one)."""
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415

    if not ckpt.exists():
        return {"epoch": 0, "history": [], "tracked_pred": [], "seconds": 0.0}
    state = torch.load(ckpt, map_location=device, weights_only=False)
    st.model.load_state_dict(state["model"])
    st.optimizer.load_state_dict(state["optimizer"])
    st.scheduler.load_state_dict(state["scheduler"])
    return state


def _save_checkpoint(ckpt, st: _Setup, state: dict) -> None:
    """Write the epoch checkpoint atomically; :class:`~aniso.runs.store.SaveFailed` (naming the file and the cause)
    when it cannot be written, the previous checkpoint untouched.

    Serialised in memory first: ``torch.save`` to a path reports a full disk as a ``RuntimeError`` without the
    cause; Python's write raises ``OSError(ENOSPC)``, which :func:`~aniso.files.atomic_path` names.
    """

    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415


    buf = io.BytesIO()
    torch.save({**state, "model": st.model.state_dict(), "optimizer": st.optimizer.state_dict(),
                "scheduler": st.scheduler.state_dict()}, buf)
    try:
        atomic_write(ckpt, buf.getbuffer())
    except OSError as exc:
        raise save_failed(exc, f"run {ckpt.parent.name}: its checkpoint could not be written", ckpt) from exc


def configure_torch(device: str, threads: int) -> None:
    """What every run (and the benchmark) trains under: deterministic kernels, cuDNN's autotuner off (its timing-based
    choice of kernels could differ between runs, or with what else shares the GPU), ``threads`` CPU threads."""
    import torch  # heavy (torch): loaded where it is used  # noqa: PLC0415

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = False
    else:
        torch.set_num_threads(threads)


def _train(config: RunConfig, rid: str, device: str, progress: bool, force: bool, on_epoch_end,
           extra_meta: dict) -> RunRecord:
    t_start = time.time()
    configure_torch(device, config.threads)
    precision = resolve_precision(config.precision, device)
    amp = precision == "bf16"
    data = load_run_data(config, prepare_data(config, progress=progress))
    st = _setup(config, data, device, amp, progress)
    ckpt_dir = checkpoint_dir(rid)
    if force:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    _clean_stale_temporaries(ckpt_dir)
    ckpt = ckpt_dir / "last.pt"
    state = _resume(st, ckpt, device)
    timing = state.setdefault("timing", {"setup": 0.0, "steps": 0.0, "validation": 0.0})
    timing["setup"] += time.time() - t_start
    if state["epoch"] == 0 and len(st.tracked_rows):
        state["tracked_pred"] = [predict(st.model, st.eval_set, st.tracked_rows, amp)]
    _epochs(config, rid, st, data, amp, state, ckpt, progress, on_epoch_end)
    return _finish(config, rid, st, data, device, amp, precision, state, extra_meta)


def _epochs(config: RunConfig, rid: str, st: _Setup, data: RunData, amp: bool, state: dict, ckpt, progress: bool,
            on_epoch_end) -> None:
    """Train from the state's epoch to the last one: validate after each, checkpoint when due, report."""
    from tqdm.auto import tqdm  # heavy (tqdm): loaded where it is used  # noqa: PLC0415

    last_save = time.time()
    bar = tqdm(range(state["epoch"], config.epochs), desc=f"{rid} epochs", initial=state["epoch"],
               total=config.epochs, disable=not progress, leave=False)
    for epoch in bar:
        t0 = time.time()
        lr = st.optimizer.param_groups[0]["lr"]
        train_loss = _train_epoch(config, st, epoch, amp, progress, rid)
        t1 = time.time()
        row = {"epoch": epoch + 1, "train_loss": train_loss, "lr": lr, "seconds": t1 - t0}
        row.update(_epoch_eval(config, st, data, amp, state))
        state["history"].append(row)
        state["epoch"] = epoch + 1
        state["seconds"] = state.get("seconds", 0.0) + time.time() - t0
        state["timing"]["steps"] += t1 - t0
        state["timing"]["validation"] += time.time() - t1
        bar.set_postfix(loss=f"{train_loss:.3g}", val=f"{100 * row['val_nme']:.2f}%")
        if epoch + 1 < config.epochs and time.time() - last_save >= checkpoint_every():
            _save_checkpoint(ckpt, st, state)
            last_save = time.time()
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
    bar.close()


def _epoch_eval(config: RunConfig, st: _Setup, data: RunData, amp: bool, state: dict) -> dict:
    """Validation NME (primary normalisation) after an epoch; the tracked test faces' predictions."""

    norm = dataset_spec(config.dataset).primary[1]
    pred = predict(st.model, st.eval_set, st.val_rows, amp)
    gt = np.stack([r.landmarks for r in data.val])
    boxes = np.stack([r.box for r in data.val])
    val = float(nme(pred, gt, config.dataset, norm, boxes=boxes).mean())
    if len(st.tracked_rows):
        state["tracked_pred"].append(predict(st.model, st.eval_set, st.tracked_rows, amp))
    return {"val_nme": val}


def _finish(config: RunConfig, rid: str, st: _Setup, data: RunData, device: str, amp: bool, precision: str,
            state: dict, extra_meta: dict) -> RunRecord:
    """Final evaluation of every evaluated subset, and the record.

    ``timing`` (seconds): ``setup`` (data, crops, model), ``steps`` (training steps), ``validation`` (after each
    epoch), ``final`` (this evaluation); ``fixed`` = all but the steps, a run's cost besides training.
    """
    t0 = time.time()
    n_eval = len(data.eval_records)
    pred = predict(st.model, st.eval_set, np.arange(n_eval), amp)
    metrics, arrays = evaluate(pred, data, config.dataset)
    tracked = state["tracked_pred"]
    n_points = pred.shape[1]
    arrays["tracked/keys"] = np.asarray([data.eval_records[i].key for i in st.tracked_rows], dtype=str)
    arrays["tracked/epochs"] = np.arange(len(tracked))
    arrays["tracked/pred"] = (np.stack(tracked).astype(np.float32) if tracked
                              else np.zeros((0, 0, n_points, 2), np.float32))
    seconds = state.get("seconds", 0.0)
    n_seen = len(st.train_set) * config.epochs
    timing = dict(state["timing"], final=time.time() - t0)
    timing["fixed"] = timing["setup"] + timing["validation"] + timing["final"]
    meta = {
        "id": rid, "config": config.to_dict(), "seed": config.seed,
        "data": {"root": str(config.root) if config.root else None, "synthetic": config.root is None,
                 "n_train": len(data.train), "n_val": len(data.val),
                 "bins": np.bincount(st.bins, minlength=config.k_bins).tolist()},
        "fingerprint": st.fingerprint, "provenance": provenance(device, precision),
        "history": state["history"], "metrics": metrics, "train_seconds": seconds, "timing": timing,
        "images_per_second": n_seen / timing["steps"] if timing["steps"] > 0 else None,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra_meta,
    }
    return RunRecord(meta, arrays)
