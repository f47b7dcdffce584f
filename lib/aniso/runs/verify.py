"""Checking run stores: ``python -m aniso.runs verify [STORE ...] [--prune]`` (and ``make verify``).

Every record of each store is loaded and checked as a notebook would load it (:meth:`RunRecord.load`: the JSON
parses, the ``.npz`` opens, the two come in pairs, the per-image arrays agree with the image counts of the
metrics, the id is its configuration's hash under this ``STORE_VERSION`` on the device type and at the precision
the run was made with), its provenance must be complete, and every ``tuning/*.json`` must parse. Any of those
wrong is *damage*: the command exits 1.

It also lists what can be removed safely: claims whose worker died (no heartbeat for longer than the claim
expiry, :mod:`~aniso.runs.claims`), the cache's checkpoints of runs that are stored, and temporary files an
interrupted atomic write left behind (older than the claim expiry: a younger one may be a write in progress).
``--prune`` removes those and nothing else: never a record, never a fresh claim.

Stores: the ones given, or :data:`DEFAULT_STORES` (the committed ones) plus ``scratch/runs`` when it exists;
a default store that does not exist is skipped with a note, a store given that does not exist is an error.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..files import is_temporary
from .claims import claim_expiry, claim_status, stale_reason
from .profiles import committed_stores
from .store import DAMAGE_KINDS, PROVENANCE_FIELDS, REPO_ROOT, DamagedRecord, RunRecord, cache_dir, expected_id
from .tuning import DamagedTuningFile, read_point, read_result

__all__ = ["DEFAULT_STORES", "SCRATCH_STORE", "Finding", "default_stores", "resolve_stores", "verify",
           "check_records", "check_tuning", "check_claims", "check_temporaries", "check_checkpoints", "prune",
           "report", "main"]

#: The committed run stores, relative to the repository root (extend here when a store is added).
DEFAULT_STORES = committed_stores()

#: Where ad-hoc notebook runs write (checked by default when it exists).
SCRATCH_STORE = "scratch/runs"


@dataclass(frozen=True)
class Finding:
    """One entry of a store worth reporting: damage (:data:`~aniso.runs.store.DAMAGE_KINDS`), something safe to
    remove (``safe_to_prune``), or a note (a run in training, a skipped store, an id that cannot be checked)."""

    store: Path
    path: Path
    kind: str
    message: str
    safe_to_prune: bool = False

    @property
    def damage(self) -> bool:
        return self.kind in DAMAGE_KINDS


def default_stores() -> list[Path]:
    """:data:`DEFAULT_STORES` under the repository root, then ``scratch/runs`` when it exists."""
    scratch = REPO_ROOT / SCRATCH_STORE
    return [REPO_ROOT / s for s in DEFAULT_STORES] + ([scratch] if scratch.is_dir() else [])


def resolve_stores(stores: Iterable[str | Path] | None = None) -> tuple[list[Path], list[Finding]]:
    """The store folders to check and a note for each default one skipped; a store given that does not exist
    raises ``FileNotFoundError``."""
    if stores:
        paths = [Path(s) for s in stores]
        for p in paths:
            if not p.is_dir():
                raise FileNotFoundError(f"run store {p} does not exist (or is not a folder): expected a folder of "
                                        f"run records (<id>.json and <id>.npz), e.g. results/runs")
        return paths, []
    found, notes = [], []
    for p in default_stores():
        if p.is_dir():
            found.append(p)
        else:
            notes.append(Finding(p, p, "skipped store", "does not exist (yet): skipped"))
    return found, notes


def verify(stores: Iterable[str | Path] | None = None) -> list[Finding]:
    """Everything worth reporting about ``stores`` (default: :func:`default_stores`) and the cache's checkpoints."""
    paths, findings = resolve_stores(stores)
    stored: dict[str, Path] = {}
    for store in paths:
        records, ids = check_records(store)
        findings += records + check_tuning(store) + check_claims(store)
        findings += check_temporaries(store, [store, store / "tuning"])
        stored.update({rid: store for rid in ids if rid not in stored})
    return findings + check_checkpoints(stored, paths)


