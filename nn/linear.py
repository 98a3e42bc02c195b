"""Linear, Embedding, LayerNorm, Dropout: PyTorch's names, shapes and default initialisation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_seq import functional as F
from tinygrad_seq.autograd import no_grad
from tinygrad_seq.seeding import generator
from tinygrad_seq.tensor import Tensor, where

from . import init
from .module import Module, Parameter

__all__ = ["Dropout", "Embedding", "Identity", "LayerNorm", "Linear"]


class Linear(Module):
    """y = x @ weight.T + bias, with weight (out_features, in_features) and bias (out_features,).

    Both start from U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default.
    Input (..., in_features) -> output (..., out_features). ``fused=True`` (also the attribute): one
    node (`functional.FusedLinear`, same values) instead of a transpose, a matmul and an add.

    Example::

        >>> layer = Linear(3, 2, rng=np.random.default_rng(0))
        >>> layer(Tensor(np.ones((5, 3), dtype=np.float32))).shape
        (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | None = None, dtype: Any = np.float32,
                 fused: bool = False) -> None:
        super().__init__()
        rng = generator(rng)
        self.in_features, self.out_features, self.fused = in_features, out_features, fused
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        self.bias: Parameter | None
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
            bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, rng)
        else:
            self.bias = None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias, fused=self.fused)  # checks the shapes (error names both)

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


class Embedding(Module):
    """A lookup table: integer ids (...) -> rows of weight (num_embeddings, embedding_dim), (..., dim).

    weight starts from N(0, 1). With `padding_idx`, that row starts at zero and never receives a
    gradient, so a padding token stays a zero vector through training (as in PyTorch; weight decay in
    an optimizer can still move it, also as in PyTorch).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 rng: np.random.Generator | None = None, dtype: Any = np.float32) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} is out of range for {num_embeddings} rows")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
        init.normal_(self.weight, 0.0, 1.0, generator(rng))
        if padding_idx is not None:
            with no_grad():
                self.weight[padding_idx] = 0.0

    def forward(self, ids: Any) -> Tensor:
        ids = np.asarray(ids.numpy() if isinstance(ids, Tensor) else ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding: ids must be integers, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            bad = ids[(ids < 0) | (ids >= self.num_embeddings)].flat[0]
            raise IndexError(f"Embedding: id {bad} is out of range for {self.num_embeddings} rows")
        rows = F.embedding(ids, self.weight)  # (..., dim)
        if self.padding_idx is None:
            return rows
        pad = ids == self.padding_idx
        if not pad.any():
            return rows
        # Padding positions read the row as a constant, so the scatter-add sends that row zeros.
        constant = Tensor(self.weight.data[self.padding_idx].copy())  # (dim,)
        return where(pad[..., None], constant, rows)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class LayerNorm(Module):
    """Normalise the last axes to mean 0 and variance 1 (biased), then scale by weight and add bias.

    y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing `normalized_shape` axes;
    weight starts at ones and bias at zeros. ``fused=True``: the normalisation is one node
    (`functional.FusedLayerNorm`, same values); the default composes it.
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, dtype: Any = np.float32,
                 fused: bool = False) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int | np.integer) else normalized_shape
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps, self.elementwise_affine, self.fused = eps, elementwise_affine, fused
        shape = self.normalized_shape
        self.weight = Parameter(np.ones(shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype=dtype)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        n = len(self.normalized_shape)
        if x.shape[x.ndim - n:] != self.normalized_shape or x.ndim < n:
            raise ValueError(f"LayerNorm{self.normalized_shape}: input of shape {x.shape} must end in "
                             f"{self.normalized_shape}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps, fused=self.fused)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class Dropout(Module):
    """Zero each element with probability p and scale the survivors by 1/(1-p), in training mode only.

    In eval mode (``module.eval()``) it returns its input unchanged. Masks come from `rng`, drawn
    afresh on every call.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = generator(rng)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Identity(Module):
    """Returns its input: a placeholder where a layer is optional (e.g. no normalisation)."""

    def forward(self, x: Any) -> Any:
        return x
