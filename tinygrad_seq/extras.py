"""Optional dependencies: import one, or say in one line which extra of the package installs it.

The core needs NumPy only. Each optional package belongs to an extra of the distribution (``viz``: pictures
of graphs, ``lm``: progress bars, loss curves and weight export, ``test``: property-test helpers); a feature
that needs a missing one raises `MissingExtra` naming the extra, and everything else keeps working.

    >>> figure = require("matplotlib.figure", "the loss curve")  # doctest: +SKIP
    MissingExtra: the loss curve needs matplotlib, which is not installed: pip install "tinygrad-seq[lm]"
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtra", "install_hint", "require"]

EXTRAS = {"graphviz": "viz", "matplotlib": "lm", "tqdm": "lm", "safetensors": "lm",
          "hypothesis": "test"}


class MissingExtra(ImportError):
    """An optional package is not installed; the message names the extra that installs it."""


def install_hint(package: str) -> str:
    """The pip command that installs `package` with this project, e.g. ``pip install "tinygrad-seq[lm]"``."""
    return f'pip install "tinygrad-seq[{EXTRAS[package]}]"'


def require(module: str, feature: str) -> ModuleType:
    """Import `module` (``"matplotlib.figure"``), or raise `MissingExtra` naming `feature` and the extra."""
    package = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name is not None and error.name.partition(".")[0] != package:
            raise  # the package is there but one of its own dependencies is broken: show the real error
        raise MissingExtra(f"{feature} needs {package}, which is not installed: {install_hint(package)}",
                           name=package) from None
