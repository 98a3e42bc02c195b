"""The primitive ops: forward in NumPy, backward side by side, written once for arrays and Tensors.

Each rule uses only what NumPy arrays and Tensors share (operators, reshape, transpose, sum, astype,
and the few helpers below), so the one rule serves both passes: a first-order pass gives it arrays
(NOTE: speed: no Tensor or graph node per backward op), and ``create_graph=True`` gives it Tensors, so
that the gradient is itself differentiable. `_inputs` hands a rule its inputs in the matching form.

Derivative table (``grad`` is dL/d(out); ``x``, ``y`` are the inputs, ``out`` the result). The
engine sums each result back to its input's shape, so no rule here handles broadcasting.

    Add        out = x + y             dx = grad                  dy = grad
    Sub        out = x - y             dx = grad                  dy = -grad
    Mul        out = x * y             dx = grad * y              dy = grad * x
    Div        out = x / y             dx = grad / y              dy = -grad * out / y
    Pow        out = x ** p            dx = grad * p * x ** (p-1)         (p a number or array, no grad)
    MatMul     out = x @ y             dx = grad @ y^T            dy = x^T @ grad
    Maximum    out = max(x, y)         dx = grad * [x > y] + grad/2 * [x == y], dy likewise
    Where      out = c ? x : y         dx = c ? grad : 0          dy = c ? 0 : grad
    Neg        out = -x                dx = -grad
    Exp        out = e^x               dx = grad * out
    Log        out = ln x              dx = grad / x
    Sqrt       out = sqrt x            dx = grad / (2 out)
    Abs        out = |x|               dx = grad * sign(x)
    Tanh       out = tanh x            dx = grad * (1 - out^2)
    Sigmoid    out = 1/(1+e^-x)        dx = grad * out * (1 - out)
    Relu       out = max(x, 0)         dx = grad * [x > 0]
    Clip       out = clip(x, lo, hi)   dx = grad * [lo <= x <= hi]
    Cast       out = x as dtype        dx = grad as x's dtype
    Sum        out = sum(x, axis)      dx = broadcast(grad)
    Max        out = max(x, axis)      dx = broadcast(grad) * [x == out] / count(x == out)
    LogSumExp  out = log sum e^x       dx = broadcast(grad) * e^(x - out)
    Reshape    out = x.reshape(s)      dx = grad.reshape(x.shape)
    Transpose  out = x.transpose(p)    dx = grad.transpose(p^-1)
    BroadcastTo out = broadcast(x, s)  dx = grad                  (summed by the engine)
    Flip       out = flip(x, axis)     dx = flip(grad, axis)
    Concatenate out = [x1, x2, ...]    dxi = grad[slice of xi]
    GetItem    out = x[i]              dx = scatter_add(zeros(x.shape), i, grad)
    ScatterAdd out = zeros; out[i] += x dx = grad[i]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd import STATE, Function, ShapeError, constant, is_grad_enabled


class _Primitive(Function):
    """A primitive op: its backward rule takes and returns arrays in a first-order pass (see above)."""

    backward_on_arrays = True


def _inputs(fn: Function) -> tuple:
    """fn's inputs as its backward rule computes with them: arrays in a first-order pass, Tensors when a
    graph of the gradient is being built (grad mode is on inside backward only then)."""
    inputs = fn.inputs
    if STATE.grad_enabled:
        return inputs
    if len(inputs) == 2:
        return inputs[0]._data, inputs[1]._data
    return tuple([t._data for t in inputs])


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


class Add(_Primitive):
    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad


class Sub(_Primitive):
    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, -grad


class Mul(_Primitive):
    def forward(self, x, y):
        return x * y

    def backward(self, grad):
        x, y = _inputs(self)
        return grad * y, grad * x


class Div(_Primitive):
    def forward(self, x, y):
        return x / y

    def backward(self, grad):
        x, y = _inputs(self)
        gx = grad / y
        return gx, -gx * x / y


class Pow(_Primitive):
    def forward(self, x, exponent):
        self.p = exponent
        return x**exponent

    def backward(self, grad):
        (x,) = _inputs(self)
        p = self.p
        if np.ndim(p) == 0 and p == 2:
            return grad * 2 * x
        # where p == 0 the gradient is 0 everywhere; p * x**(p-1) would give 0 * inf = NaN at x == 0
        return grad * p * x ** np.where(np.equal(p, 0), 0, np.subtract(p, 1))


class MatMul(_Primitive):
    def forward(self, x, y):
        if x.ndim < 2 or y.ndim < 2:
            raise ValueError("matmul primitive needs two arrays of 2 or more dimensions")
        if x.shape[-1] != y.shape[-2]:
            raise ShapeError(
                f"matmul: shapes {x.shape} and {y.shape} are not aligned: {x.shape[-1]} != {y.shape[-2]} "
                "(the last axis of the left operand must equal the second-to-last of the right)"
            )
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
        x, y = _inputs(self)
        if y.ndim == 2 and x.ndim > 2:  # NOTE: speed: fold the batch axes, (M, K)^T @ (M, N) -> (K, N)
            gy = _swap_last(x.reshape(-1, x.shape[-1])) @ grad.reshape(-1, grad.shape[-1])
        else:
            gy = _swap_last(x) @ grad
        return grad @ _swap_last(y), gy


class Maximum(_Primitive):
    def forward(self, x, y):
        self.share = (x > y) + 0.5 * (x == y)  # share of grad that goes to x
        return np.maximum(x, y)

    def backward(self, grad):
        share = self.share.astype(grad.dtype)
        return grad * share, grad * (1 - share)


class Where(_Primitive):
    def forward(self, x, y, condition):
        self.condition = np.asarray(condition, dtype=bool)
        return np.where(self.condition, x, y)

    def backward(self, grad):
        c = self.condition
        if _is_array(grad):
            return np.where(c, grad, 0), np.where(c, 0, grad)
        zero = constant(np.zeros((), dtype=grad.dtype))
        return Where.apply(grad, zero, condition=c), Where.apply(zero, grad, condition=c)


# --------------------------------------------------------------------------- elementwise, unary


class Neg(_Primitive):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


# Exp, Sqrt, Tanh, Sigmoid and LogSumExp reuse their forward result in backward; when a second-order
# graph is being built (grad mode on inside backward) they recompute it from the input instead,
# so that the gradient is itself differentiable.


class Exp(_Primitive):
    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, grad):
        out = self.inputs[0].exp() if is_grad_enabled() else self.out
        return grad * out


class Log(_Primitive):
    def forward(self, x):
        return np.log(x)

    def backward(self, grad):
        (x,) = _inputs(self)
        return grad / x


class Sqrt(_Primitive):
    def forward(self, x):
        self.out = np.sqrt(x)
        return self.out

    def backward(self, grad):
        out = self.inputs[0].sqrt() if is_grad_enabled() else self.out
        return grad / (2 * out)


class Abs(_Primitive):
    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, grad):
        return grad * self.sign.astype(grad.dtype)


class Tanh(_Primitive):
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad):
        out = self.inputs[0].tanh() if is_grad_enabled() else self.out
        return grad * (1 - out * out)


class Sigmoid(_Primitive):
    def forward(self, x):
        # NOTE: a primitive for stability: 1 / (1 + e^-x) overflows for x << 0, so with e = e^-|x|
        # use 1 / (1 + e) for x >= 0 and e / (1 + e) below (accurate in both tails)
        e = np.exp(-np.abs(x))
        self.out = np.where(x >= 0, 1.0, e) / (1 + e)
        return self.out

    def backward(self, grad):
        out = self.inputs[0].sigmoid() if is_grad_enabled() else self.out
        return grad * out * (1 - out)


class Relu(_Primitive):
    def forward(self, x):
        self.mask = x > 0
        return np.where(self.mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, grad):
        return grad * self.mask.astype(grad.dtype)


class Clip(_Primitive):
    def forward(self, x, low, high):
        lo = -np.inf if low is None else low
        hi = np.inf if high is None else high
        self.mask = (x >= lo) & (x <= hi)
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, grad):
        return grad * self.mask.astype(grad.dtype)


class Cast(_Primitive):
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


class Sum(_Primitive):
    def forward(self, x, axis, keepdims):
        self.kept = _kept_shape(x.shape, axis)
        return np.sum(x, axis=axis, keepdims=keepdims)

    def backward(self, grad):
        return _broadcast_to(grad.reshape(self.kept), self.inputs[0].shape)


class Max(_Primitive):
    def forward(self, x, axis, keepdims):
        if x.size == 0:
            raise ShapeError(f"max: cannot reduce an empty tensor of shape {x.shape}")
        self.kept = _kept_shape(x.shape, axis)
        out = np.max(x, axis=axis, keepdims=True)
        hit = x == out
        self.share = hit / hit.sum(axis=axis, keepdims=True)  # ties share the gradient
        return out if keepdims else out.reshape(np.max(x, axis=axis).shape)

    def backward(self, grad):
        return grad.reshape(self.kept) * self.share.astype(grad.dtype)


class LogSumExp(_Primitive):
    # NOTE: a primitive for stability: subtract the max before exponentiating
    def forward(self, x, axis, keepdims):
        self.axis, self.kept = axis, _kept_shape(x.shape, axis)
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        self.out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        return self.out if keepdims else self.out.reshape(np.sum(x, axis=axis).shape)

    def backward(self, grad):
        if is_grad_enabled():
            x = self.inputs[0]
            out = x.logsumexp(axis=self.axis, keepdims=True)
        else:
            x, out = self.inputs[0]._data, self.out
        return grad.reshape(self.kept) * _exp(x - out)


# --------------------------------------------------------------------------- shape


class Reshape(_Primitive):
    def forward(self, x, shape):
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.inputs[0].shape)


class Transpose(_Primitive):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, grad):
        return grad.transpose(tuple(np.argsort(self.axes)))


class BroadcastTo(_Primitive):
    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, grad):
        return grad


class Flip(_Primitive):
    def forward(self, x, axis):
        self.axis = axis
        return np.flip(x, axis)

    def backward(self, grad):
        return _flip(grad, self.axis)


class Concatenate(_Primitive):
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
    else:
        np.add.at(out, index, values)


class GetItem(_Primitive):
    def forward(self, x, index):
        self.index = index
        return x[index]

    def backward(self, grad):
        return ScatterAdd.apply(grad, index=self.index, shape=self.inputs[0].shape)

    def scatter_into(self, out: np.ndarray, grad: np.ndarray) -> None:
        """The first-order backward done in place: out[index] += grad (the engine's fast path)."""
        _scatter_add(out, self.index, grad)


class ScatterAdd(_Primitive):
    def forward(self, x, index, shape):
        self.index = index
        out = np.zeros(shape, dtype=x.dtype)
        _scatter_add(out, index, x)
        return out

    def backward(self, grad):
        return grad[self.index]
