"""``python -m aniso.synthetic {300w,wflw,aflw} OUT ...`` (see :mod:`aniso.synthetic.cli`)."""

import sys

from .cli import main

sys.exit(main())
