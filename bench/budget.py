"""What a profile costs: every run and tuning run the notebooks need, in minutes, from measured throughput.

    python bench/budget.py --profile default                          # two CPU cores (throughput measured here)
    python bench/budget.py --profile converged --bench results-gpu/bench_cuda.json   # one H200, packed runs
    python bench/budget.py --profile paper --bench results-gpu/bench_cuda.json \\
        --assume densenet121=resnet50 wide_resnet50_2=resnet50/2 resnet18=resnet50*2
    python bench/budget.py --profile long-calibrated --stored others \\
        --records results*/runs --cpu "AMD EPYC"     # from its empty store, at the EPYC's recorded pace

Counts the runs with :func:`aniso.experiments.plan` over every notebook (each distinct run once), adds the learning-rate
searches (each search's starting grid plus one step outward), and prices each run at ``faces x epochs /
images-per-second + fixed cost``. ``--stored`` leaves out what the run stores hold: ``none`` (the default) prices
every run, ``others`` what ``make reproduce`` of the profile trains from an empty store of its own (the other
committed stores in place, as the runner reads them: :func:`aniso.runs.profiles.results_stores`), ``all`` what
is left to train now. With ``--records`` (run stores), a backbone at an input size trains at the median pace of
the runner's own records there (images/s of the steps, fixed seconds: setup, validation per epoch, final), of the
CPU runs whose processor name contains ``--cpu`` and, with ``--flag``, whose CPU had that instruction set (or,
``!flag``, had not). With ``--bench`` (``bench/train.py --json`` output, one object or a list), a
backbone at an input size measured there trains at its packed rate: ``K`` runs at once share the device, each at
the total over ``K``, and the device time is the sum over runs divided by ``K``; its fixed cost is the measured
one (setup, validation per epoch, final evaluation) at the run's epochs. Backbones or sizes not measured are
given with ``--ips`` (images/s of one run) or ``--assume ARCH=OTHER[*f|/f]`` (another measured backbone's rate,
scaled), and the output says so. It trains nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from aniso import experiments, suite
from aniso.runs import config_id, get_profile, stored, tuning, use_store
from aniso.runs.profiles import results_stores
from aniso.runs.store import read_meta
from aniso.synthetic.difficulty import plan as synthetic_plan

# ResNet18 at 64 px, runner's loop (bench/train.py on the development machine: 2 cores, bf16); others at 64 px.
CPU_IPS = {"resnet18": 280.0, "resnet50": 57.0, "densenet121": 53.0, "wide_resnet50_2": 22.0}
TRAIN_FOLDERS = ("afw", "helen/trainset", "lfpw/trainset")


@dataclass
class Rate:
    """How fast one run of a backbone at an input size trains: ``ips`` images/s each, ``k`` runs at once, fixed
    seconds ``setup + validation x epochs + final``; ``how`` says where the numbers come from."""

    ips: float
    k: int = 1
    setup: float = 6.0
    validation: float = 0.0
    final: float = 0.0
    how: str = "assumed"

    def seconds(self, images: int, epochs: int) -> float:
        """Device seconds of one run (a K-th of its wall time when K share the device)."""
        return (images / self.ips + self.setup + self.validation * epochs + self.final) / self.k


def n_train(c) -> int:
    """Training faces of a synthetic run, the validation split removed."""
    counts = synthetic_plan(c.dataset, c.synth_scale)
    n = sum(counts[f] for f in TRAIN_FOLDERS) if c.dataset == "300w" else counts["train"]
    return n - max(1, round(c.val_fraction * n))


def use_stores(profile: str, which: str, empty: str) -> None:
    """Which stores count as holding runs (``--stored``), as the runner reads them for the profile's folder (a
    notebook's ``scratch`` for a profile without one); ``empty``: a folder that holds none."""
    own, others = results_stores(get_profile(profile).folder or "scratch")
    use_store(own if which == "all" else empty, [] if which == "none" else others)


