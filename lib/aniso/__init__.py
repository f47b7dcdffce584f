"""aniso: reproduction suite for "Not All Points Are Created Equal".

Modules, in import order (a module only imports those before it):
``topology`` -> ``losses``, ``metrics``, ``sampling`` -> ``data``, ``models``
-> ``experiments`` -> ``reporting`` / ``plots``.
"""

__version__ = "0.1.0"
