"""The primitive ops: forward in NumPy, backward side by side, written once for arrays and Tensors.

Every op here is a `Function` written in the engine's one protocol (see `Function`): forward keeps
what backward needs with ``save_for_backward``; backward gets ``grad`` and ``saved_tensors`` as arrays
in a first-order pass (NOTE: speed: no Tensor or graph node per backward op) and as Tensors when
``create_graph=True`` (a saved input or output comes back as that very Tensor), so each rule uses only
what arrays and Tensors share (operators, reshape, transpose, sum, astype, and the few helpers below)
and the one rule also builds the graph of the gradient. Non-float saved arrays (masks) stay arrays.

Derivative table (``grad`` is dL/d(out); ``x``, ``y`` are the inputs, ``out`` the result; "saves" is
what forward keeps for backward). The engine sums each result back to its input's shape, so no rule
here handles broadcasting.

    Add        out = x + y             dx = grad                  dy = grad
    Sub        out = x - y             dx = grad                  dy = -grad
    Mul        out = x * y             dx = grad * y              dy = grad * x                  saves x, y
    Div        out = x / y             dx = grad / y              dy = -grad * x / y^2           saves x, y
    Pow        out = x ** p            dx = grad * p * x ** (p-1)  (p a number or array, no grad) saves x
    MatMul     out = x @ y             dx = grad @ y^T            dy = x^T @ grad                saves x, y
    Maximum    out = max(x, y)         dx = grad * [x > y] + grad/2 * [x == y], dy likewise   saves the share
    Where      out = c ? x : y         dx = c ? grad : 0          dy = c ? 0 : grad              (c a param)
    Neg        out = -x                dx = -grad
    Exp        out = e^x               dx = grad * out                                          saves out
    Log        out = ln x              dx = grad / x                                            saves x
    Sqrt       out = sqrt x            dx = grad / (2 out)                                      saves out
    Abs        out = |x|               dx = grad * sign(x)                                      saves sign(x)
    Tanh       out = tanh x            dx = grad * (1 - out^2)                                  saves out
    Sigmoid    out = 1/(1+e^-x)        dx = grad * out * (1 - out)                              saves out
    Relu       out = max(x, 0)         dx = grad * [x > 0]                                      saves the mask
    Clip       out = clip(x, lo, hi)   dx = grad * [lo <= x <= hi]                              saves the mask
    Cast       out = x as dtype        dx = grad as x's dtype
    Sum        out = sum(x, axis)      dx = broadcast(grad)
    Max        out = max(x, axis)      dx = broadcast(grad) * [x == out] / count(x == out)     saves the share
    LogSumExp  out = log sum e^x       dx = broadcast(grad) * e^(x - out)                       saves x, out
    Reshape    out = x.reshape(s)      dx = grad.reshape(x.shape)
    Transpose  out = x.transpose(p)    dx = grad.transpose(p^-1)
    BroadcastTo out = broadcast(x, s)  dx = grad                  (summed by the engine)
    Flip       out = flip(x, axis)     dx = flip(grad, axis)
    Concatenate out = [x1, x2, ...]    dxi = grad[slice of xi]
    GetItem    out = x[i]              dx = scatter_add(zeros(x.shape), i, grad)  (in place: `scatter_into`)
    ScatterAdd out = zeros; out[i] += x dx = grad[i]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd import Function, ShapeError, constant


def _is_array(v: Any) -> bool:
    return isinstance(v, np.ndarray | np.generic)


def _swap_last(t: Any) -> Any:
    """t with its last two axes swapped (the matrix transpose of each batch element)."""
    if _is_array(t):
        return np.swapaxes(t, -1, -2)
    n = t.ndim
    return Transpose.apply(t, axes=(*range(n - 2), n - 1, n - 2))


def _broadcast_to(v: Any, shape: tuple[int, ...]) -> Any:
    return np.broadcast_to(v, shape) if _is_array(v) else v.broadcast_to(shape)


def _exp(v: Any) -> Any:
    return np.exp(v) if _is_array(v) else v.exp()


def _flip(v: Any, axis: Any) -> Any:
    return np.flip(v, axis) if _is_array(v) else v.flip(axis)


# --------------------------------------------------------------------------- elementwise, binary


class Add(Function):
    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, -grad


class Mul(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, grad):
        x, y = self.saved_tensors
        return grad * y, grad * x


class Div(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x / y

    def backward(self, grad):
        x, y = self.saved_tensors
        gx = grad / y
        return gx, -gx * x / y


class Pow(Function):
    def forward(self, x, exponent):
        self.p = exponent
        self.save_for_backward(x)
        return x**exponent

    def backward(self, grad):
        (x,) = self.saved_tensors
        p = self.p
        if np.ndim(p) == 0 and p == 2:
            return grad * 2 * x
        # where p == 0 the gradient is 0 everywhere; p * x**(p-1) would give 0 * inf = NaN at x == 0
        return grad * p * x ** np.where(np.equal(p, 0), 0, np.subtract(p, 1))


class MatMul(Function):
    def forward(self, x, y):
        if x.ndim < 2 or y.ndim < 2:
            raise ValueError("matmul primitive needs two arrays of 2 or more dimensions")
        if x.shape[-1] != y.shape[-2]:
            raise ShapeError(
                f"matmul: shapes {x.shape} and {y.shape} are not aligned: {x.shape[-1]} != {y.shape[-2]} "
                "(the last axis of the left operand must equal the second-to-last of the right)"
            )
        self.save_for_backward(x, y)
        if y.ndim == 2 and x.ndim > 2:  # NOTE: speed: (..., K) @ (K, N) as one (M, K) @ (K, N) product
            return (x.reshape(-1, x.shape[-1]) @ y).reshape(*x.shape[:-1], y.shape[-1])
        try:
            return x @ y
        except ValueError:
            raise ShapeError(
                f"matmul: shapes {x.shape} and {y.shape} have batch dimensions {x.shape[:-2]} and "
                f"{y.shape[:-2]} that do not broadcast"
            ) from None

    def backward(self, grad):
        x, y = self.saved_tensors
        need_x, need_y = self.needs_input_grad  # NOTE: speed: no GEMM for an input that needs no gradient
        if not need_x:
            gx = None
        elif y.ndim == 2 and x.ndim > 2:  # NOTE: speed: (M, N) @ (N, K) as one GEMM, as in forward
            gx = (grad.reshape(-1, grad.shape[-1]) @ _swap_last(y)).reshape(x.shape)
        else:
            gx = grad @ _swap_last(y)
        if not need_y:
            gy = None
        elif y.ndim == 2 and x.ndim > 2:  # NOTE: speed: fold the batch axes, (M, K)^T @ (M, N) -> (K, N)
            gy = _swap_last(x.reshape(-1, x.shape[-1])) @ grad.reshape(-1, grad.shape[-1])
        else:
            gy = _swap_last(x) @ grad
        return gx, gy


class Maximum(Function):
    def forward(self, x, y):
        self.save_for_backward((x > y) + 0.5 * (x == y))  # the share of grad that goes to x
        return np.maximum(x, y)

    def backward(self, grad):
        (share,) = self.saved_tensors
        share = share.astype(grad.dtype)
        return grad * share, grad * (1 - share)


class Where(Function):
    def forward(self, x, y, condition):
        self.condition = np.asarray(condition, dtype=bool)
        return np.where(self.condition, x, y)

    def backward(self, grad):
        c = self.condition
        if not self.create_graph:
            return np.where(c, grad, 0), np.where(c, 0, grad)
        zero = constant(np.zeros((), dtype=grad.dtype))
        return Where.apply(grad, zero, condition=c), Where.apply(zero, grad, condition=c)


# --------------------------------------------------------------------------- elementwise, unary


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


# Exp, Sqrt, Tanh, Sigmoid and LogSumExp save their forward result for backward; with create_graph it
# comes back as the output Tensor itself, so the gradient's graph runs through this very node again.


class Exp(Function):
    def forward(self, x):
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * out


class Log(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / x


class Sqrt(Function):
    def forward(self, x):
        out = np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad / (2 * out)


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(np.sign(x))
        return np.abs(x)

    def backward(self, grad):
        (sign,) = self.saved_tensors
        return grad * sign.astype(grad.dtype)


class Tanh(Function):
    def forward(self, x):
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * (1 - out * out)


class Sigmoid(Function):
    def forward(self, x):
        # NOTE: a primitive for stability: 1 / (1 + e^-x) overflows for x << 0, so with e = e^-|x|
        # use 1 / (1 + e) for x >= 0 and e / (1 + e) below (accurate in both tails)
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1.0, e) / (1 + e)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * out * (1 - out)


class Relu(Function):
    def forward(self, x):
        mask = x > 0
        self.save_for_backward(mask)
        return np.where(mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, grad):
        (mask,) = self.saved_tensors
        return grad * mask.astype(grad.dtype)


class Clip(Function):
    def forward(self, x, low, high):
        lo = -np.inf if low is None else low
        hi = np.inf if high is None else high
        self.save_for_backward((x >= lo) & (x <= hi))
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, grad):
        (mask,) = self.saved_tensors
        return grad * mask.astype(grad.dtype)


class Cast(Function):
    def forward(self, x, dtype):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.dtype)


# --------------------------------------------------------------------------- reductions


def _kept_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape a reduction over `axis` has with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def normalize_axis(axis: Any, ndim: int, op: str = "reduce") -> tuple[int, ...] | None:
    """None stays None; an int or tuple becomes a sorted tuple of non-negative axes (`op` names the
    caller in the error message)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ShapeError(f"{op}: axis {a} is out of bounds for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    return tuple(sorted(out))


class Sum(Function):
    def forward(self, x, axis, keepdims):
        self.kept, self.shape = _kept_shape(x.shape, axis), x.shape
        return np.sum(x, axis=axis, keepdims=keepdims)

    def backward(self, grad):
        return _broadcast_to(grad.reshape(self.kept), self.shape)


class Max(Function):
    def forward(self, x, axis, keepdims):
        if x.size == 0:
            raise ShapeError(f"max: cannot reduce an empty tensor of shape {x.shape}")
        self.kept = _kept_shape(x.shape, axis)
        out = np.max(x, axis=axis, keepdims=True)
        hit = x == out
        self.save_for_backward(hit / hit.sum(axis=axis, keepdims=True))  # ties share the gradient
        return out if keepdims else out.reshape(np.max(x, axis=axis).shape)

    def backward(self, grad):
        (share,) = self.saved_tensors
        return grad.reshape(self.kept) * share.astype(grad.dtype)


class LogSumExp(Function):
    # NOTE: a primitive for stability: subtract the max before exponentiating
    def forward(self, x, axis, keepdims):
        self.axis, self.kept = axis, _kept_shape(x.shape, axis)
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        if not keepdims:
            out = out.reshape(np.sum(x, axis=axis).shape)
        self.save_for_backward(x, out)
        return out

    def backward(self, grad):
        x, out = self.saved_tensors
        return grad.reshape(self.kept) * _exp(x - out.reshape(self.kept))


# --------------------------------------------------------------------------- shape


class Reshape(Function):
    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Transpose(Function):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, grad):
        return grad.transpose(tuple(np.argsort(self.axes)))


