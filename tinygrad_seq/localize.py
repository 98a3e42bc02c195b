"""Deprecated: this module is now `tinygrad_seq.localization` (`Localisation` is spelt `Localization`).

Kept for one release so that ``from tinygrad_seq.localize import ...`` still works; importing it warns.
``tinygrad_seq.localize`` itself is the function.
"""

from .deprecated import module_moved
from .localization import Localization, NodeCheck, localize

Localisation = Localization

__all__ = ["Localisation", "NodeCheck", "localize"]

module_moved(__name__, "tinygrad_seq.localization", calls=localize)
