"""Transformer layers with PyTorch's arguments and submodule names, and positional encodings.

A layer is two (encoder) or three (decoder) residual blocks. Post-norm (PyTorch's default,
``norm_first=False``): ``x = norm(x + block(x))``. Pre-norm (``norm_first=True``): ``x = x + block(norm(x))``.
``fused=True`` builds a layer from the fused kernels (attention, LayerNorm, GELU: one node each, same
values; the attention is first-order only); the default composes every op and is the reference. The
``fused`` attribute switches a built layer (its attention, norms and GELU together), as on RNN/LSTM/GRU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_seq import functional as F
from tinygrad_seq.autograd import ShapeError, scope
from tinygrad_seq.seeding import generator
from tinygrad_seq.tensor import Tensor

from . import init
from .attention import MultiheadAttention
from .linear import Dropout, LayerNorm, Linear
from .module import Module, Parameter

__all__ = [
    "LearnedPositionalEncoding", "SinusoidalPositionalEncoding", "TransformerDecoderLayer",
    "TransformerEncoderLayer",
]

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return _ACTIVATIONS[activation]


class _Switchable(Module):
    """``fused``, on a Transformer layer, is the switch of its attention, its norms and its GELU together."""

    @property
    def fused(self) -> bool:
        return self._fused

    @fused.setter
    def fused(self, value: bool) -> None:
        object.__setattr__(self, "_fused", bool(value))
        for module in self.modules():
            if module is not self and hasattr(module, "fused"):
                module.fused = value


def _ff_block(layer: _Switchable, x: Tensor, out_dropout: Dropout) -> Tensor:
    """The position-wise block of both layers: out_dropout(linear2(dropout(activation(linear1(x)))))."""
    with scope("feedforward"):
        h = layer.linear1(x)
        h = F.gelu(h, fused=True) if layer.fused and layer.activation is F.gelu else layer.activation(h)
        return out_dropout(layer.linear2(layer.dropout(h)))


class TransformerEncoderLayer(_Switchable):
    """Self-attention then a feed-forward network, each with a residual connection and LayerNorm.

    Post-norm (default)::

        x = norm1(x + dropout1(self_attn(x, x, x)))
        x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))

    With ``norm_first=True`` each block reads ``norm(x)`` and adds to x unnormalised. Submodules, in
    PyTorch's order: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2.
    src: (S, B, E), or (B, S, E) with ``batch_first=True``, or (S, E) unbatched; same shape out.
    ``activation="gelu"`` is the tanh approximation of GELU (PyTorch's default gelu uses erf; the two
    differ by less than 1e-3).

    Example::

        >>> layer = TransformerEncoderLayer(16, 4, 32, batch_first=True, rng=np.random.default_rng(0))
        >>> layer(Tensor(np.zeros((2, 5, 16), dtype=np.float32)), is_causal=True).shape
        (2, 5, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 rng: np.random.Generator | None = None, fused: bool = False) -> None:
        super().__init__()
        rng = generator(rng)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, rng=rng, fused=fused)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rng=rng)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rng=rng)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, fused=fused)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, fused=fused)
        self.dropout1 = Dropout(dropout, rng=rng)
        self.dropout2 = Dropout(dropout, rng=rng)
        self.activation = _activation(activation)
        self.batch_first = batch_first
        self.fused = fused

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """One encoder layer; masks as MultiheadAttention's (True = not allowed, floats added)."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + _ff_block(self, self.norm2(x), self.dropout2)
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + _ff_block(self, x, self.dropout2))
        return x


class TransformerDecoderLayer(_Switchable):
    """Masked self-attention, cross-attention to `memory`, then a feed-forward network.

    Post-norm (default)::

        x = norm1(x + dropout1(self_attn(x, x, x)))
        x = norm2(x + dropout2(multihead_attn(x, memory, memory)))
        x = norm3(x + dropout3(linear2(dropout(activation(linear1(x))))))

    Submodules, in PyTorch's order: self_attn, multihead_attn, linear1, dropout, linear2, norm1, norm2,
    norm3, dropout1, dropout2, dropout3. tgt (T, B, E) and memory (S, B, E), batch-first or unbatched
    as for the encoder layer; output shaped like tgt.

    Example::

        >>> layer = TransformerDecoderLayer(16, 4, 32, rng=np.random.default_rng(0))
        >>> tgt, memory = Tensor(np.zeros((3, 2, 16))), Tensor(np.zeros((7, 2, 16)))
        >>> layer(tgt, memory, tgt_is_causal=True).shape
        (3, 2, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 rng: np.random.Generator | None = None, fused: bool = False) -> None:
        super().__init__()
        rng = generator(rng)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, rng=rng, fused=fused)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, rng=rng, fused=fused)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rng=rng)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rng=rng)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, fused=fused)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, fused=fused)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, fused=fused)
        self.dropout1 = Dropout(dropout, rng=rng)
        self.dropout2 = Dropout(dropout, rng=rng)
        self.dropout3 = Dropout(dropout, rng=rng)
        self.activation = _activation(activation)
        self.batch_first = batch_first
        self.fused = fused

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, memory: Tensor, attn_mask: Any, key_padding_mask: Any,
                   is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)[0]
        return self.dropout2(x)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        """One decoder layer; masks as MultiheadAttention's (True = not allowed, floats added)."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + _ff_block(self, self.norm3(x), self.dropout3)
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + _ff_block(self, x, self.dropout3))
        return x


def _positions(x: Tensor, batch_first: bool, max_len: int, who: str) -> int:
    """The sequence length of x: axis 0 of (T, B, E) or (T, E), axis 1 of batch-first (B, T, E)."""
    if x.ndim not in (2, 3):
        raise ShapeError(f"{who}: input must be (T, B, E), batch-first (B, T, E) or (T, E), got {x.shape}")
    T = x.shape[1] if batch_first and x.ndim == 3 else x.shape[0]
    if T > max_len:
        raise ShapeError(f"{who}: a sequence of length {T} is longer than max_len = {max_len}")
    return T


def _aligned(table: Tensor, x: Tensor, batch_first: bool) -> Tensor:
    """The first T rows of a (max_len, E) table, shaped to broadcast against x."""
    if x.ndim == 3 and not batch_first:
        return table.expand_dims(1)  # (T, E) -> (T, 1, E): the same row for every sequence in the batch
    return table  # (T, E) broadcasts against (B, T, E) and (T, E)


class SinusoidalPositionalEncoding(Module):
    """Adds the fixed table pe[t, 2i] = sin(t / 10000^(2i/d)), pe[t, 2i+1] = cos(t / 10000^(2i/d)).

    The table (max_len, d_model) is the buffer ``pe`` (in the state dict, never learned). Input (T, B, E),
    or (B, T, E) with ``batch_first=True``, or (T, E); the output has the same shape.

    Example::

        >>> pos = SinusoidalPositionalEncoding(4, max_len=10)
        >>> pos(Tensor(np.zeros((3, 4)))).numpy()[1].round(3)   # sin(1), cos(1), sin(0.01), cos(0.01)
        array([0.841, 0.54 , 0.01 , 1.   ])
    """

    def __init__(self, d_model: int, max_len: int = 5000, batch_first: bool = False) -> None:
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        position = np.arange(max_len, dtype=np.float64)[:, None]  # (max_len, 1)
        rate = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (ceil(d/2),)
        angle = position * rate  # (max_len, 1) * (ceil(d/2),) -> (max_len, ceil(d/2))
        pe = np.zeros((max_len, d_model), dtype=np.float64)
        pe[:, 0::2] = np.sin(angle)
        pe[:, 1::2] = np.cos(angle[:, : d_model // 2])  # an odd d_model has one fewer cosine column
        self.register_buffer("pe", pe.astype(np.float32))

    def forward(self, x: Tensor) -> Tensor:
        T = _positions(x, self.batch_first, self.max_len, "SinusoidalPositionalEncoding")
        table = Tensor(self.pe.numpy()[:T].astype(x.dtype, copy=False))  # (T, E), a constant
        return x + _aligned(table, x, self.batch_first)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEncoding(Module):
    """Adds a learned vector per position: x[t] + weight[t], with ``weight`` (max_len, d_model).

    ``weight`` starts from N(0, 1), like an Embedding(max_len, d_model) looked up at positions 0..T-1.
    Shapes as SinusoidalPositionalEncoding.

    Example::

        >>> pos = LearnedPositionalEncoding(64, 16, rng=np.random.default_rng(0))
        >>> pos(Tensor(np.zeros((8, 2, 16), dtype=np.float32))).shape
        (8, 2, 16)
    """

    def __init__(self, max_len: int, d_model: int, rng: np.random.Generator | None = None,
                 batch_first: bool = False) -> None:
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.weight = Parameter(np.empty((max_len, d_model), dtype=np.float32))
        init.normal_(self.weight, 0.0, 1.0, rng=generator(rng))

    def forward(self, x: Tensor) -> Tensor:
        T = _positions(x, self.batch_first, self.max_len, "LearnedPositionalEncoding")
        return x + _aligned(self.weight[:T], x, self.batch_first)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"
