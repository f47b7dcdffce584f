"""bench/budget.py: what a profile costs from an empty store of its own, at the pace of the runner's records."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from aniso.runs import config_id
from aniso.runs.store import read_dirs

REPO = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("budget", REPO / "bench" / "budget.py")
budget = sys.modules.setdefault("budget", importlib.util.module_from_spec(SPEC))  # its dataclass looks itself up
SPEC.loader.exec_module(budget)


def _record(folder: Path, name: str, cpu: str, flags: list[str], ips: float, setup: float, device="cpu"):
    meta = {"id": name, "history": [], "metrics": {}, "config": {"arch": "resnet18", "input_size": 64, "epochs": 10},
            "provenance": {"device": device, "cpu": cpu, "kernels": {"cpu_flags": flags}},
            "timing": {"setup": setup, "steps": 100.0, "validation": 5.0, "final": 1.0}, "images_per_second": ips}
    (folder / f"{name}.json").write_text(json.dumps(meta))


def test_the_pace_is_the_median_of_the_chosen_processors_runs(tmp_path):
    _record(tmp_path, "a", "AMD EPYC 9B14", ["avx2", "avx512f"], 300.0, 2.0)
    _record(tmp_path, "b", "AMD EPYC 9B14", ["avx2", "avx512f"], 280.0, 4.0)
    _record(tmp_path, "c", "AMD EPYC 9B14", ["avx2", "avx512f"], 260.0, 9.0)
    _record(tmp_path, "d", "Intel(R) Xeon(R) Processor", ["avx512f", "amx_bf16"], 150.0, 1.0)
    _record(tmp_path, "e", "Intel(R) Xeon(R) Processor", ["avx512f"], 95.0, 1.0)
    _record(tmp_path, "f", "AMD EPYC 9B14", ["avx2"], 5000.0, 1.0, device="cuda")  # a GPU run sets no CPU pace
    epyc = budget.recorded([str(tmp_path)], "amd epyc", None)[("resnet18", 64)]
    assert (epyc.ips, epyc.setup, epyc.validation, epyc.final) == (280.0, 4.0, 0.5, 1.0)
    assert "median of 3 runs" in epyc.how
    assert budget.recorded([str(tmp_path)], "Xeon", "amx_bf16")[("resnet18", 64)].ips == 150.0
    assert budget.recorded([str(tmp_path)], "Xeon", "!amx_bf16")[("resnet18", 64)].ips == 95.0
    assert budget.recorded([str(tmp_path)], None, None)[("resnet18", 64)].ips == 260.0  # five CPU runs
    assert budget.recorded([str(tmp_path)], "Apple", None) == {}


def test_records_that_match_nothing_stop_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no CPU run with timings on Apple"):
        budget.main(["--profile", "smoke", "--records", str(tmp_path), "--cpu", "Apple"])


def _priced(profile: str, stored: str, tmp_path) -> tuple[set, set]:
    budget.use_stores(profile, stored, tmp_path)
    finals, tunes = budget.runs_of(profile)
    return {config_id(c) for c in finals}, {config_id(t) for t in tunes}


@pytest.fixture
def keep_store(monkeypatch):
    for var in ("ANISO_RUNS_DIR", "ANISO_READ_RUNS"):
        monkeypatch.delenv(var, raising=False)  # use_stores sets them; monkeypatch restores them after the test


def test_from_an_empty_store_of_its_own_the_runs_other_stores_hold_are_not_priced(tmp_path, keep_store):
    everything, all_tunes = _priced("long-calibrated", "none", tmp_path)
    from_empty, tunes = _priced("long-calibrated", "others", tmp_path)
    assert tmp_path.resolve() in [d.resolve() for d in read_dirs()]
    calibration = {p.stem for p in (REPO / "results-calibration" / "runs").glob("*.json")}
    assert tunes < all_tunes and not from_empty & calibration
    assert len(everything) - len(from_empty) == 15  # the five baselines' first three seeds are the calibration's
    left, left_tunes = _priced("long-calibrated", "all", tmp_path)  # the committed store is complete
    assert not left and not left_tunes