def _fresh_claim(store: Path, run_id: str) -> bool:
    age, stale, _ = claim_status(store / "claims" / f"{run_id}.claim")
    return age is not None and not stale


def check_records(store: Path) -> tuple[list[Finding], set[str]]:
    """Damage among the records of ``store``, and the ids of the sound ones."""
    names = [p for p in (*store.glob("*.json"), *store.glob("*.npz")) if not p.name.startswith(".")]
    findings, sound = [], set()
    for stem in sorted({p.stem for p in names}):
        json_path = store / f"{stem}.json"
        if not json_path.exists() and _fresh_claim(store, stem):  # save() writes the arrays, then the json
            findings.append(Finding(store, store / f"{stem}.npz", "in training",
                                    "its arrays are written, its json not yet: the run is being stored"))
            continue
        try:
            record = RunRecord.load(stem, store)
        except DamagedRecord as exc:
            findings.append(Finding(store, exc.path, exc.kind, str(exc)))
            continue
        notes = _record_notes(store, json_path, record.meta)
        findings += notes
        if not any(f.damage for f in notes):
            sound.add(stem)
    return findings, sound


def _record_notes(store: Path, json_path: Path, meta: dict) -> list[Finding]:
    """What a record that loads may still lack: provenance fields; an id that cannot be checked here."""
    out = []
    prov = meta["provenance"] if isinstance(meta["provenance"], dict) else {}
    missing = [f for f in PROVENANCE_FIELDS if f not in prov]
    if missing:
        exc = DamagedRecord(json_path, "missing provenance", f"its provenance lacks {', '.join(missing)}")
        out.append(Finding(store, json_path, exc.kind, str(exc)))
    _, why = expected_id(meta, json_path)
    if why:
        out.append(Finding(store, json_path, "unchecked id", why))
    return out


def check_tuning(store: Path) -> list[Finding]:
    """Tuning results (``<store>/tuning/*.json``) and scores (``tuning/points/*.json``) that do not parse, or whose
    key is not their file name."""

    out = []
    for pattern, read in (("tuning/*.json", read_result), ("tuning/points/*.json", read_point)):
        for p in sorted(store.glob(pattern)):
            if p.name.startswith("."):
                continue
            try:
                read(p)
            except DamagedTuningFile as exc:
                out.append(Finding(store, p, "unreadable tuning file", str(exc)))
    return out


def check_claims(store: Path) -> list[Finding]:
    """Claims in ``<store>/claims/``: stale ones (safe to remove), fresh ones (a run in training)."""
    out = []
    for p in sorted(store.glob("claims/*")):
        if p.suffix not in (".claim", ".takeover"):
            continue
        age, stale, who = claim_status(p)
        if age is None:
            continue
        holder = f"{who.get('host', '?')} pid {who.get('pid', '?')}"
        if stale:
            why = stale_reason(age, claim_expiry())
            out.append(Finding(store, p, "stale claim", f"{why}: its worker ({holder}) died; safe to remove (the run "
                                                        f"resumes from its checkpoint when asked again)", True))
        else:
            out.append(Finding(store, p, "in training", f"run {p.stem} is being trained by {holder} (last heartbeat "
                                                        f"{age:.0f} s ago)"))
    return out


def _temporary(store: Path, p: Path) -> list[Finding]:
    try:
        age = time.time() - p.stat().st_mtime
    except FileNotFoundError:  # its write just finished
        return []
    if age > claim_expiry():
        return [Finding(store, p, "orphan temporary", f"left by a write interrupted {age:.0f} s ago; safe to remove",
                        True)]
    return [Finding(store, p, "being written", f"a write in progress ({age:.0f} s old)")]


def check_temporaries(store: Path, folders: Iterable[Path]) -> list[Finding]:
    """Temporary files (:func:`aniso.files.is_temporary`) in ``folders``: orphans once older than the expiry."""
    return [f for d in folders for p in sorted(d.glob(".*")) if p.is_file() and is_temporary(p)
            for f in _temporary(store, p)]


