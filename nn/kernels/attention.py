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
    """softmax(scale * q k^T + bias) over the last axis, blocked entries 0: (..., L, S), a view of the
    key-major (..., S, L) buffer `_weights_by_key` fills.

    `blocked` (True = not allowed) and `bias` broadcast to (..., L, S); a row with every key blocked
    is all zeros (its softmax is undefined).
    """
    return _swap(_weights_by_key(q, k, scale, blocked, bias))


def _weights_by_key(
    q: np.ndarray, k: np.ndarray, scale: float, blocked: np.ndarray | None, bias: np.ndarray | None
) -> np.ndarray:
    """The transpose w^T (..., S, L) of the attention weights, in one contiguous buffer.

    NOTE: speed: key-major, each query's softmax runs down a column: its max is one elementwise
    maximum across the S rows (NumPy's max along a short last axis is 2.5x slower) and its sum one
    product ones (1, S) @ w^T, so the whole softmax is five vectorised passes.
    """
    # NOTE: speed: the scale multiplies q (L x E numbers), not the scores (L x S)
    wt = k @ _swap(q * scale)  # (..., S, E) @ (..., E, L) -> (..., S, L)
    shape = weights_shape(q.shape, k.shape, blocked, bias)
    shape = (*shape[:-2], shape[-1], shape[-2])  # (..., S, L)
    if wt.shape != shape:  # a mask with more leading axes than q and k: one set of weights per mask
        wt = np.broadcast_to(wt, shape).copy()
    if bias is not None:
        wt += _by_key(bias).astype(wt.dtype, copy=False)
    if blocked is not None:
        np.copyto(wt, -np.inf, where=_by_key(blocked))
    top = wt.max(axis=-2, keepdims=True)  # (..., 1, L)
    dead = None
    if blocked is not None:
        dead = np.isneginf(top)
        if dead.any():
            top[dead] = 0.0  # exp(-inf - 0) = 0 for every key of a dead row
        else:
            dead = None
    wt -= top
    np.exp(wt, out=wt)
    total = _column_sums(wt)  # (..., 1, L)
    if dead is not None:
        total[dead] = 1.0  # 0 / 1: the dead row stays 0
    wt /= total
    return wt


def _by_key(mask: np.ndarray) -> np.ndarray:
    """A mask broadcasting to (..., L, S) (perhaps with fewer axes) as a view broadcasting to (..., S, L)."""
    return _swap(mask.reshape((1,) * (2 - mask.ndim) + mask.shape))


def _column_sums(a: np.ndarray) -> np.ndarray:
    """a.sum(axis=-2, keepdims=True) as one matrix product ones (1, S) @ a (..., S, L) -> (..., 1, L)."""
    return np.ones((1, a.shape[-2]), dtype=a.dtype) @ a


def _scores_backward(
    wt: np.ndarray, dwt: np.ndarray, q: np.ndarray, k: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """dq, dk from the key-major weights `wt` (..., S, L) and the gradient `dwt` of the weights, also
    key-major (a fresh array: it is overwritten)."""
    # the softmax's backward: dw - sum(dw * w) over each query's keys (einsum: no (..., S, L) temporary)
    dwt -= np.einsum("...sl,...sl->...l", dwt, wt)[..., None, :]
    np.multiply(dwt, wt, out=dwt)  # now the gradient of the scaled scores, transposed
    dq = _swap(dwt) @ k  # (..., L, S) @ (..., S, E)
    dk = dwt @ q  # (..., S, L) @ (..., L, E)
    dq *= scale  # the scale goes on the (smaller) products
    dk *= scale
    return dq, dk


class ScaledDotProductAttention(Function):
    """out = dropout(softmax(scale q k^T + bias, blocked -> 0)) v as one node; first-order only."""

    first_order_only = _COMPOSED

    def forward(self, q, k, v, scale, blocked, bias, keep):
        wt = _weights_by_key(q, k, scale, blocked, bias)  # (..., S, L)
        self.keep, self.scale = keep, scale
        used = wt if keep is None else wt * _swap(keep)  # the weights that multiply v, key-major
        self.save_for_backward(q, k, v, wt, used)
        return _swap(used) @ v  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)

    def backward(self, grad):
        q, k, v, wt, used = self.saved_tensors
        dv = used @ grad  # (..., S, L) @ (..., L, Ev)
        dwt = v @ _swap(grad)  # (..., S, Ev) @ (..., Ev, L) -> (..., S, L), a fresh array
        if self.keep is not None:
            dwt *= _swap(self.keep)
        dq, dk = _scores_backward(wt, dwt, q, k, self.scale)
        return dq, dk, dv


class AttentionWeights(Function):
    """The weights (after dropout) as a node of their own: w * keep from q and k, differentiable to both.

    `scaled_dot_product_attention(..., need_weights=True, fused=True)` returns this node's output next to
    the attention node's; forward computes the weights again (a matmul and a softmax), so that the node
    depends on its inputs alone, as a checker that re-runs it expects. First-order only.
    """

    first_order_only = _COMPOSED

    def forward(self, q, k, scale, blocked, bias, keep):
        wt = _weights_by_key(q, k, scale, blocked, bias)  # (..., S, L)
        self.keep, self.scale = keep, scale
        self.save_for_backward(q, k, wt)
        return _swap(wt) if keep is None else _swap(wt) * keep

    def backward(self, grad):
        q, k, wt = self.saved_tensors
        dw = grad * (1.0 if self.keep is None else self.keep)  # (..., L, S)
        dwt = np.ascontiguousarray(_swap(dw), dtype=wt.dtype)  # key-major, a fresh array
        dq, dk = _scores_backward(wt, dwt, q, k, self.scale)
        return dq, dk
