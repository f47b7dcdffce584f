"""Tables beside the paper, table writers, atomic writes, sections and the report, the paper's data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aniso import files, paper, reporting, tables, writers
from aniso.verdicts import Verdict


class FakeRun:
    """The slice of RunRecord that the tables use."""

    def __init__(self, nme, subset="full", norm="inter_pupil", truth=None):
        self.metrics = {subset: {norm: {"nme": nme, **({"nme_truth": truth} if truth is not None else {})}}}


class TestTables:
    def test_fmt_pm(self):
        assert writers.fmt_pm(3.123, 0.2) == "3.12 ± 0.20"
        assert writers.fmt_pm(3.123) == "3.12"
        assert writers.fmt_pm(None) == "-"

    def test_beside_paper_puts_ours_under_each_block(self):
        ours = tables.tidy_runs([FakeRun(0.04), FakeRun(0.05)], "Anisotropic*", "inter_pupil",
                                {"full": ("full", "inter_pupil", "nme")})
        assert ours[0]["mean"] == pytest.approx(4.5)
        t = tables.beside_paper(1, ours, source="ours", columns=["common", "challenging", "full"])
        idx = list(t.index)
        ours_rows = [i for i in idx if i[1] == "ours"]
        assert ours_rows == [("inter_pupil", "ours", "Anisotropic*")]
        pos = idx.index(ours_rows[0])
        assert idx[pos - 1][:2] == ("inter_pupil", "paper") and idx[pos + 1][0] == "inter_ocular"
        assert t.loc[("inter_pupil", "paper", "Anisotropic*"), "full"] == "3.94 ± 0.34"
        assert t.loc[ours_rows[0], "common"] == "-"

    def test_truth_rows_beside_label_rows(self):
        rows = tables.tidy_runs([FakeRun(0.04, truth=0.03), FakeRun(0.05, truth=0.035)], "L2", "b",
                                {"full": ("full", "inter_pupil", "nme")})
        assert [r["method"] for r in rows] == ["L2", "L2" + tables.TRUTH_SUFFIX]
        assert rows[1]["mean"] == pytest.approx(3.25)
        assert len(tables.tidy_runs([FakeRun(0.04)], "L2", "b", {"full": ("full", "inter_pupil", "nme")})) == 1

    def test_write_table_writes_three_formats(self, tmp_path):
        df = pd.DataFrame({"x": [1.0, 2.5], "y": ["3 ± 1", "b"]}, index=pd.Index(["a_b", "c%"], name="row"))
        paths = writers.write_table(df, tmp_path, "t", caption="Cap 5%")
        assert set(paths) == {"md", "csv", "tex"}
        md = paths["md"].read_text()
        assert "| row" in md and "a_b" in md and "2.5" in md
        tex = paths["tex"].read_text()
        assert r"a\_b" in tex and r"c\%" in tex and r"$\pm$" in tex and r"\toprule" in tex and r"Cap 5\%" in tex
        assert pd.read_csv(paths["csv"], index_col=0).loc["c%", "x"] == 2.5
        assert not list(tmp_path.glob(".*"))

    def test_multiindex_gets_one_column_per_level(self, tmp_path):
        t = tables.beside_paper(4, [dict(block="inter_pupil", method="m", column="full", mean=1.0, std=None)],
                                source="ours", columns=["full"])
        header = writers.markdown_table(t).splitlines()[0]
        assert [h.strip() for h in header.strip("|").split("|")] == ["block", "source", "method", "full"]

    def test_atomic_write_leaves_old_file_on_failure(self, tmp_path, monkeypatch):
        p = tmp_path / "f.txt"
        files.atomic_write(p, "old")
        monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError):
            files.atomic_write(p, "new")
        assert p.read_text() == "old"
        assert [q.name for q in tmp_path.iterdir()] == ["f.txt"]

    def test_grid_and_epochs_tables(self):
        g = tables.grid_table([[3.0, 2.0], [1.5, 4.0]], [3.0, 6.0], [1.5, 3.0], "a", "b")
        assert list(g.columns) == ["b=1.5", "b=3"] and tables.argmin2d(g) == (1, 0)
        e = tables.epochs_table({"A": np.array([2.0, np.inf]), "B": np.array([3.0, 4.0])}, first_seed=5)
        assert list(e.columns) == ["seed 5", "seed 6", "mean"] and np.isinf(e.loc["A", "mean"])


class TestReport:
    def test_report_collects_sections_headline_and_counts(self, tmp_path):
        v1 = Verdict("A beats B", "reproduced", "1 vs 2", id="C1.1", headline=True,
                     stats=dict(effect=0.5, ci_low=0.1, ci_high=0.9, mde=0.3, p=0.001, p_other=0.999, mean_a=3.0,
                                mean_b=3.5, paper_a=2.91, paper_b=3.12, paper_effect=0.23, paper_outcome="compatible",
                                kind="better", papers=True))
        v2 = Verdict("C beats D", "inconclusive", "3 vs 3", id="C3.1", headline=True,
                     stats=dict(effect=0.0, ci_low=-0.2, ci_high=0.2, p=0.5, p_other=0.5, paper_effect=0.6,
                                paper_outcome="ruled out", kind="better", papers=True))
        v3 = Verdict("E beats F", "contradicted", "5 vs 4", id="C1.2")
        v4 = Verdict("The same as A beats B", "reproduced", "1 vs 2", id="C1.1", stats=dict(repeat=True))
        g = Verdict("Errors spread along", "reproduced", "1.6", id="G.1", headline=True,
                    stats=dict(effect=0.6, kind="geometry", papers=False))
        meta = {"profile": "default", "data": "synthetic", "method_lines": ["- paired t"],
                "report_lines": ["Regime: something."]}
        writers.write_section(tmp_path, "table4", "Table 4", "body four", [v2, v4], meta=meta)
        writers.write_section(tmp_path, "table1", "Table 1", "body one", [v1, v3], meta=meta)
        writers.write_section(tmp_path, "figure1", "Figure 1", "body fig", [g], meta=meta)
        text = reporting.build_report(tmp_path).read_text()
        assert text.index("body one") < text.index("body four")
        assert "2 reproduced, 1 contradicted, 1 inconclusive" in text  # C1.1 once, though two sections show it
        assert ("| [C1.1](#table1) | A beats B | 2.91 vs 3.12 | 3.00 vs 3.50 | +0.50 [+0.10, +0.90] | points of NME | "
                "**reproduced** | decisive | +0.23 | compatible |") in text
        assert "| **inconclusive** | not decisive | +0.60 | ruled out |" in text
        assert "Of the paper's 3 claims judged here (distinct comparisons), 1 reproduced, 1 were contradicted" in text
        assert "1 of the inconclusive ones rule it out (C3.1)" in text
        own = text[text.index("## The suite's own claims"):]
        assert "| G.1 | Errors spread along | **reproduced** | +0.60 | std ratio - 1 |" in own
        assert "| M |" in own and "not run" in own  # a group of the suite's own without a section says so
        assert "Regime: something." in text and "- paired t" in text

    def test_timings_line_only_from_a_run_that_trained(self, tmp_path):
        writers.write_section(tmp_path, "table1", "Table 1", "body", [], meta={"profile": "default"})
        assert "Wall time" not in reporting.build_report(tmp_path).read_text()
        (tmp_path / "timings.json").write_text(json.dumps({"invocations": [
            {"seconds": {"table1": 60.0}, "total_seconds": 60.0, "new_runs": 3, "finished": "2026-11-27T10:00"},
            {"seconds": {"table2": 60.0}, "total_seconds": 60.0, "new_runs": 2, "finished": "2026-11-27T11:00"}],
            "total_seconds": 120.0}))
        text = reporting.build_report(tmp_path).read_text()
        assert "Wall time of the `make reproduce` that trained these runs: 2.0 min (2 invocations:" in text
        assert "2 runs and tunings in 1.0 min, finished 2026-11-27T11:00" in text

    def test_bad_status_raises(self):
        with pytest.raises(ValueError, match="status"):
            Verdict("c", "not reproduced", "n")


class TestPaper:
    def test_known_values(self):
        assert paper.paper_value(1, "inter_pupil", "Anisotropic*", "full") == (3.94, 0.34)
        assert paper.paper_value(3, "auc10", "AWing (ICCV19)", "blur") == (0.5120, None)
        assert paper.paper_value(6, "nme", "wflw", "smooth_l1") == (6.08, None)

    def test_missing_value_raises(self):
        with pytest.raises(KeyError, match="SHN"):
            paper.paper_value(5, "at8", "SHN (CVPRW17)", "auc")
        with pytest.raises(ValueError):
            paper.paper_table(7)

    def test_every_table_is_complete(self):
        sizes = {1: 16 * 3, 2: 12 * 2 - 6, 3: 7 * 7 * 3, 4: 5 * 3, 5: (6 * 3 - 2) + (6 * 3 - 3), 6: 18}
        for n, size in sizes.items():
            assert len(paper.paper_table(n)) == size, n


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import os

    umask = os.umask(0)
    os.umask(umask)
    p = files.atomic_write(tmp_path / "a.txt", "x")
    assert (p.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_an_unbracketed_tuned_rate_is_flagged(monkeypatch):
    from aniso import audit

    def meta(loss, bracketed):
        t = {"key": loss, "grid": [1e-4, 3e-4, 1e-3], "scores": [0.2, 0.1, float("inf")], "chosen": 3e-4,
             "epochs": 1, "dataset": "300w", "bracketed": bracketed, "arch": "resnet18"}
        return {"config": {"loss": loss, "optimizer": "adam", "loss_params": {}}, "lr_tuning": t}

    monkeypatch.setattr(audit, "_metas", lambda ids: [meta("l2", True), meta("wing", False)])
    lines = audit.tuning_lines([{"meta": {"runs": ["x"]}}])
    assert "adam: 1 epoch(s)" in lines[0]
    assert any("l2, adam, resnet18: lr 0.0003, bracketed" in line for line in lines)
    assert any("wing, adam, resnet18: lr 0.0003, NOT bracketed" in line for line in lines)
    assert "1 of 2 chosen rates" in lines[-1]


def test_the_report_alone_reads_the_store_make_reproduce_gives_it(monkeypatch):
    """`make report` (python -m aniso.reporting DIR) audits DIR/runs and every committed store, as the runner does:
    the long regime's report then counts its own 54 runs, not the 3 it borrows from results/runs."""
    from aniso.runs.profiles import committed_stores, use_results_store
    from aniso.runs.store import REPO_ROOT, read_dirs, runs_dir

    monkeypatch.delenv("ANISO_RUNS_DIR", raising=False)
    monkeypatch.delenv("ANISO_READ_RUNS", raising=False)
    use_results_store(REPO_ROOT / "results-long")  # what python -m aniso.reporting results-long calls
    assert runs_dir() == (REPO_ROOT / "results-long" / "runs").resolve()
    assert {p.resolve() for p in read_dirs()} == {(REPO_ROOT / s).resolve() for s in committed_stores()}