def check_checkpoints(stored: dict[str, Path], stores: Iterable[Path]) -> list[Finding]:
    """The cache's checkpoints (``cache_dir()/checkpoints/<id>/``) of runs in ``stored`` (``{id: store}``): safe to
    remove unless a fresh claim retrains the run; in the others, orphan temporaries."""
    root = cache_dir() / "checkpoints"
    out: list[Finding] = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if not d.is_dir():
            continue
        if d.name not in stored:
            out += check_temporaries(root, [d])
        elif any(_fresh_claim(s, d.name) for s in stores):
            out.append(Finding(root, d, "in training", f"checkpoint of run {d.name}, stored but retrained now"))
        else:
            out.append(Finding(root, d, "stored checkpoint", f"checkpoint of run {d.name}, which is stored in "
                                                             f"{stored[d.name]}: safe to remove", True))
    return out


def _is_record_file(p: Path) -> bool:
    return p.suffix in (".json", ".npz") and not p.name.startswith(".") and p.parent.name != "tuning"


def prune(findings: Iterable[Finding]) -> list[Path]:
    """Remove what ``findings`` list as safe to remove (never a record); returns what was removed.

    A claim is looked at again just before: one refreshed since (a worker took it over) stays.
    """
    removed = []
    for f in findings:
        if not f.safe_to_prune or _is_record_file(f.path):
            continue
        if f.kind == "stale claim" and not claim_status(f.path)[1]:
            continue
        if f.path.is_dir():
            shutil.rmtree(f.path, ignore_errors=True)
        else:
            f.path.unlink(missing_ok=True)
        removed.append(f.path)
    return removed


def _short(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


def report(findings: list[Finding], stores: Iterable[Path]) -> str:
    """A summary line per store, then per finding a row (kind, DAMAGE / prune / -, file) and its message."""
    lines = []
    for s in stores:
        n = len({p.stem for p in (*s.glob("*.json"), *s.glob("*.npz")) if not p.name.startswith(".")})
        tuned = sum(not p.name.startswith(".") for p in s.glob("tuning/*.json"))
        bad = sum(f.damage for f in findings if f.store == s)
        entries = "entry" if bad == 1 else "entries"
        lines.append(f"{_short(s)}: {n} records, {tuned} tuning results, {bad} damaged {entries}")
    rows = [(f.kind, "DAMAGE" if f.damage else "prune" if f.safe_to_prune else "-", _short(f.path), f.message)
            for f in findings]
    if rows:
        widths = [max(len(r[i]) for r in rows + [("kind", "action", "file", "")]) for i in range(2)]
        lines += ["", f"{'kind'.ljust(widths[0])}  {'action'.ljust(widths[1])}  file (and what is wrong, below it)"]
        for kind, action, path, message in rows:
            lines += [f"{kind.ljust(widths[0])}  {action.ljust(widths[1])}  {path}", f"    {message}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``verify [STORE ...] [--prune]``: print the report; 1 when anything is damaged, 2 for a missing store."""
    parser = argparse.ArgumentParser(prog="python -m aniso.runs verify",
                                     description="Check run stores: every record loads and matches its "
                                                 "configuration; list stale claims, checkpoints of stored runs and "
                                                 "orphan temporary files. Exits 1 when anything is damaged.")
    parser.add_argument("stores", nargs="*", metavar="STORE",
                        help=f"run store folders (default: {', '.join(DEFAULT_STORES)} and {SCRATCH_STORE} "
                             f"when they exist)")
    parser.add_argument("--prune", action="store_true",
                        help="remove what is listed as safe to remove (stale claims, checkpoints of stored runs, "
                             "orphan temporary files); never a record")
    args = parser.parse_args(argv)
    try:
        stores, _ = resolve_stores(args.stores)
    except FileNotFoundError as exc:
        print(f"verify: {exc}", file=sys.stderr)
        return 2
    findings = verify(args.stores)
    print(report(findings, stores))
    if args.prune:
        removed = prune(findings)
        print("\npruned:" if removed else "\npruned: nothing to remove")
        for p in removed:
            print(f"  removed {_short(p)}")
    damaged = sum(f.damage for f in findings)
    print(f"\nverify: {damaged} damaged entr{'y' if damaged == 1 else 'ies'}" if damaged else "\nverify: no damage")
    return 1 if damaged else 0
