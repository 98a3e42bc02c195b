"""Fused scaled dot-product attention: scores, scale, mask, softmax, dropout and the weighted sum of the
values as ONE graph node, forward and first-order backward in NumPy.

It replaces the composed ``scaled_dot_product_attention(..., fused=False)`` of nn/attention.py (about a
dozen nodes: scale, matmul, masked_fill, log-softmax, exp, dropout, matmul) and is held equal to it in
float64 (1e-10) and by gradcheck in tests/test_kernels_attention.py. Select it with ``fused=True`` on
``scaled_dot_product_attention``, ``MultiheadAttention`` or the Transformer layers.

    w   = softmax(scale * q k^T + bias, blocked -> weight 0)     (..., L, S); a row with every key blocked: 0
    out = (w * keep) v                                            keep: dropout's 0 or 1/(1-p), or 1
    dv  = (w * keep)^T grad
    dw  = (grad v^T) * keep
    ds  = w * (dw - sum(dw * w, axis=-1)) * scale                 the softmax's backward, scale folded in
    dq  = ds k;   dk = ds^T q

First-order only: the backward is NumPy, so it builds no graph; asking for a gradient of its gradient
(``create_graph=True``, gradgradcheck) raises `FirstOrderOnlyError`, which says to use ``fused=False``.
"""

from __future__ import annotations

import numpy as np

from tinygrad_seq.autograd import FirstOrderOnlyError, Function

__all__ = [
    "AttentionWeights", "FirstOrderOnlyError", "ScaledDotProductAttention", "attention_weights",
    "weights_shape",
]

_COMPOSED = ("Use the composed reference: scaled_dot_product_attention(..., fused=False), or build "
             "MultiheadAttention / the Transformer layer with fused=False.")


def _swap(a: np.ndarray) -> np.ndarray:
    """The matrix transpose of each batch element (a view)."""
    return np.swapaxes(a, -1, -2)


def weights_shape(q_shape: tuple[int, ...], k_shape: tuple[int, ...], *masks: np.ndarray | None) -> tuple:
    """The shape (..., L, S) of the attention weights: the leading axes of q, k and the masks broadcast."""
    lead = np.broadcast_shapes(q_shape[:-2], k_shape[:-2], *(m.shape[:-2] for m in masks if m is not None))
    return (*lead, q_shape[-2], k_shape[-2])


def attention_weights(
    q: np.ndarray, k: np.ndarray, scale: float, blocked: np.ndarray | None, bias: np.ndarray | None
) -> np.ndarray:
    """softmax(scale * q k^T + bias) over the last axis, blocked entries 0, in one buffer (..., L, S).

    `blocked` (True = not allowed) and `bias` broadcast to (..., L, S); a row with every key blocked
    is all zeros (its softmax is undefined).
    """
    # NOTE: speed: the scale multiplies q (L x E numbers), not the scores (L x S)
    w = (q * scale) @ _swap(k)  # (..., L, E) @ (..., E, S) -> (..., L, S)
    shape = weights_shape(q.shape, k.shape, blocked, bias)
    if w.shape != shape:  # a mask with more leading axes than q and k: one row of weights per mask
        w = np.broadcast_to(w, shape).copy()
    if bias is not None:
        w += bias.astype(w.dtype, copy=False)
    if blocked is not None:
        np.copyto(w, -np.inf, where=blocked)
    top = w.max(axis=-1, keepdims=True)  # (..., L, 1)
    dead = None
    if blocked is not None:
        dead = np.isneginf(top)
        if dead.any():
            top[dead] = 0.0  # exp(-inf - 0) = 0 for every key of a dead row
        else:
            dead = None
    w -= top
    np.exp(w, out=w)
    total = w.sum(axis=-1, keepdims=True)
    if dead is not None:
        total[dead] = 1.0  # 0 / 1: the dead row stays 0
    w /= total
    return w


def _scores_backward(
    w: np.ndarray, dw: np.ndarray, q: np.ndarray, k: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """dq, dk from the gradient `dw` of the softmax weights `w` (dw is overwritten)."""
    dw -= (dw * w).sum(axis=-1, keepdims=True)
    dw *= w  # now the gradient of the scaled scores; the scale goes on the (smaller) products
    dq = dw @ k  # (..., L, S) @ (..., S, E)
    dk = _swap(dw) @ q  # (..., S, L) @ (..., L, E)
    dq *= scale
    dk *= scale
    return dq, dk


class ScaledDotProductAttention(Function):
    """out = dropout(softmax(scale q k^T + bias, blocked -> 0)) v as one node; first-order only."""

    first_order_only = _COMPOSED

    def forward(self, q, k, v, scale, blocked, bias, keep):
        w = attention_weights(q, k, scale, blocked, bias)
        self.keep, self.scale = keep, scale
        used = w if keep is None else w * keep  # the weights that multiply v
        self.save_for_backward(q, k, v, w, used)
        return used @ v  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)

    def backward(self, grad):
        q, k, v, w, used = self.saved_tensors
        dv = _swap(used) @ grad  # (..., S, L) @ (..., L, Ev)
        dw = grad @ _swap(v)  # (..., L, Ev) @ (..., Ev, S) -> (..., L, S), a fresh array
        if self.keep is not None:
            dw *= self.keep
        dq, dk = _scores_backward(w, dw, q, k, self.scale)
        return dq, dk, dv


class AttentionWeights(Function):
    """The weights (after dropout) as a node of their own: w * keep from q and k, differentiable to both.

    `scaled_dot_product_attention(..., need_weights=True, fused=True)` returns this node's output next to
    the attention node's; forward computes the weights again (a matmul and a softmax), so that the node
    depends on its inputs alone, as a checker that re-runs it expects. First-order only.
    """

    first_order_only = _COMPOSED

    def forward(self, q, k, scale, blocked, bias, keep):
        w = attention_weights(q, k, scale, blocked, bias)
        self.keep, self.scale = keep, scale
        self.save_for_backward(q, k, w)
        return w if keep is None else w * keep

    def backward(self, grad):
        q, k, w = self.saved_tensors
        dw = grad * (1.0 if self.keep is None else self.keep)  # a fresh array
        dw = dw.astype(w.dtype, copy=False)
        dq, dk = _scores_backward(w, dw, q, k, self.scale)
        return dq, dk
