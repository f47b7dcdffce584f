"""What a profile costs: every run and tuning run the notebooks need, in minutes, from measured throughput.

    python bench/budget.py --profile default                       # two CPU cores (throughput measured here)
    python bench/budget.py --profile paper --ips resnet50=1363 resnet18=2998 densenet121=1363 \\
        wide_resnet50_2=680 --overhead 30                           # one H200 (results-gpu/README.md)

Counts the runs with :func:`aniso.suite.plan` over every notebook (each distinct run once), adds the learning-rate
grids, and prices each run at ``faces x epochs / images-per-second + overhead`` (``--ips`` per backbone at the
profile's input size; ``--overhead`` seconds per run for data, validation and evaluation). It trains nothing.
"""

from __future__ import annotations

import argparse
from collections import Counter

from aniso import suite
from aniso.runs import config_id, tuning
from aniso.synthetic.difficulty import plan as synthetic_plan

# ResNet18 at 64 px: bench/train.py on the development machine (2 cores, bf16); the others at 64 px likewise.
CPU_IPS = {"resnet18": 195.0, "resnet50": 57.0, "densenet121": 53.0, "wide_resnet50_2": 22.0}
TRAIN_FOLDERS = ("afw", "helen/trainset", "lfpw/trainset")


def n_train(c) -> int:
    """Training faces of a synthetic run, the validation split removed."""
    counts = synthetic_plan(c.dataset, c.synth_scale)
    n = sum(counts[f] for f in TRAIN_FOLDERS) if c.dataset == "300w" else counts["train"]
    return n - max(1, round(c.val_fraction * n))


def runs_of(profile: str) -> tuple[list, list]:
    """Every distinct final run and tuning run the notebooks need."""
    finals = {}
    for nb in suite.NOTEBOOKS:
        for cell, cfgs, _ in suite.plan(nb, profile=profile, tune=False, progress=False).values():
            for c in cfgs:
                finals[config_id(c)] = (cell, c)
    tunes = {}
    for cell, c in finals.values():
        for t in tuning.tuning_configs(suite.tuning_base(cell, c), profile):
            tunes[config_id(t)] = t
    return [c for _, c in finals.values()], list(tunes.values())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--ips", nargs="*", default=[], metavar="ARCH=IMG_PER_S", help="throughput per backbone")
    ap.add_argument("--overhead", type=float, default=6.0, help="seconds per run besides training (default 6)")
    args = ap.parse_args(argv)
    ips = dict(CPU_IPS, **{k: float(v) for k, v in (x.split("=") for x in args.ips)})
    finals, tunes = runs_of(args.profile)
    cost = lambda c: n_train(c) * c.epochs / ips[c.arch] + args.overhead  # noqa: E731
    by = Counter()
    for c in finals:
        by[f"{c.dataset} {c.arch} {c.input_size} px, {c.synth_scale:g} of the release"] += cost(c) / 60
    total, tuned = sum(by.values()), sum(cost(t) for t in tunes) / 60
    print(f"profile {args.profile}: {len(finals)} runs, {total:.1f} min; {len(tunes)} tuning runs, {tuned:.1f} min; "
          f"total {total + tuned:.1f} min ({(total + tuned) / 60:.1f} h)")
    for k, v in by.most_common():
        print(f"  {k}: {v:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
