"""Composites built from the primitive ops: losses, dropout, normalisation, activations.

The composed functions have no backward code of their own; the engine differentiates them through
the primitives they are made of (see ops.py for the derivative table). Four of them also exist as
one op each with its own backward, chosen with ``fused=True`` (NOTE: speed, measured in
benchmarks/transformer_lm.py):

    FusedLayerNorm     out = (x - mean) r, r = 1/sqrt(var + eps)  dx = (g - mean(g) - out mean(g out)) r
                       with w, b: y = out w + b, still one node  the same with g w for g; dw = g out, db = g
    FusedGelu          out = x/2 (1 + tanh(c (x + a x^3)))        dx = g gelu'(x)
    FusedCrossEntropy  out_i = -log softmax(z_i)[t_i] k_i         dz_i = (softmax(z_i) - onehot(t_i)) g_i k_i
    FusedLinear        out = x w^T + b                            dx = g w, dw = g^T x, db = sum(g)

Each is a `Function` in the engine's one protocol: its backward rule is written once, with what
arrays and Tensors share, so it runs on arrays in a first-order pass and on Tensors with
``create_graph=True`` (where a saved intermediate that is neither an input nor an output, such as the
softmax or 1/std, is recomputed from the input so that it is differentiable): they support double
backward. The composed forms (``fused=False``, the default) stay the reference: tests/test_functional.py
holds each fused op equal to its composed form in float64 and checks both gradients.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .autograd import Function, ShapeError
from .seeding import generator
from .tags import tag
from .tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def softmax(x: Tensor, axis: int = -1, **torch_names: Any) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, computed as exp(log_softmax(x)) so it cannot overflow."""
    return x.softmax(axis, **torch_names)


def log_softmax(x: Tensor, axis: int = -1, **torch_names: Any) -> Tensor:
    """x - logsumexp(x) along `axis` (stable for inputs of any magnitude)."""
    return x.log_softmax(axis, **torch_names)