def runs_of(profile: str) -> tuple[list, list]:
    """Every distinct final run not stored (at its tuned rate where its search is stored), and the tuning runs not
    stored of every search not stored (its grid and one step outward); a final run whose search is not stored is
    not either."""

    finals = {}
    for nb in experiments.for_profile(profile):
        for cell, cfgs, _ in experiments.plan(nb, profile=profile, tune=False, progress=False).values():
            for c in cfgs:
                finals[config_id(c)] = (cell, c)
    tunes, left = {}, []
    for cell, c in finals.values():
        if not suite.is_tuned(cell, profile):
            left += [] if stored(c) else [c]
            continue
        base = suite.tuning_base(cell, c)
        result = tuning.stored_result(base)
        if result is not None:
            c = c.replace(lr=result.chosen)
            left += [] if stored(c) else [c]
            continue
        left.append(c)
        problem = tuning.tuning_problem(base)
        for lr in [*problem.grid, tuning.ladder_step(min(problem.grid), -1)]:
            t = problem.config(lr)
            if tuning.stored_score(t) is None:
                tunes[config_id(t)] = t
    return left, list(tunes.values())


def _has(flags: list[str], flag: str) -> bool:
    """Whether a record's CPU flags include ``flag`` (``!flag``: lack it; a record without flags matches neither)."""
    return bool(flags) and (flag[1:] not in flags if flag.startswith("!") else flag in flags)


def recorded(paths: list[str], cpu: str | None, flag: str | None) -> dict:
    """``{(arch, size): Rate}`` from the runner's records (``*.json`` of run stores) of CPU runs on a processor
    whose name contains ``cpu`` (and, given, whose CPU flags include ``flag``): the median pace of each."""
    rows = defaultdict(list)
    for path in paths:
        for f in sorted(Path(path).glob("*.json")):
            meta = read_meta(f)
            prov, timing, c = meta.get("provenance") or {}, meta.get("timing"), meta.get("config") or {}
            flags = (prov.get("kernels") or {}).get("cpu_flags") or []
            if prov.get("device") != "cpu" or not timing or not meta.get("images_per_second"):
                continue
            if (cpu and cpu.lower() not in str(prov.get("cpu", "")).lower()) or (flag and not _has(flags, flag)):
                continue
            rows[(c["arch"], c["input_size"])].append((meta["images_per_second"], timing, c["epochs"]))
    where = f"{cpu or 'any CPU'}{' with ' + flag if flag else ''}"
    return {key: Rate(median(ips for ips, _, _ in rs), 1, median(t["setup"] for _, t, _ in rs),
                      median(t["validation"] / e for _, t, e in rs), median(t["final"] for _, t, _ in rs),
                      how=f"recorded: median of {len(rs)} runs on {where}") for key, rs in rows.items()}


def measured(paths: list[str]) -> dict:
    """``{(arch, size): Rate}`` from bench/train.py JSON files: the packed rate with the most runs at once."""
    rates, fixed = {}, None
    benches = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        benches += data if isinstance(data, list) else [data]
    for bench in benches:  # a run's fixed cost, measured with one backbone, serves every one
        fixed = (bench.get("fixed_cost") or {}).get("next run (crops cached)") or fixed
    for bench in benches:
        for row in bench["rows"]:
            packed = {int(k): v for k, v in (row.get("packed") or {}).items()}
            k = max(packed) if packed else 1
            total = packed.get(k, row["loop"])
            rate = Rate(total / k, k, how=f"measured: {k} packed, {total:,.0f} img/s in all")
            if fixed:
                rate.setup, rate.validation, rate.final = fixed["setup"], fixed["validation"], fixed["final"]
            rates[(row["arch"], row["size"])] = rate
    return rates


