"""Old names kept for one release: using one warns (DeprecationWarning) and says what replaces it.

A renamed module keeps a small file under its old name that re-exports the new module's names and calls
`module_moved` (``tinygrad_seq/gradcheck.py`` -> `tinygrad_seq.gradient_check`); a renamed attribute or
function calls `warn_renamed` where it is used. README's changelog lists every renamed name.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_renamed("old_name", "new_name", stacklevel=2)
    >>> str(caught[0].message)
    'old_name is deprecated and will be removed in the next release: use new_name'
"""

from __future__ import annotations

import sys
import types
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["module_moved", "warn_renamed"]


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that `old` is deprecated in favour of `new`; `stacklevel` 3 points at the caller's caller."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release: use {new}",
                  DeprecationWarning, stacklevel=stacklevel)


class _CallableModule(types.ModuleType):
    """An old module path that shares its name with a function: calling the module calls the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__dict__["_calls"](*args, **kwargs)


def module_moved(old: str, new: str, calls: Callable[..., Any] | None = None) -> None:
    """Warn, when the shim module `old` is imported, that its names now live in module `new`.

    ``calls``: the function named like the old module (``tinygrad_seq.gradcheck``). Importing a submodule
    sets it as an attribute of its package, which would hide the package's function of the same name; the
    old module is made callable instead, so ``tinygrad_seq.gradcheck(...)`` keeps working after it.
    """
    # levels: warn_renamed, module_moved, the shim module, then the import statement (importlib's own
    # frames are skipped by `warnings`)
    warn_renamed(f"the module {old}", f"{new} (the same names)", stacklevel=4)
    if calls is not None:
        module = sys.modules[old]
        module._calls = calls  # type: ignore[attr-defined]
        module.__class__ = _CallableModule