def _reduce(losses: Tensor, reduction: str, count: Any = None) -> Tensor:
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        n = losses.size if count is None else int(count)
        return losses.sum() / n if n else losses.sum() * math.nan  # as torch: the mean of nothing is nan
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def nll_loss(log_probs: Tensor, targets: Any, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer `targets` under `log_probs`.

    Shapes: log_probs (N, C) with targets (N,), or (N, C, d1, ...) with targets (N, d1, ...), or
    (C,) with a scalar target: the class axis is axis 1 (axis 0 for a single example).
    Targets equal to `ignore_index` contribute nothing, and the mean is over the others.
    """
    return _nll_loss(log_probs, targets, ignore_index, reduction, "nll_loss")


def _nll_loss(log_probs: Tensor, targets: Any, ignore_index: int, reduction: str, op: str,
              logits: bool = False) -> Tensor:
    """nll_loss, with `op` (the function the user called) naming it in error messages; `logits`: the
    input is unnormalised and FusedCrossEntropy takes its log-softmax and picks in one node."""
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
    if logits:
        losses = FusedCrossEntropy.apply(log_probs, targets=safe, keep=keep)
    else:
        picked = log_probs[np.arange(len(safe)), safe]  # (N,)
        losses = -(picked * keep.astype(log_probs.dtype)) if not keep.all() else -picked
    if reduction == "none":
        return losses.reshape(expected)
    return _reduce(losses, reduction, count=keep.sum())


def cross_entropy(logits: Tensor, targets: Any, ignore_index: int = -100, reduction: str = "mean",
                  fused: bool = False) -> Tensor:
    """Cross-entropy of integer `targets` given unnormalised `logits`: nll_loss(log_softmax(logits)).

    Shapes as `nll_loss`: logits (N, C) and targets (N,), the class axis being axis 1.
    In nats; exp of the mean is the perplexity. ``fused=True``: the log-softmax and the pick are one
    node (`FusedCrossEntropy`, same values, double backward supported); the default composes them.

    Example: ``cross_entropy(Tensor([[2.0, 0.0]]), np.array([0]))`` is ``log(1 + e^-2)``.
    """
    tag(logits, "logits")  # the BPTT explorer draws their softmax, and names the result a loss
    if fused:
        return tag(_nll_loss(logits, targets, ignore_index, reduction, "cross_entropy", logits=True), "loss")
    axis = 0 if logits.ndim == 1 else 1
    return tag(_nll_loss(logits.log_softmax(axis), targets, ignore_index, reduction, "cross_entropy"), "loss")


class FusedCrossEntropy(Function):
    """out_i = -log softmax(z_i)[t_i] keep_i, rows z (N, C);  dz = (softmax(z) - onehot(t)) grad keep.

    NOTE: speed: one node where the composed form takes seven, and one (N, C) buffer each way: forward
    turns z - max into the softmax in place (max, subtract, exp, sum, scale: five passes), backward scales
    it (in place when the engine frees the node after, else a copy) and subtracts at the targets (no
    one-hot array), which matters at large vocabularies.
    """

    def forward(self, z, targets, keep):
        top = z.max(axis=1, keepdims=True)
        top[~np.isfinite(top)] = 0.0
        prob = z - top  # (N, C): the shifted logits, then their softmax in place
        rows = np.arange(len(targets))
        picked = prob[rows, targets]  # (N,) a copy
        np.exp(prob, out=prob)
        total = prob.sum(axis=1, keepdims=True)  # (N, 1)
        prob /= total
        self.targets, self.keep = targets, keep.astype(z.dtype)
        self.save_for_backward(z, prob)  # the input and its softmax
        return (np.log(total[:, 0]) - picked) * self.keep  # (N,)

    def backward(self, grad):
        z, prob = self.saved_tensors
        weight = grad * self.keep  # (N,)
        rows = np.arange(len(self.targets))
        if self.create_graph:  # the saved softmax would be a constant: recompute it from z
            onehot = np.zeros(z.shape, dtype=z.dtype)
            onehot[rows, self.targets] = 1.0
            return (z.softmax(1) - onehot) * weight.reshape(-1, 1)
        # NOTE: memory: when the node is freed after this pass, its softmax buffer becomes the gradient
        # (at 30k words, one (N, C) buffer fewer a step); otherwise a copy, so that prob stays intact
        dz = prob if self.frees_saved else prob.copy()
        dz *= weight.reshape(-1, 1)
        dz[rows, self.targets] -= weight
        return dz


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
    return x * Tensor(dropout_mask(x.shape, p, x.dtype, rng))


def dropout_mask(shape: tuple[int, ...], p: float, dtype: Any, rng: np.random.Generator | None) -> np.ndarray:
    """What dropout multiplies by: 0 with probability `p`, else 1/(1-p); one draw of ``rng.random(shape)``."""
    rng = generator(rng)
    keep = rng.random(shape) >= p
    return (keep / (1.0 - p)).astype(dtype)


def one_hot(indices: Any, num_classes: int, dtype: Any = np.float32) -> Tensor:
    """(…,) integer indices -> (…, num_classes) rows of zeros with a single one."""
    indices = np.asarray(indices.numpy() if isinstance(indices, Tensor) else indices)
    return Tensor(np.eye(num_classes, dtype=dtype)[indices])


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, fused: bool = False) -> Tensor:
    """x @ weight.T + bias, with weight of shape (out_features, in_features).

    ``fused=True``: one node (`FusedLinear`, same values, double backward supported); the default
    composes a transpose, a matmul and an add.
    """
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape}: the weight is "
            f"(out_features, in_features), so the input's last axis must be in_features = "
            f"{weight.shape[-1] if weight.ndim else '?'}"
        )
    if fused:
        return FusedLinear.apply(x, weight) if bias is None else FusedLinear.apply(x, weight, bias)
    out = x @ weight.T
    return out if bias is None else out + bias


class FusedLinear(Function):
    """out = x w^T + b over x's last axis;  dx = grad w,  dw = grad^T x over all rows,  db = grad (summed).

    NOTE: speed: one node where the composed form takes three (transpose, matmul, add): the rows of
    every leading axis in one GEMM, the bias added into the product's own buffer, and w's gradient
    made in w's layout, (out, in), by one GEMM.
    """

    def forward(self, x, w, b=None):
        self.save_for_backward(x, w)
        out = _rows(x) @ w.T  # (N, in) @ (in, out) -> (N, out)
        if b is not None:
            out = _add_into(out, b)
        return out.reshape(*x.shape[:-1], w.shape[0])

    def backward(self, grad):
        x, w = self.saved_tensors
        need_x, need_w = self.needs_input_grad[:2]
        rows = _rows(grad)  # (N, out)
        dx = (rows @ w).reshape(x.shape) if need_x else None  # (N, out) @ (out, in)
        dw = rows.T @ _rows(x) if need_w else None  # (out, N) @ (N, in)
        return (dx, dw) if len(self.needs_input_grad) == 2 else (dx, dw, grad)  # the engine sums db


def _rows(x: Any) -> Any:
    """An array or Tensor (..., n) as a matrix (N, n) of all its rows."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


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
    fused: bool = False,
) -> Tensor:
    """Normalise the last len(normalized_shape) axes to mean 0, variance 1, then scale and shift.

    ``fused=True``: the normalisation is one node (`FusedLayerNorm`, same values, double backward
    supported), with the scale and shift inside it when both are given; the default composes it from
    a dozen primitives.
    """
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    if fused and weight is not None and bias is not None:
        return FusedLayerNorm.apply(x, weight, bias, axes=axes, eps=eps)
    if fused:
        out = FusedLayerNorm.apply(x, axes=axes, eps=eps)
    else:
        out = _normalize(x, axes, eps)
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over `axes`, composed from primitives."""
    return (x - x.mean(axes, keepdims=True)) / (x.var(axes, keepdims=True, ddof=0) + eps).sqrt()


class FusedLayerNorm(Function):
    """xhat = (x - mean) r over `axes`, r = 1/sqrt(var + eps); out = xhat, or xhat w + b given w and b;
    g = grad w (or grad);  dx = (g - mean(g) - xhat mean(g xhat)) r;  dw = grad xhat;  db = grad.

    NOTE: speed: one node and five passes over x forward where the composed form takes eleven nodes
    (thirteen with w and b, whose gradients the engine sums over the rows like any broadcast one).
    """

    def forward(self, x, *affine, axes, eps):
        self.axes, self.eps = axes, eps
        xhat = x - _mean(x, axes)
        rstd = 1.0 / np.sqrt(_mean(xhat * xhat, axes) + eps)
        xhat *= rstd
        self.save_for_backward(x, xhat, rstd, *affine[:1])  # the input, xhat, 1/std and w
        if not affine:
            return xhat
        w, b = affine
        return _add_into(xhat * w, b)

    def backward(self, grad):
        axes = self.axes
        x, xhat, rstd, *w = self.saved_tensors
        if self.create_graph:  # saved intermediates would be constants: recompute them from x
            rstd = 1 / (x.var(axes, keepdims=True, ddof=0) + self.eps).sqrt()
            if w:  # xhat is not the output here (without w the saved output is xhat itself)
                xhat = (x - x.mean(axes, keepdims=True)) * rstd
        # fresh temporaries: the augmented assignments below are in place on arrays and new nodes on
        # Tensors that require grad (see Tensor.__isub__), so the one formula serves both passes
        g = grad * w[0] if w else grad
        dx = g - _mean(g, axes)
        dx -= xhat * _mean(g * xhat, axes)
        dx *= rstd
        return (dx, grad * xhat, grad) if w else dx


def _add_into(out: np.ndarray, b: np.ndarray) -> np.ndarray:
    """out + b, written into `out` (a fresh array) unless b is wider and widens the result, as NumPy's
    + would."""
    if np.promote_types(out.dtype, b.dtype) != out.dtype:
        return out + b
    out += b
    return out


def _mean(x: Any, axes: tuple[int, ...]) -> Any:
    """x.mean(axes, keepdims=True) for an array or a Tensor.

    NOTE: speed: over the last axis of a float array, one matrix-vector product x (..., C) @ (C, 1) / C,
    several times faster than NumPy's mean at a layer's width.
    """
    if isinstance(x, np.ndarray) and x.ndim and x.dtype.kind == "f" \
            and tuple(a % x.ndim for a in axes) == (x.ndim - 1,):
        n = x.shape[-1]
        return x @ np.full((n, 1), 1.0 / n, dtype=x.dtype)
    return x.mean(axes, keepdims=True)


_GELU_C = float(np.sqrt(2 / np.pi))  # a Python float: a NumPy float64 scalar would upcast float32 inputs
_GELU_A = 0.044715


def gelu(x: Tensor, fused: bool = False) -> Tensor:
    """Gaussian error linear unit, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    ``fused=True``: one node (`FusedGelu`, same values, double backward supported).
    """
    if fused:
        return FusedGelu.apply(x)
    return 0.5 * x * (1 + (_GELU_C * (x + _GELU_A * x**3)).tanh())


class FusedGelu(Function):
    """out = x/2 (1 + th), th = tanh(c (x + a x^3));  dx = grad (1 + th + x (1 - th^2) c (1 + 3 a x^2)) / 2.

    NOTE: speed: one node, passes over x made in place, and x^3 as x*x*x (float32 ``x ** 3`` takes
    libm's slow pow path for negative x).
    """

    def forward(self, x):
        th = np.multiply(x, x, out=np.empty_like(x))  # an array even for a 0-d x (x * x would be a scalar)
        th *= _GELU_A * _GELU_C
        th += _GELU_C
        th *= x
        np.tanh(th, out=th)
        self.save_for_backward(x, th)
        out = th + 1
        out *= x
        out *= 0.5
        return out

    def backward(self, grad):
        x, th = self.saved_tensors
        if self.create_graph:  # the saved tanh would be a constant: recompute it from x
            th = (_GELU_C * (x + _GELU_A * (x * x * x))).tanh()
        # Augmented assignments on fresh temporaries: in place on arrays (a first-order pass); on Tensors
        # Tensor.__imul__ / __iadd__ record a new node (x * y, x + y) where a gradient flows and write into
        # the temporary where none does, so this one formula serves both.
        # NOTE: speed: (1 + th) / 2 + s (1 - th^2) = s + 1/2 + th (1/2 - th s): two temporaries, not three
        slope = x * x
        slope *= 1.5 * _GELU_A * _GELU_C
        slope += 0.5 * _GELU_C
        slope *= x  # s = x c (1 + 3 a x^2) / 2
        dx = th * slope
        dx *= -1
        dx += 0.5
        dx *= th
        dx += slope
        dx += 0.5
        dx *= grad
        return dx


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()
