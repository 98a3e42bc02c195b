"""Composites built from the primitive ops: losses, dropout, normalisation, activations.

None of these has backward code of its own; the engine differentiates them through the
primitives they are made of (see ops.py for the derivative table).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd import ShapeError
from .tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, computed as exp(log_softmax(x)) so it cannot overflow."""
    return x.softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along `axis` (stable for inputs of any magnitude)."""
    return x.log_softmax(axis)


def _reduce(losses: Tensor, reduction: str, count: Any = None) -> Tensor:
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.sum() / (losses.size if count is None else max(int(count), 1))
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def nll_loss(log_probs: Tensor, targets: Any, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer `targets` under `log_probs`.

    Shapes: log_probs (N, C) with targets (N,), or (N, C, d1, ...) with targets (N, d1, ...), or
    (C,) with a scalar target: the class axis is axis 1 (axis 0 for a single example).
    Targets equal to `ignore_index` contribute nothing, and the mean is over the others.
    """
    return _nll_loss(log_probs, targets, ignore_index, reduction, "nll_loss")


def _nll_loss(log_probs: Tensor, targets: Any, ignore_index: int, reduction: str, op: str) -> Tensor:
    """nll_loss, with `op` (the function the user called) naming it in error messages."""
    targets = np.asarray(targets.numpy() if isinstance(targets, Tensor) else targets)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class indices, got dtype {targets.dtype}")
    if log_probs.ndim == 1:
        log_probs, targets = log_probs.reshape(1, -1), targets.reshape(1)
    classes = log_probs.shape[1]
    expected = (log_probs.shape[0],) + log_probs.shape[2:]
    if targets.shape != expected:
        raise ShapeError(
            f"{op}: input of shape {log_probs.shape} needs targets of shape {expected} "
            f"(the class axis is axis 1), got {targets.shape}"
        )
    if log_probs.ndim > 2:  # (N, C, d1, ...) -> (N, d1, ..., C) -> (N * d1 * ..., C)
        log_probs = log_probs.transpose(0, *range(2, log_probs.ndim), 1).reshape(-1, classes)
        targets = targets.reshape(-1)
    keep = targets != ignore_index
    bad = targets[keep][(targets[keep] < 0) | (targets[keep] >= classes)]
    if bad.size:
        raise IndexError(f"{op}: target {bad[0]} is out of range for {classes} classes")
    safe = np.where(keep, targets, 0)
    picked = log_probs[np.arange(len(safe)), safe]  # (N,)
    losses = -(picked * keep.astype(log_probs.dtype)) if not keep.all() else -picked
    if reduction == "none":
        return losses.reshape(expected)
    return _reduce(losses, reduction, count=keep.sum())


def cross_entropy(logits: Tensor, targets: Any, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Cross-entropy of integer `targets` given unnormalised `logits`: nll_loss(log_softmax(logits)).

    Shapes as `nll_loss`: logits (N, C) and targets (N,), the class axis being axis 1.
    In nats; exp of the mean is the perplexity.

    Example: ``cross_entropy(Tensor([[2.0, 0.0]]), np.array([0]))`` is ``log(1 + e^-2)``.
    """
    axis = 0 if logits.ndim == 1 else 1
    return _nll_loss(logits.log_softmax(axis), targets, ignore_index, reduction, "cross_entropy")


def mse_loss(x: Tensor, y: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((x - y)^2)."""
    diff = x - y
    return _reduce(diff * diff, reduction)


def dropout(
    x: Tensor, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Zero each element with probability `p` and scale the rest by 1/(1-p); identity when not training."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    rng = rng if rng is not None else np.random.default_rng()
    keep = rng.random(x.shape) >= p
    return x * Tensor((keep / (1.0 - p)).astype(x.dtype))


def one_hot(indices: Any, num_classes: int, dtype: Any = np.float32) -> Tensor:
    """(…,) integer indices -> (…, num_classes) rows of zeros with a single one."""
    indices = np.asarray(indices.numpy() if isinstance(indices, Tensor) else indices)
    return Tensor(np.eye(num_classes, dtype=dtype)[indices])


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, with weight of shape (out_features, in_features)."""
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape}: the weight is "
            "(out_features, in_features) and in_features must equal the input's last axis"
        )
    out = x @ weight.T
    return out if bias is None else out + bias


def embedding(indices: Any, weight: Tensor) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by integer `indices` (…,) -> (…, dim)."""
    ids = np.asarray(indices.numpy() if isinstance(indices, Tensor) else indices)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {ids.dtype}")
    n = weight.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings (weight of shape "
                         f"{weight.shape})")
    return weight.take(ids, axis=0)


def layer_norm(
    x: Tensor,
    normalized_shape: tuple[int, ...],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise the last len(normalized_shape) axes to mean 0, variance 1, then scale and shift."""
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    out = (x - x.mean(axes, keepdims=True)) / (x.var(axes, keepdims=True) + eps).sqrt()
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def gelu(x: Tensor) -> Tensor:
    """Gaussian error linear unit, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    c = float(np.sqrt(2 / np.pi))  # a Python float: a NumPy float64 scalar would upcast float32 inputs
    return 0.5 * x * (1 + (c * (x + 0.044715 * x**3)).tanh())


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()
