"""Execute every notebook with papermill, optionally re-check them with nbval, then write the report.

    python ci/run_notebooks.py --profile default --out results      # the main job (make reproduce)
    python ci/run_notebooks.py --profile smoke --out ci/out --nbval table4 figure2  # CI
    python ci/run_notebooks.py --profile paper --workers 8          # runs first, 8 at once, through Ray

Executed copies go to ``OUT/notebooks/``; tables, figures, the report and new
runs to ``OUT/`` (the notebooks' ``results_dir``). Saved copies keep no
progress bars, no timestamps and no paths of this machine, so re-running
with every run stored rewrites them byte for byte. ``OUT/timings.json`` is
written only by an invocation that trained something: it describes the run
that made the numbers. With ``--nbval [NOTEBOOK ...]`` the executed copies (all, or those named) are re-executed
by nbval (``--nbval-lax``: only cells marked ``# NBVAL_CHECK_OUTPUT`` are
compared) against a FRESH run store, so the check retrains every run and
fails when a result does not reproduce run to run. With ``--workers N`` or
``--ray-address ADDR`` every run the selected notebooks need is tuned and
trained first, in parallel through Ray (:func:`train_parallel`); the notebooks
then find them stored.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import papermill

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))
from aniso import experiments, notebook  # noqa: E402
from aniso.files import atomic_write  # noqa: E402
from aniso.runs import get_profile  # noqa: E402
from aniso.runs.profiles import is_available, use_results_store  # noqa: E402

# What a saved notebook keeps of its stderr: progress bars (tqdm redraws a line with carriage returns and
# cursor moves) and tqdm's note that ipywidgets is missing are dropped; warnings and messages stay.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BAR = re.compile(r"\d+%\||\d+/\d+ \[|it/s\]|s/it\]|IProgress not found|from \.autonotebook import")


def notebooks(selected: list[str] | None, profile: str = "default") -> list[Path]:
    """The notebooks ``selected``, or those the profile runs (:func:`aniso.experiments.for_profile`), in the suite's
    order; notebooks/ holding a notebook that no experiment declares fails here."""
    found = {p.stem: p for p in sorted((REPO / "notebooks").glob("*.ipynb"))}
    undeclared = sorted(set(found) - set(experiments.EXPERIMENTS))
    if undeclared:
        raise SystemExit(f"notebooks/ holds {undeclared}, which no experiment declares: add an Experiment to "
                         f"aniso.experiments.EXPERIMENTS (docs/ARCHITECTURE.md, 'How to add a notebook')")
    if selected:
        missing = sorted(set(selected) - set(found))
        if missing:
            raise SystemExit(f"no notebook named {missing} in notebooks/ (have {sorted(found)})")
        return [found[n] for n in experiments.NOTEBOOKS if n in selected]
    return [found[n] for n in experiments.for_profile(profile) if n in found]


def check_params(nbs: list[Path], params: list[tuple[str, str]]) -> dict[Path, set]:
    """Each notebook's declared parameters; an ``-p`` name that no selected notebook declares fails now."""
    declared = {nb: set(papermill.inspect_notebook(str(nb))) for nb in nbs}
    known = set().union(*declared.values()) if declared else set()
    unknown = sorted({name for name, _ in params} - known)
    if unknown:
        raise SystemExit(f"unknown notebook parameter(s) {unknown}: the selected notebooks take {sorted(known)}")
    return declared


def _clean_stderr(text: str) -> str:
    lines = [line.rsplit("\r", 1)[-1] for line in _ANSI.sub("", text).split("\n")]
    return "".join(f"{line}\n" for line in lines if line.strip() and not _BAR.search(line))


def _clean_outputs(outputs: list) -> list:
    """Consecutive stream outputs merged (papermill splits them), stderr without progress bars."""
    merged: list = []
    for out in outputs:
        if out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream" \
                and merged[-1]["name"] == out["name"]:
            merged[-1]["text"] += "".join(out["text"])
        else:
            merged.append(dict(out, text="".join(out["text"])) if out.get("output_type") == "stream" else out)
    for out in merged:
        if out.get("output_type") == "stream" and out["name"] == "stderr":
            out["text"] = _clean_stderr(out["text"])
    return [o for o in merged if o.get("output_type") != "stream" or o["text"]]


