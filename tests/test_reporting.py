"""Verdicts, tables beside the paper, atomic writes, the report, the paper's data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aniso import files, paper, reporting, tables


class FakeRun:
    """The slice of RunRecord that reporting uses."""

    def __init__(self, nmes, subset="full", norm="inter_pupil", rid="r"):
        self._n = np.asarray(nmes, float)
        self.id = rid
        self.subset, self.norm = subset, norm
        self.metrics = {subset: {norm: {"nme": float(self._n.mean()), "fr@0.1": float((self._n > 0.1).mean())}}}

    def keys(self, subset):
        return np.array([f"img{i}#0" for i in range(len(self._n))])

    def nmes(self, subset, norm):
        return self._n


def runs(base, shift, n_runs, noise, seed):
    rng = np.random.default_rng(seed)
    return [FakeRun(base + shift + rng.normal(0, noise, base.shape), rid=f"r{i}") for i in range(n_runs)]


BASE = np.random.default_rng(0).uniform(0.03, 0.06, 200)


class TestCompare:
    def test_clear_gain_is_reproduced(self):
        v = reporting.compare(runs(BASE, 0.0, 3, 0.001, 1), runs(BASE, 0.005, 3, 0.001, 2), "full", "inter_pupil", "A beats B")
        assert v.status == "reproduced"
        assert v.stats["diff"] == pytest.approx(0.5, abs=0.05)  # percent points
        assert v.stats["ci_low"] > 0 and v.stats["runs_separate"]
        assert "A beats B" in v.markdown() and "reproduced" in v.markdown()

    def test_worse_is_not_reproduced(self):
        v = reporting.compare(runs(BASE, 0.005, 3, 0.001, 1), runs(BASE, 0.0, 3, 0.001, 2), "full", "inter_pupil", "A beats B")
        assert v.status == "not reproduced"
        assert v.stats["diff"] < 0

    def test_gain_within_noise_is_inconclusive(self):
        v = reporting.compare(runs(BASE, 0.0, 3, 0.02, 1), runs(BASE, 0.0005, 3, 0.02, 2), "full", "inter_pupil", "A beats B")
        assert v.status in ("inconclusive", "not reproduced")
        assert v.stats["ci_low"] <= 0 or not v.stats["runs_separate"]

    def test_other_images_raise(self):
        a = runs(BASE, 0, 1, 0, 1)
        b = [FakeRun(BASE[:-1])]
        with pytest.raises(ValueError, match="other images"):
            reporting.compare(a, b, "full", "inter_pupil", "x")

    def test_same_seed_same_interval(self):
        a, b = runs(BASE, 0, 2, 0.01, 1), runs(BASE, 0.001, 2, 0.01, 2)
        v1 = reporting.compare(a, b, "full", "inter_pupil", "x")
        v2 = reporting.compare(a, b, "full", "inter_pupil", "x")
        assert (v1.stats["ci_low"], v1.stats["ci_high"]) == (v2.stats["ci_low"], v2.stats["ci_high"])


class TestEquivalenceAndRuns:
    def test_equal_methods_are_equivalent(self):
        v = reporting.compare_equivalent(runs(BASE, 0, 3, 0.0005, 1), runs(BASE, 0, 3, 0.0005, 2), "full", "inter_pupil", "same")
        assert v.status == "reproduced"

    def test_large_difference_is_not_equivalent(self):
        v = reporting.compare_equivalent(runs(BASE, 0.01, 3, 0.0005, 1), runs(BASE, 0, 3, 0.0005, 2), "full", "inter_pupil", "same")
        assert v.status == "not reproduced"

    def test_compare_runs(self):
        assert reporting.compare_runs([2, 3], [5, 6], "faster", "epochs").status == "reproduced"
        assert reporting.compare_runs([2, 6], [3, 7], "faster", "epochs").status == "inconclusive"
        assert reporting.compare_runs([5, 6], [2, 3], "faster", "epochs").status == "not reproduced"
        v = reporting.compare_runs([2, 3], [np.inf, np.inf], "faster", "epochs")
        assert v.status == "reproduced" and "never" in v.numbers
        # ties and targets never reached decide nothing
        assert reporting.compare_runs([0, 0], [0, 0], "fewer failures", "FR").status == "inconclusive"
        assert reporting.compare_runs([np.inf], [np.inf], "faster", "epochs").status == "inconclusive"
        assert reporting.compare_runs([3, np.inf], [np.inf, np.inf], "faster", "epochs").status == "inconclusive"

    def test_spread_needs_three_runs(self):
        a, b = runs(BASE, 0, 2, 0.01, 1), runs(BASE, 0, 2, 0.0, 2)
        assert reporting.spread_verdict(a, b, "full", "inter_pupil", "wider").status == "inconclusive"
        wide = [FakeRun(BASE + d) for d in (-0.02, 0.0, 0.02, -0.015, 0.018)]
        narrow = [FakeRun(BASE + d) for d in (-0.0001, 0.0, 0.0001, 0.00005, -0.00005)]
        v = reporting.spread_verdict(wide, narrow, "full", "inter_pupil", "wider")
        assert v.status == "reproduced" and v.stats["p_levene"] < 0.05
        assert reporting.spread_verdict(narrow, wide, "full", "inter_pupil", "wider").status == "not reproduced"

    def test_bad_status_raises(self):
        with pytest.raises(ValueError, match="status"):
            reporting.Verdict("c", "maybe", "n")


class TestTables:
    def test_fmt_pm(self):
        assert reporting.fmt_pm(3.123, 0.2) == "3.12 ± 0.20"
        assert reporting.fmt_pm(3.123) == "3.12"
        assert reporting.fmt_pm(None) == "-"

    def test_beside_paper_puts_ours_under_each_block(self):
        ours = tables.tidy_runs([FakeRun(BASE), FakeRun(BASE + 0.01)], "Anisotropic*", "inter_pupil",
                                {"full": ("full", "inter_pupil", "nme")})
        assert ours[0]["mean"] == pytest.approx(100 * (BASE.mean() + 0.005))
        t = tables.beside_paper(1, ours, source="ours", columns=["common", "challenging", "full"])
        idx = list(t.index)
        ours_rows = [i for i in idx if i[1] == "ours"]
        assert ours_rows == [("inter_pupil", "ours", "Anisotropic*")]
        # ours comes after the paper's inter_pupil rows and before the inter_ocular block
        pos = idx.index(ours_rows[0])
        assert idx[pos - 1][:2] == ("inter_pupil", "paper") and idx[pos + 1][0] == "inter_ocular"
        assert t.loc[("inter_pupil", "paper", "Anisotropic*"), "full"] == "3.94 ± 0.34"
        assert t.loc[ours_rows[0], "common"] == "-"

    def test_write_table_writes_three_formats(self, tmp_path):
        df = pd.DataFrame({"x": [1.0, 2.5]}, index=pd.Index(["a_b", "c%"], name="row"))
        paths = reporting.write_table(df, tmp_path, "t", caption="Cap ± 1")
        assert set(paths) == {"md", "csv", "tex"}
        assert "| row | x |" in paths["md"].read_text()
        tex = paths["tex"].read_text()
        assert r"a\_b" in tex and r"c\%" in tex and r"$\pm$" in tex
        assert pd.read_csv(paths["csv"], index_col=0).loc["c%", "x"] == 2.5
        assert not list(tmp_path.glob(".*tmp"))

    def test_atomic_write_leaves_old_file_on_failure(self, tmp_path, monkeypatch):
        p = tmp_path / "f.txt"
        reporting.atomic_write_text(p, "old")
        monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError):
            reporting.atomic_write_text(p, "new")
        assert p.read_text() == "old"
        assert [q.name for q in tmp_path.iterdir()] == ["f.txt"]


class TestReport:
    def test_report_collects_sections_and_counts_verdicts(self, tmp_path):
        v1 = reporting.Verdict("A beats B", "reproduced", "1 vs 2")
        v2 = reporting.Verdict("C beats D", "inconclusive", "3 vs 3")
        reporting.write_section(tmp_path, "table4", "Table 4", "body four", [v2], meta={"profile": "quick", "data": "synthetic"})
        reporting.write_section(tmp_path, "table1", "Table 1", "body one", [v1], meta={"profile": "quick", "data": "synthetic"})
        (tmp_path / "timings.json").write_text(json.dumps({"profile": "quick", "seconds": {"table1": 60}, "total_seconds": 60}))
        text = reporting.build_report(tmp_path).read_text()
        assert text.index("body one") < text.index("body four")
        assert "1 reproduced, 0 not reproduced, 1 inconclusive" in text
        assert "| [table1](#table1) | A beats B | **reproduced** | 1 vs 2 |" in text


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


class TestSweepVerdict:
    def grid(self, shift_b3):
        return {(3.0, 1.5): runs(BASE, 0.0, 1, 0.0002, 1), (3.0, 3.0): runs(BASE, shift_b3, 1, 0.0002, 2)}

    def test_best_at_b3_is_reproduced(self):
        from aniso.figures import sweep_verdict

        assert sweep_verdict(self.grid(-0.003), [3.0], [1.5, 3.0]).status == "reproduced"

    def test_as_good_as_best_is_inconclusive_and_clearly_worse_is_not_reproduced(self):
        from aniso.figures import sweep_verdict

        assert sweep_verdict(self.grid(0.0001), [3.0], [1.5, 3.0]).status == "inconclusive"
        assert sweep_verdict(self.grid(0.01), [3.0], [1.5, 3.0]).status == "not reproduced"

    def test_grid_without_b3(self):
        from aniso.figures import sweep_verdict

        g = {(3.0, 1.5): runs(BASE, 0.0, 1, 0.0, 1)}
        assert sweep_verdict(g, [3.0], [1.5]).status == "inconclusive"


def test_report_states_training_time_of_stored_runs(tmp_path):
    (tmp_path / "runs").mkdir()
    for i, sec in enumerate((60.0, 120.0)):
        (tmp_path / "runs" / f"r{i}.json").write_text(json.dumps({"train_seconds": sec}))
    reporting.write_section(tmp_path, "table1", "Table 1", "body", [], meta={"profile": "quick", "data": "synthetic"})
    text = reporting.build_report(tmp_path).read_text()
    assert "Training time of the 2 stored runs behind this report: 3.0 min" in text
