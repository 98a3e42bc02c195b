"""Activation modules, as in torch.nn, for `Sequential`: each applies one elementwise op of the core.

    >>> net = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
"""

from __future__ import annotations

from tinygrad_seq import functional as F
from tinygrad_seq.tensor import Tensor

from .module import Module

__all__ = ["GELU", "ReLU", "Sigmoid", "Tanh"]


class ReLU(Module):
    """max(x, 0) elementwise (`x.relu()`)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Tanh(Module):
    """tanh(x) elementwise (`x.tanh()`)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    """1 / (1 + e^-x) elementwise (`x.sigmoid()`)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class GELU(Module):
    """x * Phi(x) elementwise in its tanh form, `F.gelu` (`fused=True`: one graph node).

    torch's ``nn.GELU()`` is the exact erf form, which is not here: ``GELU()`` raises rather than differ
    in the third decimal; ``GELU(approximate="tanh")`` means the same in both.
    """

    def __init__(self, approximate: str = "none", fused: bool = False) -> None:
        super().__init__()
        if approximate != "tanh":
            raise ValueError(f"GELU(approximate={approximate!r}): only the tanh form is here; write "
                             "nn.GELU(approximate='tanh') (the same in PyTorch)")
        self.fused = fused

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, fused=self.fused)