class BroadcastTo(Function):
    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, grad):
        return grad


class Flip(Function):
    def forward(self, x, axis):
        self.axis = axis
        return np.flip(x, axis)

    def backward(self, grad):
        return _flip(grad, self.axis)


class Concatenate(Function):
    def forward(self, *xs, axis):
        self.axis = axis
        self.bounds = np.cumsum([0] + [x.shape[axis] for x in xs])
        return np.concatenate(xs, axis=axis)

    def backward(self, grad):
        lead = (slice(None),) * (self.axis % grad.ndim)
        return tuple(
            grad[lead + (slice(a, b),)] for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=True)
        )


def _is_basic(index: tuple) -> bool:
    """True for indices made of ints, slices, None and Ellipsis (no element can be picked twice)."""
    return all(isinstance(i, int | slice | type(None) | type(Ellipsis) | np.integer) for i in index)


def _scatter_add(out: np.ndarray, index: tuple, values: np.ndarray) -> None:
    """out[index] += values in place; repeated indices accumulate."""
    if _is_basic(index):
        out[index] += values
    elif _is_row_gather(out, index, values):
        _scatter_rows(out, index[0], values)
    else:
        np.add.at(out, index, values)


def _is_row_gather(out: np.ndarray, index: tuple, values: np.ndarray) -> bool:
    """True for out[ids] with one integer array `ids` picking whole rows, many of them repeated
    (an embedding's backward), and `values` of the picked shape (no broadcasting)."""
    if len(index) != 1 or not isinstance(index[0], np.ndarray) or index[0].dtype.kind not in "iu":
        return False
    ids = index[0]
    return ids.size * 8 >= out.shape[0] and values.shape == ids.shape + out.shape[1:]


