"""tinygrad_seq: a small NumPy autograd engine for teaching and verifying sequence models.

    >>> from tinygrad_seq import Tensor
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    Tensor([2. 4.])

`ts.nn`, `ts.graph` and `ts.testing` (after ``import tinygrad_seq as ts``) are imported on first use: `nn`
imports the core, so the core cannot import it while it loads, and `graph` / `testing` need extras.
"""

import importlib
import os
from typing import Any

from . import functional, habits
from . import tensor as _tensor_module
from .autograd import (
    AnomalyError,
    FirstOrderOnlyError,
    Function,
    ShapeError,
    current_scope,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    scope,
)
from .gradient_check import GradcheckReport, gradcheck, gradgradcheck
from .localization import localize
from .seeding import manual_seed
from .tags import tag
from .tensor import (
    Tensor,
    arange,
    concatenate,
    eye,
    full,
    full_like,
    matmul,
    maximum,
    minimum,
    ones,
    ones_like,
    rand,
    randn,
    stack,
    where,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

_LAZY = ("nn", "graph", "graph_analysis", "testing")

# NOTE: the package is this folder of a checkout, not the installed tree, whenever the repository root comes
# first on sys.path (`python -m ...`, `python -c`, a notebook started there); nn/ is then beside it, not in
# it, so the root is searched too and `tinygrad_seq.nn` is the checkout's nn/ (the installed tree, a link
# tree in the editable install, holds nn/ inside and needs no help).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not os.path.isdir(os.path.join(__path__[0], "nn")) and \
        os.path.isfile(os.path.join(_ROOT, "nn", "__init__.py")):
    __path__.append(_ROOT)


# `ts.tensor` is the module tensor.py: called like torch.tensor(...), it says to write Tensor(...)
habits.callable_like_torch(_tensor_module, "ts.tensor")


def __getattr__(name: str) -> Any:
    """`ts.nn`, `ts.graph`, `ts.testing`: import the submodule on first use; `ts.cat` and other PyTorch
    names raise, naming the spelling here."""
    if name not in _LAZY:
        raise habits.no_attribute(__name__, name, "ts")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as error:
        if name != "nn" or error.name != f"{__name__}.nn":
            raise
        # nn/ sits beside tinygrad_seq/ in the repository and becomes tinygrad_seq.nn when installed
        raise ModuleNotFoundError(
            "tinygrad_seq.nn is the folder nn/ of the repository, mapped into the package when it is "
            "installed; in a checkout run `pip install -e .` (or `make venv`) first", name=error.name
        ) from None

__all__ = [
    "AnomalyError", "FirstOrderOnlyError", "Function", "ShapeError", "Tensor", "arange", "concatenate",
    "current_scope",
    "detect_anomaly", "enable_grad", "eye", "full", "full_like", "functional", "grad", "is_grad_enabled",
    "matmul", "maximum", "minimum", "no_grad", "ones", "ones_like", "rand", "randn", "scope", "stack",
    "tag", "where", "zeros", "zeros_like",
    "GradcheckReport", "gradcheck", "gradgradcheck", "localize", "manual_seed",
]
