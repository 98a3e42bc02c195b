"""Attention: scaled_dot_product_attention and MultiheadAttention, composed from core ops.

``fused=True`` (on the function, on MultiheadAttention or on the Transformer layers) runs the same maths
as one graph node instead, for speed: nn/kernels/attention.py, first-order only. The composed path is
the default and the reference the fused one is tested against.

Masks use ONE convention everywhere in tinygrad_seq: a boolean mask is True where attention is NOT
allowed (as in PyTorch's ``nn.MultiheadAttention``; note that PyTorch's functional
``scaled_dot_product_attention`` uses the opposite convention for boolean masks). A floating-point mask
is added to the scores, so ``-inf`` blocks a position and 0 leaves it alone.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from tinygrad_seq import functional as F
from tinygrad_seq.autograd import ShapeError, scope
from tinygrad_seq.seeding import generator
from tinygrad_seq.tensor import Tensor

from . import init
from .kernels.attention import AttentionWeights, ScaledDotProductAttention, weights_shape
from .linear import Linear
from .module import Parameter, SwitchesFused

__all__ = ["MultiheadAttention", "scaled_dot_product_attention"]

# Blocked scores are replaced by this finite number rather than -inf: exp of it underflows to exactly
# 0.0 in float32 and float64 (so blocked positions get exactly zero weight and zero gradient), and no
# Inf ever enters the graph, so detect_anomaly() stays quiet.
_BLOCKED = -1e9


def _as_array(mask: Any) -> np.ndarray:
    return np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask)


def _split_mask(attn_mask: Any, is_causal: bool, L: int, S: int) -> tuple[np.ndarray | None, ...]:
    """One attention mask -> (blocked: bool array, True = not allowed; bias: float array to add).

    Entries of a float mask equal to -inf move into `blocked`, so the bias is always finite.
    """
    blocked = bias = None
    if attn_mask is not None:
        mask = _as_array(attn_mask)
        if mask.dtype == bool:
            blocked = mask
        elif mask.dtype.kind == "f":
            blocked = np.isneginf(mask)
            bias = np.where(blocked, 0.0, mask).astype(mask.dtype)
            if np.isnan(bias).any() or np.isposinf(bias).any():
                raise ValueError(
                    "scaled_dot_product_attention: a float attn_mask may hold -inf, not NaN or +inf"
                )
            if not blocked.any():
                blocked = None
        else:
            raise TypeError(
                f"scaled_dot_product_attention: attn_mask must be boolean (True = not allowed) or float "
                f"(added to the scores), got dtype {mask.dtype}"
            )
        try:
            np.broadcast_shapes(mask.shape, (L, S))
        except ValueError:
            raise ShapeError(
                f"scaled_dot_product_attention: attn_mask of shape {mask.shape} does not broadcast to the "
                f"scores' last two axes (L, S) = ({L}, {S})"
            ) from None
    if is_causal:
        future = np.triu(np.ones((L, S), dtype=bool), k=1)  # query i may see keys 0..i
        blocked = future if blocked is None else blocked | future
    return blocked, bias


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    rng: np.random.Generator | None = None,
    need_weights: bool = True,
    scale: float | None = None,
    fused: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """softmax(Q K^T / sqrt(E) + mask) V, returning (output, weights).

    Parameters
    ----------
    query, key, value : Tensor
        Shapes (..., L, E), (..., S, E) and (..., S, Ev); the leading axes broadcast.
    attn_mask : bool or float array / Tensor, broadcastable to (..., L, S), optional
        Boolean: True marks a position that may NOT be attended to. Float: added to the scores
        (``-inf`` blocks, like True).
    dropout_p : float
        Dropout on the attention weights (applied whenever > 0; pass 0.0 when evaluating).
    is_causal : bool
        Block the future: query i attends to keys 0..i (combined with `attn_mask` when both are given).
    rng : numpy Generator, optional
        The random numbers for dropout.
    need_weights : bool
        When False the second return value is None.
    scale : float, optional
        Replaces 1/sqrt(E).
    fused : bool
        False (the default): composed from core ops, a dozen nodes that draw as a picture and support
        double backward. True: one node (nn/kernels/attention.py), same values, first-order only.

    Returns
    -------
    output : Tensor (..., L, Ev)
    weights : Tensor (..., L, S) or None
        The weights that multiplied V (after dropout, if any); each row sums to 1 without dropout.

    A query row whose keys are all blocked gets all-zero weights and a zero output row, and no gradient
    flows through it (its softmax is undefined; returning zeros instead of NaN keeps a fully padded
    sequence in a batch from poisoning the others).

    Example::

        >>> q = k = v = Tensor(np.eye(3))
        >>> out, w = scaled_dot_product_attention(q, k, v, is_causal=True)
        >>> w.numpy()[0]           # the first query can only see the first key
        array([1., 0., 0.])
    """
    if query.shape[-1] != key.shape[-1]:
        raise ShapeError(
            f"scaled_dot_product_attention: query {query.shape} and key {key.shape} must share the "
            f"last axis (E): {query.shape[-1]} != {key.shape[-1]}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ShapeError(
            f"scaled_dot_product_attention: key {key.shape} and value {value.shape} must have the same "
            f"number of positions (S, axis -2): {key.shape[-2]} != {value.shape[-2]}"
        )
    L, S = query.shape[-2], key.shape[-2]
    blocked, bias = _split_mask(attn_mask, is_causal, L, S)
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    if fused:
        return _fused_attention(query, key, value, factor, blocked, bias, dropout_p, rng, need_weights)
    with scope("scores"):
        scores = (query * factor) @ key.swapaxes(-1, -2)  # (..., L, E) @ (..., E, S) -> (..., L, S)
        if bias is not None:
            scores = scores + Tensor(bias.astype(scores.dtype, copy=False))
        if blocked is not None:
            scores = scores.masked_fill(blocked, _BLOCKED)
    with scope("softmax"):
        weights = scores.softmax(-1)
        if blocked is not None:
            dead = blocked.all(axis=-1, keepdims=True)  # (..., L, 1): rows with nothing to attend to
            if dead.any():
                weights = weights.masked_fill(dead, 0.0)
        if dropout_p > 0.0:
            weights = F.dropout(weights, dropout_p, training=True, rng=rng)
    with scope("mix"):
        out = weights @ value  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
    return out, (weights if need_weights else None)


def _fused_attention(query: Tensor, key: Tensor, value: Tensor, factor: float, blocked: np.ndarray | None,
                     bias: np.ndarray | None, dropout_p: float, rng: np.random.Generator | None,
                     need_weights: bool) -> tuple[Tensor, Tensor | None]:
    """scaled_dot_product_attention(fused=True): one node for the output, one more for the weights."""
    keep = None
    if dropout_p > 0.0:
        shape = weights_shape(query.shape, key.shape, blocked, bias)
        keep = F.dropout_mask(shape, dropout_p, np.result_type(query.dtype, key.dtype), rng)
    same = dict(scale=factor, blocked=blocked, bias=bias, keep=keep)  # both nodes see the same masks
    out = ScaledDotProductAttention.apply(query, key, value, **same)
    return out, (AttentionWeights.apply(query, key, **same) if need_weights else None)


def _merge_masks(attn_mask: Any, padding: Any, dtype: np.dtype) -> np.ndarray | None:
    """Combine an attention mask and a key-padding mask, both already shaped (B, heads, L, S)-broadcastable.

    Two boolean masks are OR-ed; otherwise a boolean mask becomes 0 / -inf and the two are added.
    """
    masks = [m for m in (attn_mask, padding) if m is not None]
    if not masks:
        return None
    if all(m.dtype == bool for m in masks):
        return masks[0] if len(masks) == 1 else masks[0] | masks[1]
    floats = [np.where(m, -np.inf, 0.0).astype(dtype) if m.dtype == bool else m.astype(dtype) for m in masks]
    return floats[0] if len(floats) == 1 else floats[0] + floats[1]


class MultiheadAttention(SwitchesFused):
    """Multi-head attention, PyTorch's names and layouts: out_proj(concat_h softmax(Q_h K_h^T / sqrt(d)) V_h).

    Parameters: ``in_proj_weight`` (3E, E) stacking W_q, W_k, W_v; ``in_proj_bias`` (3E,); ``out_proj``
    (a Linear E -> E). When `kdim` or `vdim` differ from `embed_dim` the input projections are separate:
    ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim). Initialisation is
    PyTorch's: Xavier-uniform input projections, Linear's default for ``out_proj.weight``, zero biases.

    Shapes: query (L, B, E), key (S, B, kdim), value (S, B, vdim); (B, L, E) ... with ``batch_first=True``;
    (L, E) ... for one unbatched sequence. Output (L, B, E) (or (B, L, E), or (L, E)); weights (B, L, S)
    averaged over heads, (B, heads, L, S) with ``average_attn_weights=False``, without B when unbatched.

    Masks (True = NOT allowed, floats are added): ``key_padding_mask`` (B, S), True at padding;
    ``attn_mask`` (L, S) or (B * heads, L, S). ``is_causal=True`` blocks the future on its own (PyTorch
    treats it only as a hint that attn_mask is causal). A query whose keys are all blocked gets zeros
    (PyTorch gives NaN there). ``fused=True`` runs the attention itself as one node (first-order only;
    see `scaled_dot_product_attention`) and each projection as one (`functional.FusedLinear`); the
    attribute ``fused`` switches both.

    Example::

        >>> mha = MultiheadAttention(16, 4, batch_first=True, rng=np.random.default_rng(0))
        >>> x = Tensor(np.zeros((2, 5, 16), dtype=np.float32))
        >>> out, w = mha(x, x, x, is_causal=True)
        >>> out.shape, w.shape
        ((2, 5, 16), (2, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, kdim: int | None = None, vdim: int | None = None,
                 rng: np.random.Generator | None = None, fused: bool = False,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        if embed_dim < 1 or num_heads < 1:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got {embed_dim} "
                             f"and {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}"
            )
        rng = generator(rng)
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.dropout, self.batch_first, self.rng = dropout, batch_first, rng
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        E = embed_dim
        self.in_proj_weight: Parameter | None = None  # (3E, E) when q, k, v have the same size
        self.q_proj_weight: Parameter | None = None  # else one projection each
        self.k_proj_weight: Parameter | None = None
        self.v_proj_weight: Parameter | None = None
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dtype))
            projections = [self.in_proj_weight]
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype=dtype))
            projections = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        self.in_proj_bias = Parameter(np.zeros(3 * E, dtype=dtype)) if bias else None
        self.out_proj = Linear(E, E, bias=bias, rng=rng, dtype=dtype, fused=fused)
        for w in projections:
            init.xavier_uniform_(w, rng=rng)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)
        self.fused = fused

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The three input projections; one matmul for self-attention with shared weights."""
        E = self.embed_dim
        linear = partial(F.linear, fused=self.fused)
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self.in_proj_weight is None:
            assert self.q_proj_weight is not None and self.k_proj_weight is not None
            assert self.v_proj_weight is not None
            return (linear(query, self.q_proj_weight, bq), linear(key, self.k_proj_weight, bk),
                    linear(value, self.v_proj_weight, bv))
        w = self.in_proj_weight
        if query is key and key is value:
            qkv = linear(query, w, b)  # (B, L, E) -> (B, L, 3E)
            q, k, v = qkv.split(sections=3, axis=-1)  # (B, L, 3E) -> 3 x (B, L, E)
            return q, k, v
        return linear(query, w[:E], bq), linear(key, w[E:2 * E], bk), linear(value, w[2 * E:], bv)

    def _mask(self, attn_mask: Any, key_padding_mask: Any, B: int, L: int, S: int, batched: bool,
              dtype: np.dtype) -> np.ndarray | None:
        """Both masks reshaped to broadcast against scores of shape (B, heads, L, S), then merged."""
        H = self.num_heads
        a = p = None
        if attn_mask is not None:
            a = _as_array(attn_mask)
            if a.shape == (L, S):
                pass
            elif a.shape == (B * H, L, S):
                a = a.reshape(B, H, L, S)  # (B*heads, L, S) -> (B, heads, L, S)
            else:
                raise ShapeError(
                    f"MultiheadAttention: attn_mask must have shape (L, S) = {(L, S)} or "
                    f"(B * heads, L, S) = {(B * H, L, S)}, got {a.shape}"
                )
        if key_padding_mask is not None:
            p = _as_array(key_padding_mask)
            expected = (B, S) if batched else (S,)
            if p.shape != expected:
                raise ShapeError(
                    f"MultiheadAttention: key_padding_mask must have shape {expected} (True = padding), "
                    f"got {p.shape}"
                )
            p = p.reshape(B, 1, 1, S)  # (B, S) -> (B, 1, 1, S): the keys hidden from all heads and queries
        for m in (a, p):
            if m is not None and m.dtype != bool and m.dtype.kind != "f":
                raise TypeError(f"MultiheadAttention: masks must be boolean or float, got dtype {m.dtype}")
        return _merge_masks(a, p, dtype)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attend from `query` to `key`/`value`; returns (attn_output, attn_weights or None)."""
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(
                f"MultiheadAttention: query, key and value must all be 3-D (batched) or all 2-D (unbatched), "
                f"got {query.shape}, {key.shape}, {value.shape}"
            )
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ShapeError(
                f"MultiheadAttention: expected feature sizes (E, kdim, vdim) = "
                f"{(self.embed_dim, self.kdim, self.vdim)}, got query {query.shape}, key {key.shape}, "
                f"value {value.shape}"
            )
        same = query is key and key is value
        if not batched:
            query, key, value = (t.expand_dims(0) for t in (query, key, value))  # (L, E) -> (1, L, E)
        elif not self.batch_first:
            query, key, value = (t.swapaxes(0, 1) for t in (query, key, value))  # (L, B, E) -> (B, L, E)
        if same:
            key = value = query
        B, L, S = query.shape[0], query.shape[1], key.shape[1]
        if key.shape[:2] != value.shape[:2] or key.shape[0] != B:
            raise ShapeError(
                f"MultiheadAttention: key {key.shape} and value {value.shape} (as (B, S, .)) must share "
                f"batch and length, and the batch must match the query's {B}"
            )
        if S == 0 and L > 0:
            raise ShapeError(f"MultiheadAttention: {L} queries and no keys to attend to (key {key.shape}); "
                             "give at least one key")
        H, D = self.num_heads, self.head_dim
        mask = self._mask(attn_mask, key_padding_mask, B, L, S, batched, query.dtype)
        with scope("in_proj"):
            q, k, v = self._project(query, key, value)
        with scope("heads"):
            q = q.reshape(B, L, H, D).transpose(0, 2, 1, 3)  # (B, L, E) -> (B, L, H, D) -> (B, H, L, D)
            k = k.reshape(B, S, H, D).transpose(0, 2, 1, 3)  # (B, S, E) -> (B, H, S, D)
            v = v.reshape(B, S, H, D).transpose(0, 2, 1, 3)  # (B, S, E) -> (B, H, S, D)
            p = self.dropout if self.training else 0.0
            if L == 0:  # no query (T = 0): an empty output, as torch gives; nothing to normalise over
                out = q  # (B, H, 0, D)
                weights = Tensor(np.zeros((B, H, 0, S), dtype=q.dtype)) if need_weights else None
            else:
                out, weights = scaled_dot_product_attention(
                    q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal, rng=self.rng,
                    need_weights=need_weights, fused=self.fused,
                )
            out = out.transpose(0, 2, 1, 3).reshape(B, L, H * D)  # (B, H, L, D) -> (B, L, H, D) -> (B, L, E)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(0)  # (1, L, E) -> (L, E)
        elif not self.batch_first:
            out = out.swapaxes(0, 1)  # (B, L, E) -> (L, B, E)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(axis=1)  # (B, heads, L, S) -> (B, L, S)
            if not batched:
                weights = weights.squeeze(0)  # (1, ..., L, S) -> (..., L, S)
        return out, weights
