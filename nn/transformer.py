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
from .module import Module, Parameter, SwitchesFused

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


class _Layer(SwitchesFused):
    """What the encoder and decoder layers share: their submodules (in PyTorch's order) and blocks.

    ``cross=True`` adds the decoder's cross-attention ``multihead_attn`` after ``self_attn``, and a third
    norm and dropout. Each block is ``dropout_k(block(x))``; the layers add the residuals and norms.
    ``fused``, on a built layer, is the switch of its attention, its norms and its GELU together.
    """

    def __init__(self, cross: bool, d_model: int, nhead: int, dim_feedforward: int, dropout: float,
                 activation: str | Callable[[Tensor], Tensor], layer_norm_eps: float, batch_first: bool,
                 norm_first: bool, bias: bool, rng: np.random.Generator | None, fused: bool,
                 dtype: Any) -> None:
        super().__init__()
        rng = generator(rng)
        attention = dict(dropout=dropout, bias=bias, batch_first=batch_first, rng=rng, fused=fused,
                         dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        if cross:
            self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rng=rng, dtype=dtype)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rng=rng, dtype=dtype)
        self.norm_first = norm_first
        blocks = 3 if cross else 2
        for k in range(1, blocks + 1):
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype, fused=fused)
            setattr(self, f"norm{k}", norm)
        for k in range(1, blocks + 1):
            setattr(self, f"dropout{k}", Dropout(dropout, rng=rng))
        self.activation = _activation(activation)
        self.batch_first = batch_first
        self.fused = fused

    def _attention_block(self, attention: MultiheadAttention, out_dropout: Dropout, x: Tensor, memory: Tensor,
                         attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        """out_dropout(attention(x, memory, memory)): self-attention when memory is x."""
        x = attention(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                      need_weights=False, is_causal=is_causal)[0]
        return out_dropout(x)

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        return self._attention_block(self.self_attn, self.dropout1, x, x, attn_mask, key_padding_mask,
                                     is_causal)

    def _ff_block(self, x: Tensor, out_dropout: Dropout) -> Tensor:
        """out_dropout(linear2(dropout(activation(linear1(x)))))."""
        with scope("feedforward"):
            h = self.linear1(x)
            h = F.gelu(h, fused=True) if self.fused and self.activation is F.gelu else self.activation(h)
            return out_dropout(self.linear2(self.dropout(h)))


class TransformerEncoderLayer(_Layer):
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
                 rng: np.random.Generator | None = None, fused: bool = False,
                 dtype: Any = np.float32) -> None:
        super().__init__(False, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                         batch_first, norm_first, bias, rng, fused, dtype)

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """One encoder layer; masks as MultiheadAttention's (True = not allowed, floats added)."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x), self.dropout2)
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x, self.dropout2))
        return x


class TransformerDecoderLayer(_Layer):
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
                 rng: np.random.Generator | None = None, fused: bool = False,
                 dtype: Any = np.float32) -> None:
        super().__init__(True, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                         batch_first, norm_first, bias, rng, fused, dtype)

    def _mha_block(self, x: Tensor, memory: Tensor, attn_mask: Any, key_padding_mask: Any,
                   is_causal: bool) -> Tensor:
        return self._attention_block(self.multihead_attn, self.dropout2, x, memory, attn_mask,
                                     key_padding_mask, is_causal)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        """One decoder layer; masks as MultiheadAttention's (True = not allowed, floats added)."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x), self.dropout3)
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x, self.dropout3))
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
                 batch_first: bool = False, dtype: Any = np.float32) -> None:
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.weight = Parameter(np.empty((max_len, d_model), dtype=dtype))
        init.normal_(self.weight, 0.0, 1.0, rng=generator(rng))

    def forward(self, x: Tensor) -> Tensor:
        T = _positions(x, self.batch_first, self.max_len, "LearnedPositionalEncoding")
        return x + _aligned(self.weight[:T], x, self.batch_first)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"
