"""Gradient clipping and measuring: clip_grad_norm_, clip_grad_value_, grad_norm.

Clipping keeps a recurrent net's exploding gradients from throwing the weights far away in one step;
`clip_grad_norm_` returns the norm before clipping, which is worth logging (it shows the explosions).

    >>> loss.backward()
    >>> norm = clip_grad_norm_(model.parameters(), max_norm=5.0)
    >>> opt.step()
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinygrad_seq.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "grad_norm"]


def _grads(params: Tensor | Iterable[Tensor]) -> list[np.ndarray]:
    params = [params] if isinstance(params, Tensor) else list(params)
    return [p.grad.data for p in params if p.grad is not None]


def _scale_in_place(params: Tensor | Iterable[Tensor], factor: float) -> None:
    params = [params] if isinstance(params, Tensor) else params
    for p in params:
        if p.grad is not None:
            np.multiply(p.grad.data, factor, out=p.grad.data)
            p.grad.bump_version()


def grad_norm(params: Tensor | Iterable[Tensor], norm_type: float = 2.0) -> float:
    """The norm of all gradients taken together as one vector: (sum_p ||g_p||^k)^(1/k).

    Parameters without a gradient are skipped; `norm_type` may be ``math.inf`` (the largest |g|).
    Returns 0.0 when no parameter has a gradient.
    """
    norm_type = float(norm_type)
    if norm_type <= 0:
        raise ValueError(f"grad_norm: norm_type must be > 0, got {norm_type}")
    norms = [float(np.linalg.norm(g.ravel(), ord=norm_type)) if g.size else 0.0 for g in _grads(params)]
    if not norms:
        return 0.0
    if math.isinf(norm_type):
        return max(norms)
    return float(np.linalg.norm(np.asarray(norms, dtype=np.float64), ord=norm_type))


def clip_grad_norm_(params: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so that their total norm is at most `max_norm`; return the norm before.

    When the total norm exceeds max_norm, every gradient is multiplied by max_norm / (total + 1e-6)
    in place, so the direction is kept. A NaN or infinite norm raises if `error_if_nonfinite`.
    """
    params = [params] if isinstance(params, Tensor) else list(params)
    total = grad_norm(params, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total gradient norm is {total}; a NaN or Inf is in some gradient "
            "(run the forward and backward under tinygrad_seq.detect_anomaly() to find the op)")
    factor = float(max_norm) / (total + 1e-6)
    if factor < 1.0:
        _scale_in_place(params, factor)
    return total


def clip_grad_value_(params: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    params = [params] if isinstance(params, Tensor) else params
    for p in params:
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)
            p.grad.bump_version()
