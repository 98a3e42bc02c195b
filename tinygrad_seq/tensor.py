"""Tensor: a NumPy array with a gradient, and the operators and methods that build the graph."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import autograd, ops
from .autograd import STATE, ShapeError

Axis = int | tuple[int, ...] | None

_new = object.__new__


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Python floats, ints and lists become float32; NumPy arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, np.ndarray | np.generic):
        return np.asarray(data, dtype=dtype)
    if isinstance(data, bool):
        return np.asarray(data, dtype=dtype or bool)
    return np.asarray(data, dtype=dtype or np.float32)


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autograd.

    Example::

        >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        Tensor([2. 4. 6.])
    """

    # _cut_from (set only by detach, and kept by indexing the result): a weak reference to the tensor this
    # one was detached from, so that a picture of the graph can draw the truncation point; unset elsewhere.
    __slots__ = ("_data", "grad", "requires_grad", "grad_fn", "_version", "_retains_grad", "_cut_from",
                 "__weakref__")
    __array_ufunc__ = None  # `ndarray + Tensor` calls Tensor.__radd__ instead of NumPy's loop

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self.grad_fn: autograd.Function | None = None
        self._version = 0
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()

    @classmethod
    def _wrap(cls, array: np.ndarray, requires_grad: bool) -> Tensor:
        """Make a Tensor around an op's result without copying or checks (the hot path)."""
        t = _new(cls)
        t._data = array
        t.grad = t.grad_fn = None
        t._version = 0
        t._retains_grad = False
        t.requires_grad = requires_grad
        return t

    # ------------------------------------------------------------------ attributes

    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = _to_array(value, self._data.dtype)
        self._version += 1

    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    dtype = property(lambda self: self._data.dtype)
    size = property(lambda self: self._data.size)
    is_leaf = property(lambda self: self.grad_fn is None)
    T = property(lambda self: self.transpose())

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        extra = (
            f", grad_fn={self.grad_fn.name}"
            if self.grad_fn
            else ", requires_grad=True"
            if self.requires_grad
            else ""
        )
        body = np.array2string(self._data, separator=" ", precision=4, threshold=20)
        dtype = "" if self.dtype == np.float32 else f", dtype={self.dtype}"
        return f"Tensor({body}{dtype}{extra})"

    def numpy(self) -> np.ndarray:
        return self._data

    def item(self) -> float | int | bool:
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __setitem__(self, index: Any, value: Any) -> None:
        """Write into `data` in place (no gradient flows through this write)."""
        if self.requires_grad and STATE.grad_enabled:
            raise RuntimeError(
                f"setitem: cannot write in place into a tensor of shape {self.shape} that requires grad; "
                "build a new tensor instead (where, masked_fill, concatenate) or write under no_grad()."
            )
        self._data[_index(index)] = _to_array(value, self.dtype)
        self._version += 1

    # ------------------------------------------------------------------ autograd

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, but this one has dtype {self.dtype}; "
                "convert it first, e.g. x.astype(np.float32)"
            )
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in `.grad` after backward (for inspection)."""
        self._retains_grad = True
        return self

    def detach(self) -> Tensor:
        """The same values, cut from the graph: no gradient flows back through the result."""
        out = Tensor._wrap(self._data, False)
        if self.requires_grad:  # a weak reference: the result keeps no old graph alive
            out._cut_from = weakref.ref(self)
        return out

    def backward(self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad."""
        autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def astype(self, dtype: Any) -> Tensor:
        return self if self.dtype == np.dtype(dtype) else ops.Cast.apply(self, dtype=np.dtype(dtype))

    # ------------------------------------------------------------------ arithmetic

    def _other(self, other: Any) -> Tensor:
        """A Python scalar takes this tensor's dtype (never upcasts it); arrays keep theirs."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, int | float) and not isinstance(other, bool):
            return Tensor._wrap(np.asarray(other, dtype=np.result_type(self._data.dtype, other)), False)
        return Tensor(other)

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, self._other(other))

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(self._other(other), self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, self._other(other))

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self._other(other), self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, self._other(other))

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self._other(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, self._other(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self._other(other), self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, Tensor) and exponent.requires_grad:
            return (exponent * self.log()).exp()  # x ** y = e^(y ln x), for x > 0
        # a constant exponent (number, array, tensor without grad) works for negative bases too
        if not isinstance(exponent, int | float | np.generic | np.ndarray):
            exponent = _to_array(exponent)
        return ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return (self * self._other(base).log()).exp()  # b ** x = e^(x ln b), for b > 0

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, self._other(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(self._other(other), self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    # comparisons give boolean tensors without gradients
    def __lt__(self, other: Any) -> Tensor:
        return Tensor(self._data < _plain(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor(self._data <= _plain(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor(self._data > _plain(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor(self._data >= _plain(other))

    def eq(self, other: Any) -> Tensor:
        """Elementwise ==, as a boolean tensor (`==` itself keeps identity semantics for hashing)."""
        return Tensor(self._data == _plain(other))

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ elementwise

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return ops.Clip.apply(self, low=min, high=max)

    def maximum(self, other: Any) -> Tensor:
        return ops.Maximum.apply(self, self._other(other))

    def minimum(self, other: Any) -> Tensor:
        return -ops.Maximum.apply(-self, -self._other(other))

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        """Replace the elements where `mask` is True by `value` (no gradient reaches them)."""
        return where(mask, self._other(value), self)

    # ------------------------------------------------------------------ reductions

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=ops.normalize_axis(axis, self.ndim, "sum"), keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        axes = ops.normalize_axis(axis, self.ndim, "mean")
        count = self.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axes, keepdims) / count

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        axes = ops.normalize_axis(axis, self.ndim, "var")
        count = self.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        centred = self - self.mean(axes, keepdims=True)
        return (centred * centred).sum(axes, keepdims) / (count - ddof)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.Max.apply(self, axis=ops.normalize_axis(axis, self.ndim, "max"), keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return -(-self).max(axis, keepdims)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.LogSumExp.apply(self, axis=ops.normalize_axis(axis, self.ndim, "logsumexp"),
                                   keepdims=keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return self.log_softmax(axis).exp()

    def log_softmax(self, axis: int = -1) -> Tensor:
        # NOTE: shift by the row max first, as a constant (log_softmax does not change under a shift, so
        # no gradient is lost): x - max is exact, whereas x - logsumexp(x) subtracts two large numbers
        # and loses the low digits (softmax of three logits of -1e4 in float32 was off by 2e-5)
        m = np.max(self._data, axis=axis, keepdims=True)
        shifted = self - Tensor._wrap(np.where(np.isfinite(m), m, 0).astype(self.dtype, copy=False), False)
        return shifted - shifted.logsumexp(axis, keepdims=True)

    def argmax(self, axis: int | None = None) -> Tensor:
        return Tensor(np.argmax(self._data, axis=axis))

    # ------------------------------------------------------------------ shape

    def reshape(self, *shape: Any) -> Tensor:
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        if shape == self.shape:
            return self
        try:
            np.empty(self.shape, dtype=bool).reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {self.shape} into {shape}") from None
        return ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes: Any) -> Tensor:
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        # negative axes made non-negative, so that backward's inverse permutation (argsort) is right
        return ops.Transpose.apply(self, axes=tuple(int(a) % max(self.ndim, 1) for a in axes))

    permute = transpose

    def swapaxes(self, a: int, b: int) -> Tensor:
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return self.transpose(axes)

    def expand_dims(self, axis: Axis) -> Tensor:
        try:
            shape = np.expand_dims(np.empty(self.shape, dtype=bool), axis).shape
        except ValueError as err:
            raise ShapeError(f"expand_dims: axis {axis} for a tensor of shape {self.shape}: {err}") from None
        return self.reshape(shape)

    def squeeze(self, axis: Axis = None) -> Tensor:
        try:
            shape = np.squeeze(np.empty(self.shape, dtype=bool), axis).shape
        except ValueError as err:
            raise ShapeError(f"squeeze: axis {axis} of a tensor of shape {self.shape}: {err}") from None
        return self.reshape(shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        shape = tuple(shape)
        if shape == self.shape:
            return self
        try:
            fits = np.broadcast_shapes(self.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"broadcast_to: cannot broadcast a tensor of shape {self.shape} to {shape}")
        return ops.BroadcastTo.apply(self, shape=shape)

    def flip(self, axis: Axis = None) -> Tensor:
        return ops.Flip.apply(self, axis=axis)

    def split(self, sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
        """Like np.split: `sections` equal parts, or the indices to cut at."""
        n = self.shape[axis]
        if isinstance(sections, int):
            if n % sections:
                raise ShapeError(
                    f"split: axis {axis} of length {n} does not divide into {sections} equal parts"
                )
            cuts = list(range(0, n, n // sections))[1:]
        else:
            cuts = list(sections)
        lead = (slice(None),) * (axis % self.ndim)
        return [self[lead + (slice(a, b),)] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]

    def __getitem__(self, index: Any) -> Tensor:
        out = ops.GetItem.apply(self, index=_index(index))
        if not self.requires_grad and hasattr(self, "_cut_from"):  # a view of a detached tensor is cut too
            out._cut_from = self._cut_from
        return out

    def take(self, indices: Any, axis: int = 0) -> Tensor:
        """Gather along `axis` by integer indices (an embedding lookup is `weight.take(ids)`)."""
        lead = (slice(None),) * (axis % self.ndim)
        return self[lead + (_plain(indices),)]


autograd.set_tensor_type(Tensor)


def _plain(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _index(index: Any) -> Any:
    """Tensors inside an index become arrays; boolean masks become integer arrays (for scatter-add)."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        i = _plain(i)
        if isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, bool | np.bool_) or isinstance(i, np.ndarray) and i.dtype == bool and i.ndim == 0:
            # NumPy reads x[True] as x[None] (not x[1]); say so rather than silently pick element 1
            raise IndexError("getitem: a single True/False is not a supported index; use x[None] to add an "
                             "axis, or a boolean mask with at least one dimension")
        if isinstance(i, np.ndarray) and i.dtype == bool:
            out.extend(np.nonzero(i))
        else:
            out.append(i)
    return tuple(out)


