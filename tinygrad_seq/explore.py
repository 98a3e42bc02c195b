"""Deprecated: this module is now `tinygrad_seq.explorer` (`graph.explore` writes the explorer).

Kept for one release so that ``from tinygrad_seq.explore import ...`` still works; importing it warns.
"""

from .deprecated import module_moved
from .explorer import analyse, explore

__all__ = ["analyse", "explore"]

module_moved(__name__, "tinygrad_seq.explorer")