def assumed(rates: dict, spec: str, size: int) -> Rate:
    """``OTHER``, ``OTHER*f`` or ``OTHER/f``: a measured backbone's rate at ``size``, scaled."""
    m = re.fullmatch(r"([a-z0-9_]+)(?:([*/])([0-9.]+))?", spec)
    if not m or (m.group(1), size) not in rates:
        raise SystemExit(f"--assume {spec!r}: expected a backbone measured at {size} px, optionally *f or /f")
    base = rates[(m.group(1), size)]
    f = float(m.group(3) or 1.0)
    f = f if m.group(2) != "/" else 1 / f
    return Rate(base.ips * f, base.k, base.setup, base.validation, base.final, how=f"assumed: {spec}")


def rate_of(c, args, rates: dict) -> Rate:
    if (c.arch, c.input_size) in rates:
        return rates[(c.arch, c.input_size)]
    if c.arch in args.assume:
        rates[(c.arch, c.input_size)] = assumed(rates, args.assume[c.arch], c.input_size)
        return rates[(c.arch, c.input_size)]
    ips = args.ips.get(c.arch, CPU_IPS.get(c.arch) if not args.bench else None)
    if ips is None:
        raise SystemExit(f"no throughput for {c.arch} at {c.input_size} px: give --ips {c.arch}=N or --assume")
    rates[(c.arch, c.input_size)] = Rate(ips, 1, args.overhead, how="given" if c.arch in args.ips else "CPU table")
    return rates[(c.arch, c.input_size)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--bench", nargs="*", default=[], help="bench/train.py --json files (measured rates)")
    ap.add_argument("--ips", nargs="*", default=[], metavar="ARCH=IMG_PER_S", help="throughput of one run")
    ap.add_argument("--assume", nargs="*", default=[], metavar="ARCH=OTHER[*f|/f]", help="a measured rate, scaled")
    ap.add_argument("--overhead", type=float, default=6.0, help="fixed seconds per run not measured (default 6)")
    ap.add_argument("--stored", choices=("none", "others", "all"), default="none",
                    help="leave out runs stored: none; in the other committed stores; in every store")
    ap.add_argument("--records", nargs="*", default=[], metavar="STORE", help="run stores whose records set the pace")
    ap.add_argument("--cpu", default=None, help="with --records: only runs on a processor whose name has this")
    ap.add_argument("--flag", default=None,
                    help="with --records: only runs on a CPU with this flag (amx_bf16; !amx_bf16: without it)")
    args = ap.parse_args(argv)
    args.ips = {k: float(v) for k, v in (x.split("=") for x in args.ips)}
    args.assume = dict(x.split("=") for x in args.assume)
    rates = measured(args.bench)
    if args.records:
        paced = recorded(args.records, args.cpu, args.flag)
        rates.update(paced)
        if not paced:
            raise SystemExit(f"--records {' '.join(args.records)}: no CPU run with timings"
                             f"{' on ' + args.cpu if args.cpu else ''}{' with ' + args.flag if args.flag else ''}")
    with tempfile.TemporaryDirectory() as empty:
        use_stores(args.profile, args.stored, empty)
        finals, tunes = runs_of(args.profile)
    by = Counter()
    for c in finals:
        by[f"{c.dataset} {c.arch} {c.input_size} px, {c.synth_scale:g} of the release"] += \
            rate_of(c, args, rates).seconds(n_train(c) * c.epochs, c.epochs) / 60
    total = sum(by.values())
    tuned = sum(rate_of(t, args, rates).seconds(n_train(t) * t.epochs, t.epochs) for t in tunes) / 60
    print(f"profile {args.profile} (stored runs left out: {args.stored}): {len(finals)} runs, {total:.1f} min; "
          f"{len(tunes)} tuning runs, {tuned:.1f} min; "
          f"total {total + tuned:.1f} min ({(total + tuned) / 60:.1f} h) of device time")
    for k, v in by.most_common():
        print(f"  {k}: {v:.1f} min")
    for (arch, size), r in sorted(rates.items()):
        print(f"  rate {arch} at {size} px: {r.ips:,.0f} img/s per run, {r.k} at once, fixed {r.setup:.1f} s + "
              f"{r.validation:.2f} s/epoch + {r.final:.2f} s ({r.how})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