def clean_notebook(path: Path) -> None:
    """Drop progress bars, execution metadata, random cell ids and this machine's paths from an executed notebook."""
    nb = json.loads(path.read_text())
    nb["metadata"].pop("papermill", None)
    for cell in nb["cells"]:
        if "injected-parameters" in cell["metadata"].get("tags", []):
            cell["id"] = "injected-parameters"  # papermill draws a random id each run: a re-run would differ
        cell["metadata"].pop("papermill", None)
        cell["metadata"].pop("execution", None)
        if cell["cell_type"] == "code":
            cell["outputs"] = _clean_outputs(cell["outputs"])
    text = json.dumps(nb, indent=1, ensure_ascii=False).replace(str(REPO), "<repo>") + "\n"
    atomic_write(path, text)


def _stored_runs(store: Path) -> int:
    return len(list(store.glob("*.json"))) + len(list((store / "tuning").glob("*.json")))


def run_all(nbs: list[Path], declared: dict, args, out: Path, env: dict, timings: dict) -> None:
    """Execute the notebooks in order, each one's seconds into ``timings``; stop at the first that fails."""
    for i, nb in enumerate(nbs, 1):
        target = out / "notebooks" / nb.name
        # a folder inside the repository goes in relative to it: the saved notebook names no path of this machine
        where = os.path.relpath(out, REPO) if out.is_relative_to(REPO) else str(out)
        cmd = [sys.executable, "-m", "papermill", str(nb), str(target), "--kernel", "python3", "--cwd", str(REPO),
               "-p", "profile", args.profile, "-p", "results_dir", where, "--log-output", "--no-progress-bar"]
        for name, value in args.param:  # each notebook gets the parameters it declares
            if name in declared[nb]:
                cmd += ["-y", f"{name}: {'null' if value in ('None', 'none') else value}"]
        print(f"[{i}/{len(nbs)}] papermill {nb.name} (profile {args.profile})", flush=True)
        t0 = time.time()
        proc = subprocess.run(cmd, cwd=REPO, env=env)
        timings[nb.stem] = round(time.time() - t0, 1)
        if target.exists():
            clean_notebook(target)
        if proc.returncode != 0:
            raise SystemExit(f"FAILED: {nb.name} (executed copy with the error: {target})")
        print(f"    done in {timings[nb.stem]:.0f} s", flush=True)


def train_parallel(nbs: list[Path], args, env: dict) -> int:
    """``--workers`` / ``--ray-address``: before the notebooks run, tune and train every run they need through Ray.

    Each selected notebook is planned with the parameters papermill will give it (its declared defaults, the
    profile, the ``-p`` values it declares); all learning-rate grids are then one parallel sweep and all final
    runs (each distinct configuration once) another, into the same store the notebooks read. Returns the number
    of distinct runs.
    """

    import yaml  # heavy (yaml): loaded where it is used  # noqa: PLC0415


    os.environ.update({k: env[k] for k in ("ANISO_RUNS_DIR", "ANISO_READ_RUNS", "GOMP_SPINCOUNT")})
    plans = {}
    for nb in nbs:
        declared = papermill.inspect_notebook(str(nb))
        params = {name: ast.literal_eval(p["default"]) for name, p in declared.items()}
        params.update({name: yaml.safe_load(f"v: {'null' if value in ('None', 'none') else value}")["v"]
                       for name, value in args.param if name in declared})
        plans[nb.stem] = notebook.plan_arguments({**params, "profile": args.profile})
    where = f"the Ray cluster at {args.ray_address}" if args.ray_address else f"{args.workers} local workers"
    print(f"tuning and training the runs of {len(plans)} notebook(s) through {where}", flush=True)
    n = experiments.prepare(plans, workers=args.workers, ray_address=args.ray_address)
    print(f"    {n} runs stored", flush=True)
    return n


