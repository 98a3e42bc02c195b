"""Losses as modules, over tinygrad_seq.functional: CrossEntropyLoss, NLLLoss, MSELoss.

    >>> loss_fn = CrossEntropyLoss()
    >>> loss = loss_fn(logits, targets)   # logits (N, C), targets (N,) integer classes
"""

from __future__ import annotations

from typing import Any

from tinygrad_seq import functional as F
from tinygrad_seq import habits
from tinygrad_seq.tensor import Tensor

from .module import Module

__all__ = ["CrossEntropyLoss", "MSELoss", "NLLLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """-log softmax(logits)[target], averaged over targets that are not `ignore_index` (nats).

    Input (N, C) or (N, C, d1, ...) with targets (N,) or (N, d1, ...), the class axis being axis 1.
    ``fused=True``: one node (`functional.FusedCrossEntropy`, same values); the default composes it.
    """

    def __init__(self, ignore_index: int = -100, reduction: str = "mean", fused: bool = False,
                 **torch_only: Any) -> None:
        if torch_only:  # label_smoothing=, weight=: say how to write them here
            habits.refuse_keywords("CrossEntropyLoss", torch_only)
        super().__init__(reduction)
        self.ignore_index, self.fused = ignore_index, fused

    def forward(self, logits: Tensor, targets: Any) -> Tensor:
        return F.cross_entropy(logits, targets, ignore_index=self.ignore_index, reduction=self.reduction,
                               fused=self.fused)


class NLLLoss(_Loss):
    """-log_probs[target], averaged over targets that are not `ignore_index`; expects log-probabilities."""

    def __init__(self, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.ignore_index = ignore_index

    def forward(self, log_probs: Tensor, targets: Any) -> Tensor:
        return F.nll_loss(log_probs, targets, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """(input - target)^2, averaged (or summed, or kept) over every element."""

    def forward(self, x: Tensor, target: Any) -> Tensor:
        return F.mse_loss(x, target, reduction=self.reduction)
