"""Execute every notebook with papermill, optionally re-check them with nbval, then write the report.

    python ci/run_notebooks.py --profile quick --out results          # the main job
    python ci/run_notebooks.py --profile smoke --out ci/out --nbval   # CI

Executed copies go to ``OUT/notebooks/``; tables, figures and the report to
``OUT/`` (the notebooks' ``results_dir`` parameter). With ``--nbval`` the
executed copies are re-executed by nbval (``--nbval-lax``: only cells marked
``# NBVAL_CHECK_OUTPUT`` are compared) against a FRESH run store, so the check
retrains every run and fails when a result does not reproduce run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import papermill

REPO = Path(__file__).resolve().parents[1]
# Order matters only for sharing: table1 trains the runs later notebooks reuse.
ORDER = ["table1", "table6", "table4", "table5", "table2", "table3", "figure1", "figure2",
         "supp_ab_sweep", "supp_architectures"]


def notebooks(selected: list[str] | None) -> list[Path]:
    found = {p.stem: p for p in sorted((REPO / "notebooks").glob("*.ipynb"))}
    names = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    if selected:
        missing = sorted(set(selected) - set(found))
        if missing:
            raise SystemExit(f"no notebook named {missing} in notebooks/ (have {sorted(found)})")
        names = [n for n in names if n in selected]
    return [found[n] for n in names]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", help="smoke | quick | paper (default quick)")
    ap.add_argument("--out", default="results", help="folder for executed notebooks, tables, figures, report")
    ap.add_argument("--nbval", action="store_true", help="re-execute the executed copies with nbval --nbval-lax")
    ap.add_argument("--only", nargs="*", help="run only these notebooks (stems)")
    ap.add_argument("--keep-timings", action="store_true",
                    help="leave timings.json as it is (re-drawing tables from stored runs is not a timing)")
    ap.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="extra papermill parameter (YAML value; None or null for None), given to every "
                         "notebook that declares it (e.g. -p data_root_300w /data/300W -p data_root /data/300W)")
    args = ap.parse_args(argv)

    out = (REPO / args.out).resolve()
    executed = out / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    # runs live beside the results they produced (results/runs for the main job, ci/out/runs for CI)
    env.setdefault("ANISO_RUNS_DIR", str(out / "runs"))
    timings = {}
    t_all = time.time()
    nbs = notebooks(args.only)
    for i, nb in enumerate(nbs, 1):
        target = executed / nb.name
        cmd = [sys.executable, "-m", "papermill", str(nb), str(target), "--kernel", "python3", "--cwd", str(REPO),
               "-p", "profile", args.profile, "-p", "results_dir", str(out), "--progress-bar"]
        declared = set(papermill.inspect_notebook(str(nb)))
        for name, value in args.param:  # each notebook gets the parameters it declares (their names differ)
            if name in declared:
                cmd += ["-y", f"{name}: {'null' if value in ('None', 'none') else value}"]
        print(f"[{i}/{len(nbs)}] papermill {nb.name} (profile {args.profile})", flush=True)
        t0 = time.time()
        proc = subprocess.run(cmd, cwd=REPO, env=env)
        timings[nb.stem] = round(time.time() - t0, 1)
        if proc.returncode != 0:
            print(f"FAILED: {nb.name} (executed copy with the error: {target})", flush=True)
            return proc.returncode
        print(f"    done in {timings[nb.stem]:.0f} s", flush=True)
    total = round(time.time() - t_all, 1)
    if args.only and (out / "timings.json").exists():
        # a partial re-run replaces its notebooks' times in the last full run's record
        old = json.loads((out / "timings.json").read_text())
        if old.get("profile") == args.profile:
            timings = {**old["seconds"], **timings}
    record = {"profile": args.profile, "seconds": timings, "total_seconds": round(sum(timings.values()), 1),
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if not args.keep_timings:
        _write_json(out / "timings.json", record)
    subprocess.run([sys.executable, "-m", "aniso.reporting", str(out)], cwd=REPO, env=env, check=True)
    print(f"all notebooks executed in {total:.0f} s", flush=True)

    if args.nbval:
        with tempfile.TemporaryDirectory(prefix="aniso-nbval-runs-") as fresh:
            env_nbval = dict(env, ANISO_RUNS_DIR=fresh)
            cmd = [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider",
                   *[str(executed / nb.name) for nb in nbs]]
            print("nbval: re-executing the executed notebooks against a fresh run store", flush=True)
            proc = subprocess.run(cmd, cwd=REPO, env=env_nbval)
            if proc.returncode != 0:
                return proc.returncode
    return 0


def _write_json(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
