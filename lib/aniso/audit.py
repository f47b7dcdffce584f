"""What the report says about the runs behind it: versions, devices, learning-rate tuning, a seed-split audit.

Each function reads the run records named by the report's sections (``meta["runs"]``) from the run store and
returns Markdown lines for the report (:func:`aniso.reporting.build_report`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np

from . import stats
from .data import dataset_spec
from .runs.store import RunRecord, find

__all__ = ["run_ids", "version_lines", "tuning_lines", "seed_split_lines"]


def run_ids(sections: list[dict]) -> list[str]:
    """Every run the sections drew, once, in order."""
    return list(dict.fromkeys(rid for s in sections for rid in s.get("meta", {}).get("runs", [])))


def _metas(ids: list[str]) -> list[dict]:
    out = []
    for rid in ids:
        d = find(rid)
        if d is not None:
            out.append(json.loads((d / f"{rid}.json").read_text()))
    return out


def version_lines(sections: list[dict]) -> list[str]:
    """The library versions, devices and precisions behind the numbers (one line per distinct set)."""
    metas = _metas(run_ids(sections))
    if not metas:
        return []
    sets = Counter(json.dumps(m["provenance"]["versions"], sort_keys=True) for m in metas)
    lines = [f"- {n} runs with " + ", ".join(f"{k} {v}" for k, v in json.loads(vs).items())
             for vs, n in sets.most_common()]
    devices = Counter(f"{m['provenance']['device']} ({m['provenance'].get('cpu', '?')}), "
                      f"{m['provenance'].get('precision', '?')}, {m['provenance']['torch_threads']} threads"
                      for m in metas)
    lines += [f"- {n} runs on {dev}" for dev, n in devices.most_common()]
    commits = Counter(m["provenance"]["commit"] for m in metas)
    lines.append("- Code: commit " + ", ".join(f"{c} ({n} runs)" for c, n in commits.most_common()))
    return lines


def tuning_lines(sections: list[dict]) -> list[str]:
    """How the learning rates were chosen: one line per (loss, optimiser, backbone) behind the numbers, with every
    rate the search scored and whether the chosen one has worse neighbours on both sides."""
    seen = {}
    for m in _metas(run_ids(sections)):
        t = m.get("lr_tuning")
        if t is not None:
            seen[t["key"]] = (m["config"]["loss"], m["config"]["optimizer"], m["config"]["loss_params"], t)
    if not seen:
        return ["- Learning rates: given by the profile, not tuned."]
    budgets = sorted({(opt, t["epochs"]) for _, opt, _, t in seen.values()})
    any_t = next(iter(seen.values()))[3]
    lines = [f"- Learning rates: searched for each loss, optimiser and backbone on the validation split of "
             f"{any_t['dataset']}, with the same budget for every loss ("
             + ", ".join(f"{opt}: {e} epoch(s)" for opt, e in budgets) + "; test subsets untouched), outward from the "
             "profile's grid until the chosen rate has a worse neighbour on both sides:"]
    for loss, opt, params, t in sorted(seen.values(), key=lambda x: (x[1], x[0], x[3].get("arch", ""))):
        scores = ", ".join(f"{lr:g}: {'diverged' if not np.isfinite(s) else f'{100 * s:.2f}%'}"
                           for lr, s in zip(t["grid"], t["scores"]))
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
        where = "bracketed" if t.get("bracketed") else "NOT bracketed (the search stopped at its limit)"
        lines.append(f"  - {loss}{f' ({shown})' if shown else ''}, {opt}, {t.get('arch', 'resnet18')}: lr "
                     f"{t['chosen']:g}, {where} (validation NME {scores})")
    unbracketed = sum(not t.get("bracketed") for *_, t in seen.values())
    if unbracketed:
        lines.append(f"  - {unbracketed} of {len(seen)} chosen rates have no worse neighbour on one side: the best "
                     "rate may lie beyond the search's reach.")
    return lines


def seed_split_lines(sections: list[dict]) -> list[str]:
    """The seed-split audit: every configuration's seeds split in halves and compared both ways (unpaired);
    any decisive verdict is a false one, and at most 5% may be."""
    groups: dict = defaultdict(list)
    for m in _metas(run_ids(sections)):
        key = json.dumps({k: v for k, v in m["config"].items() if k != "seed"}, sort_keys=True)
        groups[key].append(m["id"])
    results = []
    for ids in groups.values():
        if len(ids) < 2:
            continue
        recs = [RunRecord.load(rid) for rid in sorted(ids)]
        subset, norm = dataset_spec(recs[0].config.dataset).primary
        if recs[0].config.evaluate != "test":
            continue
        x = 100 * np.stack([r.nmes(subset, norm) for r in recs])
        results += list(stats.seed_split_audit(x))
    if not results:
        return []
    decisive = sum(r.decisive for r in results)
    sizes = sorted({(r.n_a, r.n_b) for r in results})
    return [f"- Seed-split audit of the store: every configuration's seeds split in two halves "
            f"({', '.join(f'{a} vs {b}' for a, b in sizes)} runs) and compared both ways with the unpaired rule: "
            f"{decisive} of {len(results)} verdicts decisive ({100 * decisive / len(results):.1f}%; a calibrated rule "
            f"allows at most 5%, and with one run on a side it cannot decide at all)."]
