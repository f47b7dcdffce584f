"""Print what the committed default store's verdicts write into committed files (``python tests/render_verdicts.py``).

Every claim of the default regime is judged from ``results/runs`` (nothing trains) and written through the same
serialisers as the report's sections: :func:`aniso.reporting.section_json` and each verdict's Markdown. Figure 1's
geometry claims read the synthetic data sets, generated afresh into ``ANISO_CACHE`` when they are not there; the
300W ones are left out to keep the generation short (300W is the largest set: WFLW and AFLW exercise the same
code). ``tests/test_stated_precision.py`` runs this under different numpy SIMD settings and compares the bytes.
"""

from __future__ import annotations

import sys


def _kept(claim) -> bool:
    from aniso.claims import cells_of

    return not (claim.notebook == "figure1" and any(k.startswith("300w/") for k in cells_of(claim)))


def main() -> None:
    from aniso import regimes
    from aniso.writers import section_json
    from aniso.verdicts import Verdict

    verdicts, _ = regimes.regime_verdicts(regimes.REGIMES[0], keep=_kept)
    judged = [v for _, v in verdicts.values() if isinstance(v, Verdict)]
    sys.stdout.write(section_json("default", "every verdict of the default store", judged) + "\n")
    sys.stdout.write("\n".join(v.markdown() for v in judged) + "\n")


if __name__ == "__main__":  # data generation spawns worker processes, which import this file again
    main()
