"""Synthetic benchmark: parametric faces rendered into the real 300W, WFLW and AFLW release formats."""

from .generator import *  # noqa: F401,F403
from .generator import __all__  # noqa: F401