def record_timings(out: Path, profile: str, seconds: dict, total: float, trained: int, resumed: bool) -> None:
    """``OUT/timings.json``: the invocations that trained the store's runs (an invocation that finds them all
    stored writes nothing). One that adds to a store it found partly filled (a resumed ``make reproduce``) is
    appended to the earlier ones, so that the total is what training all of them took."""
    path = out / "timings.json"
    earlier = json.loads(path.read_text()) if resumed and path.exists() else {}
    runs = [r for r in earlier.get("invocations", []) if earlier.get("profile") == profile]
    runs.append({"seconds": seconds, "total_seconds": total, "new_runs": trained,
                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    record = {"profile": profile, "invocations": runs, "total_seconds": round(sum(r["total_seconds"] for r in runs), 1)}
    atomic_write(path, json.dumps(record, indent=1) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default", help="a profile of aniso.runs.PROFILES: smoke, default, long, "
                    "converged, paper, calibration, long-calibrated, ... (default: default)")
    ap.add_argument("--out", default="results", help="folder for executed notebooks, tables, figures, runs, report")
    ap.add_argument("--nbval", nargs="*", default=None, metavar="NOTEBOOK",
                    help="re-execute the executed copies with nbval --nbval-lax against a fresh run store "
                         "(all of them, or the notebooks named)")
    ap.add_argument("--only", nargs="*", help="run only these notebooks (stems; default: the profile's notebooks, "
                    "aniso.experiments.for_profile: the long profile's six, the calibration profile's one, or all)")
    ap.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="extra papermill parameter (YAML value; None or null for None), given to every notebook "
                         "that declares it (e.g. -p data_root_300w /data/300W)")
    ap.add_argument("--workers", type=int, help="train the runs first, this many at once, through a local Ray "
                    "cluster (default: serial, in the notebooks, without Ray)")
    ap.add_argument("--ray-address", help="train the runs first on this running Ray cluster (host:port, or auto)")
    ap.add_argument("--runs-per-gpu", type=int, help="with --workers / --ray-address: runs sharing each GPU "
                    "(one run of a small model leaves most of a large GPU idle; default 1)")
    args = ap.parse_args(argv)
    if args.runs_per_gpu is not None:
        if args.runs_per_gpu < 1:
            raise SystemExit(f"--runs-per-gpu {args.runs_per_gpu} is invalid: expected a positive integer")
        os.environ["ANISO_RUNS_PER_GPU"] = str(args.runs_per_gpu)


    get_profile(args.profile)
    if not is_available(args.profile):  # before anything is written
        raise SystemExit(f"profile {args.profile!r} runs on the annotation-error model the calibration chose, and it "
                         "has chosen none yet: run `make calibrate` through its second stage first "
                         "(docs/CALIBRATION.md)")
    out = (REPO / args.out).resolve()
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    nbs = notebooks(args.only, args.profile)
    declared = check_params(nbs, args.param)
    store = out / "runs"
    os.environ.pop("ANISO_RUNS_DIR", None)
    use_results_store(out)  # new runs into OUT/runs; any committed store's runs are found, not trained again
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg",
               GOMP_SPINCOUNT=os.environ.get("GOMP_SPINCOUNT", "1000"))
    before = _stored_runs(store)
    t_all = time.time()
    timings: dict = {}
    try:
        if args.workers is not None or args.ray_address is not None:
            train_parallel(nbs, args, env)
        run_all(nbs, declared, args, out, env, timings)
    finally:  # an invocation that fails half-way still trained what it trained: its time counts too
        trained = _stored_runs(store) - before
        if trained > 0:
            record_timings(out, args.profile, timings, round(time.time() - t_all, 1), trained, resumed=before > 0)
    subprocess.run([sys.executable, "-m", "aniso.reporting", str(out)], cwd=REPO, env=env, check=True)
    print(f"all notebooks executed in {time.time() - t_all:.0f} s ({trained} new runs and tunings)", flush=True)

    if args.nbval is not None:
        checked = [nb for nb in nbs if not args.nbval or nb.stem in args.nbval]
        with tempfile.TemporaryDirectory(prefix="aniso-nbval-runs-") as fresh:
            env_nbval = dict(env, ANISO_RUNS_DIR=fresh, ANISO_READ_RUNS="")
            cmd = [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider",
                   *[str(out / "notebooks" / nb.name) for nb in checked]]
            print("nbval: re-executing the executed notebooks against a fresh run store", flush=True)
            return subprocess.run(cmd, cwd=REPO, env=env_nbval).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
