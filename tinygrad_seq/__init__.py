"""tinygrad_seq: a small NumPy autograd engine for teaching and verifying sequence models.

    >>> from tinygrad_seq import Tensor
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    Tensor([2. 4.])
"""

from . import functional
from .autograd import (
    AnomalyError,
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
from .gradcheck import GradcheckReport, gradcheck, gradgradcheck
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

__all__ = [
    "AnomalyError", "Function", "ShapeError", "Tensor", "arange", "concatenate", "current_scope",
    "detect_anomaly", "enable_grad", "eye", "full", "full_like", "functional", "grad", "is_grad_enabled",
    "matmul", "maximum", "minimum", "no_grad", "ones", "ones_like", "rand", "randn", "scope", "stack",
    "where", "zeros", "zeros_like",
    "GradcheckReport", "gradcheck", "gradgradcheck",
]
