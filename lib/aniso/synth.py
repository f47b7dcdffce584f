"""``python -m aniso.synth``: the synthetic-benchmark CLI under its old name (see :mod:`aniso.synthetic.cli`)."""
from .synthetic.cli import main
if __name__ == "__main__":
    raise SystemExit(main())