def _scatter_rows(out: np.ndarray, ids: np.ndarray, values: np.ndarray) -> None:
    """out[ids] += values with repeats: rows sorted by id, each run summed by one np.add.reduceat.

    NOTE: speed: np.add.at adds one row at a time; this sums (N, ...) rows into their U distinct ids
    with one stable sort and one reduction, 2-4x faster when ids repeat (a char vocabulary).
    """
    if ids.size == 0:
        return
    rows = ids.reshape(-1)
    rows = np.where(rows < 0, rows + out.shape[0], rows)  # -1 and V-1 are the same row
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    flat = values.reshape(rows.size, *out.shape[1:])[order]
    out[ordered[starts]] += np.add.reduceat(flat, starts, axis=0)


class GetItem(Function):
    def forward(self, x, index):
        self.index, self.shape = index, x.shape
        return x[index]

    def backward(self, grad):
        return ScatterAdd.apply(grad, index=self.index, shape=self.shape)

    def scatter_into(self, out: np.ndarray, grad: np.ndarray) -> None:
        """The first-order backward done in place: out[index] += grad (the engine's fast path)."""
        _scatter_add(out, self.index, grad)


class ScatterAdd(Function):
    def forward(self, x, index, shape):
        self.index = index
        out = np.zeros(shape, dtype=x.dtype)
        _scatter_add(out, index, x)
        return out

    def backward(self, grad):
        return grad[self.index]