# ---------------------------------------------------------------------- functions of several tensors


def matmul(x: Tensor, y: Tensor) -> Tensor:
    """x @ y with NumPy's rules: 1-D operands are promoted to matrices and the extra axis dropped."""
    if x.ndim == 0 or y.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least one dimension, got {x.shape} and {y.shape}")
    if x.ndim >= 2 and y.ndim >= 2:
        return ops.MatMul.apply(x, y)
    left = x.reshape(1, -1) if x.ndim == 1 else x  # (n,) -> (1, n)
    right = y.reshape(-1, 1) if y.ndim == 1 else y  # (n,) -> (n, 1)
    if left.shape[-1] != right.shape[-2]:
        n, m = left.shape[-1], right.shape[-2]
        raise ShapeError(f"matmul: shapes {x.shape} and {y.shape} are not aligned: {n} != {m}")
    out = ops.MatMul.apply(left, right)
    if x.ndim == 1:
        out = out.squeeze(-2)
    if y.ndim == 1:
        out = out.squeeze(-1)
    return out


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elementwise `condition ? x : y`; the gradient goes to whichever side was chosen."""
    if not isinstance(x, Tensor):
        x = y._other(x) if isinstance(y, Tensor) else Tensor(x)
    if not isinstance(y, Tensor):
        y = x._other(y)
    return ops.Where.apply(x, y, condition=np.asarray(_plain(condition), dtype=bool))


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    return ops.Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    return concatenate([t.expand_dims(axis) for t in tensors], axis=axis)


def maximum(x: Tensor, y: Any) -> Tensor:
    return x.maximum(y)


def minimum(x: Tensor, y: Any) -> Tensor:
    return x.minimum(y)


# ---------------------------------------------------------------------- constructors


def zeros(*shape: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def full(
    shape: Sequence[int] | int, value: float, dtype: Any = np.float32, requires_grad: bool = False
) -> Tensor:
    return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)


def arange(*args: float, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.arange(*args, dtype=dtype))


def eye(n: int, m: int | None = None, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype))


def randn(
    *shape: int, rng: np.random.Generator | None = None, dtype: Any = np.float32, requires_grad: bool = False
) -> Tensor:
    """Standard normal samples; pass `rng` (a NumPy Generator) for reproducible numbers."""
    rng = rng if rng is not None else np.random.default_rng()
    return Tensor(rng.standard_normal(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def rand(
    *shape: int, rng: np.random.Generator | None = None, dtype: Any = np.float32, requires_grad: bool = False
) -> Tensor:
    """Uniform samples in [0, 1); pass `rng` for reproducible numbers."""
    rng = rng if rng is not None else np.random.default_rng()
    return Tensor(rng.random(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def zeros_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    return zeros(*x.shape, dtype=x.dtype, requires_grad=requires_grad)


def ones_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    return ones(*x.shape, dtype=x.dtype, requires_grad=requires_grad)


def full_like(x: Tensor, value: float, requires_grad: bool = False) -> Tensor:
    return full(x.shape, value, dtype=x.dtype, requires_grad=requires_grad)


def _shape(shape: tuple) -> tuple[int, ...]:
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape

