"""Tensor: a NumPy array with a gradient, and the operators and methods that build the graph."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import autograd, habits, ops
from .autograd import STATE, ShapeError, run_op
from .seeding import generator

Axis = int | tuple[int, ...] | None

_new = object.__new__


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Python floats, ints and lists become float32; NumPy arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data._data
    if data is None:
        raise TypeError("Tensor: data is None; give a number, a (nested) list or a NumPy array")
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

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy ufuncs (`np.exp(t)`, `ndarray + t`): an op here gives a Tensor that keeps the graph; others
        give arrays, and raise when a tensor that requires grad would lose its graph (habits.py)."""
        return habits.array_ufunc(Tensor, ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        """NumPy functions (`np.clip(t, 0, 1)`) run on the arrays; on a tensor that requires grad they raise
        instead of dropping the graph, naming the op here (habits.py)."""
        return habits.array_function(Tensor, func, args, kwargs)

    if not TYPE_CHECKING:  # hidden from type checkers, which would otherwise accept any attribute

        def __getattr__(self, name: str) -> Any:
            """Only for names a Tensor lacks: a PyTorch spelling raises, naming the one here."""
            raise habits.no_attribute("Tensor", name, "Tensor")

    # NOTE: speed. Defaults live on the class, so a new Tensor (one per op) stores only what differs from
    # them: an op's result sets `_data`, and `requires_grad` and `grad_fn` when it is recorded. (Slots
    # would have to be filled one by one on every Tensor.)
    grad: Tensor | None = None
    grad_fn: autograd.Function | None = None
    output_index: int = 0  # which output of grad_fn this tensor is (0 unless the op makes several)
    requires_grad: bool = False
    _version: int = 0
    _retains_grad: bool = False
    # set by detach() (and kept by indexing its result): a weak reference to the tensor this one was cut
    # from (call it: None once that tensor is freed), so that a picture can draw the truncation point
    detached_from: weakref.ref[Tensor] | None = None
    tags: tuple[tuple[tuple[str, ...], str], ...] = ()  # (scope, name) pairs recorded by `tags.tag`
    # set by max/min over an axis: iterating their result (`v, i = x.max(1)`, torch's values and indices)
    # raises instead of unpacking the values
    _values_of: str | None = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = _to_array(data, dtype)
        if requires_grad:
            self.requires_grad_()

    @classmethod
    def _wrap(cls, array: np.ndarray, requires_grad: bool) -> Tensor:
        """Make a Tensor around an op's result without copying or checks (the hot path)."""
        t = _new(cls)
        t._data = array
        if requires_grad:
            t.requires_grad = True
        return t

    # ------------------------------------------------------------------ attributes

    @property
    def data(self) -> np.ndarray:
        """The NumPy array; ``t.data = a`` replaces it outside the graph (bumping the version)."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = _to_array(value, self._data.dtype)
        self.bump_version()

    def bump_version(self) -> None:
        """Record that `data` changed in place: the one way every in-place write tells the engine.

        A graph that saved this tensor's old values then refuses to run backward, instead of silently
        using the new ones.
        """
        self._version += 1

    shape = property(lambda self: self._data.shape, doc="The length of each axis, like ndarray.shape.")
    ndim = property(lambda self: self._data.ndim, doc="The number of axes, like ndarray.ndim.")
    dtype = property(lambda self: self._data.dtype, doc="The NumPy dtype of the data, like ndarray.dtype.")
    size = property(lambda self: habits.Size(self._data.size),
                    doc="The number of elements, an int like ndarray.size (x.size() raises, naming shape).")
    is_leaf = property(lambda self: self.grad_fn is None,
                       doc="True unless a recorded op made it (inputs, parameters), as in torch.")
    T = property(lambda self: self.transpose(), doc="The axes reversed, like ndarray.T.")

    def __len__(self) -> int:
        """The length of the first axis, like len(ndarray)."""
        return len(self._data)

    def __repr__(self) -> str:
        """Tensor(values, dtype, requires_grad / grad_fn), like NumPy's array repr."""
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
        """The data as a NumPy array (the same array, not a copy), like torch's .numpy()."""
        return self._data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number, like ndarray.item()."""
        return self._data.item()

    def tolist(self) -> Any:
        """The data as nested Python lists, like ndarray.tolist()."""
        return self._data.tolist()

    def __setitem__(self, index: Any, value: Any) -> None:
        """Write into `data` in place (no gradient flows through this write)."""
        if self.requires_grad and STATE.grad_enabled:
            raise RuntimeError(
                f"setitem: cannot write in place into a tensor of shape {self.shape} that requires grad; "
                "build a new tensor instead (where, masked_fill, concatenate) or write under no_grad()."
            )
        self._data[_index(index)] = _to_array(value, self.dtype)
        self.bump_version()

    # ------------------------------------------------------------------ autograd

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Start (or stop) recording operations on this leaf for gradients; returns self."""
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
        """The same values, cut from the graph: no gradient flows back through the result.

        The result records its source: ``out.detached_from()`` is this tensor (a weak reference: None once
        it is freed, so the cut keeps no old graph alive); a picture draws the cut from it.
        """
        out = Tensor._wrap(self._data, False)
        if self.requires_grad:  # a weak reference: the result keeps no old graph alive
            out.detached_from = weakref.ref(self)
        return out

    def backward(self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad."""
        autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def astype(self, dtype: Any) -> Tensor:
        """The values converted to `dtype`, like ndarray.astype (a gradient flows back, cast back)."""
        return self if self.dtype == np.dtype(dtype) else ops.Cast.apply(self, dtype=np.dtype(dtype))

    # ------------------------------------------------------------------ arithmetic

    def _other(self, other: Any) -> Tensor:
        """A Python scalar takes this tensor's dtype (never upcasts it); arrays keep theirs."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, int | float) and not isinstance(other, bool):
            dtype = self._data.dtype  # a float tensor's own dtype is result_type's answer, found faster
            dtype = dtype if dtype.kind == "f" else np.result_type(dtype, other)
            return Tensor._wrap(np.asarray(other, dtype), False)
        return Tensor(other)

    def __add__(self, other: Any) -> Tensor:
        """x + y elementwise, broadcasting like NumPy."""
        return run_op(ops.Add, (self, other if isinstance(other, Tensor) else self._other(other)))

    def __radd__(self, other: Any) -> Tensor:
        """y + x elementwise, broadcasting like NumPy."""
        return run_op(ops.Add, (self._other(other), self))

    def __sub__(self, other: Any) -> Tensor:
        """x - y elementwise, broadcasting like NumPy."""
        return run_op(ops.Sub, (self, other if isinstance(other, Tensor) else self._other(other)))

    def __rsub__(self, other: Any) -> Tensor:
        """y - x elementwise, broadcasting like NumPy."""
        return run_op(ops.Sub, (self._other(other), self))

    def __mul__(self, other: Any) -> Tensor:
        """x * y elementwise, broadcasting like NumPy."""
        return run_op(ops.Mul, (self, other if isinstance(other, Tensor) else self._other(other)))

    def __rmul__(self, other: Any) -> Tensor:
        """y * x elementwise, broadcasting like NumPy."""
        return run_op(ops.Mul, (self._other(other), self))

    def __truediv__(self, other: Any) -> Tensor:
        """x / y elementwise, broadcasting like NumPy."""
        return run_op(ops.Div, (self, other if isinstance(other, Tensor) else self._other(other)))

    def __rtruediv__(self, other: Any) -> Tensor:
        """y / x elementwise, broadcasting like NumPy."""
        return run_op(ops.Div, (self._other(other), self))

    def __pow__(self, exponent: Any) -> Tensor:
        """x ** y elementwise, like np.power (a tensor exponent that requires grad needs x > 0)."""
        if isinstance(exponent, Tensor) and exponent.requires_grad:
            return (exponent * self.log()).exp()  # x ** y = e^(y ln x), for x > 0
        # a constant exponent (number, array, tensor without grad) works for negative bases too
        if not isinstance(exponent, int | float | np.generic | np.ndarray):
            exponent = _to_array(exponent)
        return ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base: Any) -> Tensor:
        """b ** x elementwise for a constant base b > 0, like np.power(b, x)."""
        return (self * self._other(base).log()).exp()  # b ** x = e^(x ln b), for b > 0

    def __matmul__(self, other: Any) -> Tensor:
        """x @ y, like np.matmul (1-D operands promoted to matrices, batch axes broadcast)."""
        return matmul(self, self._other(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        """y @ x, like np.matmul."""
        return matmul(self._other(other), self)

    def __neg__(self) -> Tensor:
        """-x elementwise, like np.negative."""
        return run_op(ops.Neg, (self,))

    # comparisons give boolean tensors without gradients
    def __lt__(self, other: Any) -> Tensor:
        """x < y elementwise, as a boolean tensor (no gradient), like np.less."""
        return Tensor(self._data < _plain(other))

    def __le__(self, other: Any) -> Tensor:
        """x <= y elementwise, as a boolean tensor (no gradient), like np.less_equal."""
        return Tensor(self._data <= _plain(other))

    def __gt__(self, other: Any) -> Tensor:
        """x > y elementwise, as a boolean tensor (no gradient), like np.greater."""
        return Tensor(self._data > _plain(other))

    def __ge__(self, other: Any) -> Tensor:
        """x >= y elementwise, as a boolean tensor (no gradient), like np.greater_equal."""
        return Tensor(self._data >= _plain(other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        """Elementwise ``x == y`` as a boolean tensor, as in NumPy and PyTorch (`eq` is the same)."""
        return Tensor(self._data == _plain(other))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        """Elementwise ``x != y`` as a boolean tensor."""
        return Tensor(self._data != _plain(other))

    eq = __eq__
    # Hash by identity, as torch does: a tensor can be a dict key or in a set (found by `is`), while
    # `t in list_of_tensors` compares elementwise and fails on a tensor of more than one element.
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ elementwise

    def exp(self) -> Tensor:
        """e ** x elementwise, like np.exp."""
        return run_op(ops.Exp, (self,))

    def log(self) -> Tensor:
        """The natural logarithm elementwise, like np.log."""
        return run_op(ops.Log, (self,))

    def sqrt(self) -> Tensor:
        """The square root elementwise, like np.sqrt."""
        return run_op(ops.Sqrt, (self,))

    def abs(self) -> Tensor:
        """|x| elementwise, like np.abs (gradient sign(x), 0 at 0)."""
        return run_op(ops.Abs, (self,))

    def tanh(self) -> Tensor:
        """The hyperbolic tangent elementwise, like np.tanh."""
        return run_op(ops.Tanh, (self,))

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^-x) elementwise (scipy.special.expit), computed without overflow."""
        return run_op(ops.Sigmoid, (self,))

    def relu(self) -> Tensor:
        """max(x, 0) elementwise, like np.maximum(x, 0)."""
        return run_op(ops.Relu, (self,))

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """Values limited to [min, max], like np.clip (no gradient where clipped)."""
        return ops.Clip.apply(self, low=min, high=max)

    def maximum(self, other: Any) -> Tensor:
        """The elementwise larger of x and y, like np.maximum; at a tie each gets half the gradient."""
        return ops.Maximum.apply(self, self._other(other))

    def minimum(self, other: Any) -> Tensor:
        """The elementwise smaller of x and y, like np.minimum."""
        return -ops.Maximum.apply(-self, -self._other(other))

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        """Replace the elements where `mask` is True by `value` (no gradient reaches them)."""
        return where(mask, self._other(value), self)

    # ------------------------------------------------------------------ reductions

    def sum(self, axis: Axis = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        """The sum over `axis` (all axes by default), like np.sum."""
        if torch_names:
            _torch_keywords("sum", torch_names)
        return ops.Sum.apply(self, axis=ops.normalize_axis(axis, self.ndim, "sum"), keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        """The mean over `axis` (all axes by default), like np.mean."""
        if torch_names:
            _torch_keywords("mean", torch_names)
        axes = ops.normalize_axis(axis, self.ndim, "mean")
        count = self.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axes, keepdims) / count

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int | None = None, **torch_names: Any
            ) -> Tensor:
        """The variance over `axis`: sum((x - mean)^2) / (n - ddof), like np.var; `ddof` must be given.

        NumPy's default is ddof=0 (the population variance), torch's the unbiased ddof=1: say which.
        """
        if torch_names:
            _torch_keywords("var", torch_names)
        if ddof is None:
            raise TypeError(f"var: {habits.explain('Tensor.var()')}")
        axes = ops.normalize_axis(axis, self.ndim, "var")
        count = self.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        centred = self - self.mean(axes, keepdims=True)
        return (centred * centred).sum(axes, keepdims) / (count - ddof)

    def std(self, axis: Axis = None, keepdims: bool = False, ddof: int | None = None, **torch_names: Any
            ) -> Tensor:
        """The standard deviation over `axis`: sqrt(var(axis, ddof)), like np.std; `ddof` must be given."""
        if torch_names:
            _torch_keywords("std", torch_names)
        if ddof is None:
            raise TypeError(f"std: {habits.explain('Tensor.std()')}")
        return self.var(axis, keepdims, ddof=ddof).sqrt()

    def max(self, axis: Axis = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        """The largest value over `axis`, like np.max (the values only: argmax gives the indices)."""
        if torch_names:
            _torch_keywords("max", torch_names)
        out = ops.Max.apply(self, axis=ops.normalize_axis(axis, self.ndim, "max"), keepdims=keepdims)
        if axis is not None:
            out._values_of = "max"
        return out

    def min(self, axis: Axis = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        """The smallest value over `axis`, like np.min (the values only)."""
        if torch_names:
            _torch_keywords("min", torch_names)
        out = -(-self).max(axis, keepdims)
        if axis is not None:
            out._values_of = "min"
        return out

    def logsumexp(self, axis: Axis = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        """log(sum(exp(x))) over `axis` without overflow, like scipy.special.logsumexp."""
        if torch_names:
            _torch_keywords("logsumexp", torch_names)
        return ops.LogSumExp.apply(self, axis=ops.normalize_axis(axis, self.ndim, "logsumexp"),
                                   keepdims=keepdims)

    def softmax(self, axis: int = -1, **torch_names: Any) -> Tensor:
        """exp(x) / sum(exp(x)) along `axis`, like scipy.special.softmax."""
        if torch_names:
            _torch_keywords("softmax", torch_names)
        return self.log_softmax(axis).exp()

    def log_softmax(self, axis: int = -1, **torch_names: Any) -> Tensor:
        """x - logsumexp(x) along `axis`, like scipy.special.log_softmax."""
        if torch_names:
            _torch_keywords("log_softmax", torch_names)
        # NOTE: shift by the row max first, as a constant (log_softmax does not change under a shift, so
        # no gradient is lost): x - max is exact, whereas x - logsumexp(x) subtracts two large numbers
        # and loses the low digits (softmax of three logits of -1e4 in float32 was off by 2e-5)
        m = np.max(self._data, axis=axis, keepdims=True)
        shifted = self - Tensor._wrap(np.where(np.isfinite(m), m, 0).astype(self.dtype, copy=False), False)
        return shifted - shifted.logsumexp(axis, keepdims=True)

    def argmax(self, axis: int | None = None, **torch_names: Any) -> Tensor:
        """The index of the largest value along `axis`, like np.argmax (an integer tensor, no gradient)."""
        if torch_names:
            _torch_keywords("argmax", torch_names)
        return Tensor(np.argmax(self._data, axis=axis))

    # ------------------------------------------------------------------ shape

    def reshape(self, *shape: Any) -> Tensor:
        """The same values in a new shape, like np.reshape (one dimension may be -1)."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        if shape == self.shape:
            return self
        try:
            np.empty(self.shape, dtype=bool).reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {self.shape} into {shape}") from None
        return ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes: Any) -> Tensor:
        """np.transpose: reverse the axes (no arguments) or put them in the order given (all of them).

        Two separate axes that PyTorch would swap and NumPy would read otherwise (``x.transpose(0, 1)`` on
        a 2-D tensor is NumPy's identity; on 3-D it is an error in NumPy) raise, naming `swapaxes`.
        """
        if len(axes) == 2 and not isinstance(axes[0], tuple | list):
            _check_two_axis_transpose(self.ndim, axes)
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        # negative axes made non-negative, so that backward's inverse permutation (argsort) is right
        return ops.Transpose.apply(self, axes=tuple(int(a) % max(self.ndim, 1) for a in axes))

    def permute(self, *axes: Any) -> Tensor:
        """The axes in a new order, like np.transpose(x, axes) and torch's permute: all axes, listed."""
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        return ops.Transpose.apply(self, axes=tuple(int(a) % max(self.ndim, 1) for a in axes))

    def swapaxes(self, a: int, b: int) -> Tensor:
        """np.swapaxes: exchange axes `a` and `b` (what torch's transpose(a, b) does)."""
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return self.permute(axes)

    def expand_dims(self, axis: Axis = None, **torch_names: Any) -> Tensor:
        """A new axis of length 1 at `axis`, like np.expand_dims (torch's unsqueeze)."""
        if torch_names:
            _torch_keywords("expand_dims", torch_names)
        try:
            shape = np.expand_dims(np.empty(self.shape, dtype=bool), axis).shape  # type: ignore[arg-type]
        except ValueError as err:
            raise ShapeError(f"expand_dims: axis {axis} for a tensor of shape {self.shape}: {err}") from None
        return self.reshape(shape)

    def squeeze(self, axis: Axis = None, **torch_names: Any) -> Tensor:
        """Axes of length 1 removed (all, or those in `axis`), like np.squeeze."""
        if torch_names:
            _torch_keywords("squeeze", torch_names)
        try:
            shape = np.squeeze(np.empty(self.shape, dtype=bool), axis).shape
        except ValueError as err:
            raise ShapeError(f"squeeze: axis {axis} of a tensor of shape {self.shape}: {err}") from None
        return self.reshape(shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """The values repeated to `shape` by NumPy's broadcasting rules, like np.broadcast_to."""
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

    def flip(self, axis: Axis = None, **torch_names: Any) -> Tensor:
        """The order of the elements along `axis` (all axes by default) reversed, like np.flip."""
        if torch_names:
            _torch_keywords("flip", torch_names)
        return ops.Flip.apply(self, axis=axis)

    def split(self, *torch_style: Any, sections: int | None = None, indices: Sequence[int] | None = None,
              axis: int = 0, **torch_names: Any) -> list[Tensor]:
        """Like np.split: `sections` equal parts, or cut at `indices`; both by keyword.

        A number or list given by position reads differently in NumPy (parts, indices) and PyTorch
        (lengths), so it raises, naming the keyword that gives the parts meant.
        """
        if torch_names:
            _torch_keywords("split", torch_names)
        if torch_style:  # x.split(2) or x.split(2, 1): PyTorch's (split_size, dim)
            axis = int(torch_style[1]) if len(torch_style) > 1 else axis
            _refuse_positional_split(torch_style[0], self.shape[axis], axis)
        n = self.shape[axis]
        if (sections is None) == (indices is None):
            raise TypeError("split: give sections= (that many equal parts) or indices= (where to cut)")
        if sections is not None:
            if n % sections:
                raise ShapeError(
                    f"split: axis {axis} of length {n} does not divide into {sections} equal parts"
                )
            cuts = list(range(0, n, n // sections))[1:]
        else:
            cuts = list(indices)  # type: ignore[arg-type]
        lead = (slice(None),) * (axis % self.ndim)
        return [self[lead + (slice(a, b),)] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]

    def __getitem__(self, index: Any) -> Tensor:
        """x[index] like NumPy indexing: ints, slices, None, Ellipsis, integer arrays, boolean masks."""
        out = ops.GetItem.apply(self, index=_index(index))
        if self.detached_from is not None and not self.requires_grad:  # a view of a cut tensor is cut too
            out.detached_from = self.detached_from
        return out

    def __iter__(self) -> Any:
        """The sub-tensors along the first axis, like iterating an ndarray."""
        if self._values_of is not None:
            habit = habits.explain(f"Tensor.{self._values_of}(dim)")
            raise TypeError(f"iterating over x.{self._values_of}(axis): {habit}; iterate over "
                            f"x.{self._values_of}(axis).tolist() for the values")
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    def flatten(self, *start_dim: int) -> Tensor:
        """The values as one axis, like ndarray.flatten() (torch's flatten(start_dim) is a reshape here)."""
        if start_dim:
            raise TypeError(f"flatten{start_dim}: {habits.explain('Tensor.flatten(start_dim)')}")
        return self.reshape(-1)

    def copy(self) -> Tensor:
        """A tensor with its own copy of the data, like ndarray.copy(); the gradient flows back, as through
        torch's clone()."""
        return self + 0 if self.requires_grad else Tensor._wrap(self._data.copy(), False)

    def take(self, indices: Any, axis: int = 0) -> Tensor:
        """Gather along `axis` by integer indices (an embedding lookup is `weight.take(ids)`)."""
        lead = (slice(None),) * (axis % self.ndim)
        return self[lead + (_plain(indices),)]

    # ------------------------------------------------------------------ habits from PyTorch and NumPy

    def _one_element(self, what: str) -> Any:
        if self._data.size != 1:
            raise TypeError(
                f"{what} of a tensor needs exactly one element, but this one has shape {self.shape}"
                + ("; reduce it first (.any(), .all(), .sum(), ...) or compare elementwise" if what == "bool"
                   else "; index one element first, e.g. t[0], or use t.numpy() / t.tolist()")
            )
        return self._data.reshape(()).item()

    def __bool__(self) -> bool:
        """bool(t) for a one-element tensor (``if loss < best:``); an error for more elements, as in NumPy."""
        return bool(self._one_element("bool"))

    def __float__(self) -> float:
        """float(t) for a one-element tensor."""
        return float(self._one_element("float()"))

    def __int__(self) -> int:
        """int(t) for a one-element tensor."""
        return int(self._one_element("int()"))

    def __format__(self, spec: str) -> str:
        """f"{t}" is repr-like text; f"{loss:.3f}" formats the value of a one-element tensor."""
        return format(self._one_element(f"format spec {spec!r}"), spec) if spec else str(self)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """np.asarray(t) (and so plt.plot(t)): the data, as an array (no gradient flows through it)."""
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def _in_place(self, symbol: str, ufunc: np.ufunc, other: Any) -> Tensor:
        """x op= y: written into x's own array when no graph is recorded (under no_grad, or when neither
        x nor y requires grad). Inside a graph, a leaf that requires grad raises, as in PyTorch; any other
        x is rebased as torch does it (see `_rebase`): every name for x sees the new value."""
        if STATE.grad_enabled and (self.requires_grad or isinstance(other, Tensor) and other.requires_grad):
            if self.requires_grad and self.grad_fn is None:
                raise RuntimeError(
                    f"{symbol}: a leaf Variable that requires grad is being used in an in-place operation. "
                    f"Update weights under `with no_grad():` (as `p {symbol} lr * p.grad`), or build a new "
                    f"tensor: `x = x {symbol[0]} y`")
            return self._rebase(symbol, other)
        value = _plain(other)
        try:
            ufunc(self._data, value, out=self._data, casting="same_kind")
        except (ValueError, TypeError) as error:  # a shape that does not fit, or int -= float, read-only
            other_shape = np.shape(value)
            raise ShapeError(f"{symbol}: cannot write the result for shapes {self.shape} and {other_shape} "
                             f"into this tensor ({self.shape}, {self.dtype}): {error}") from None
        self.bump_version()  # a graph that saved x refuses to run backward with the new values
        return self

    def _rebase(self, symbol: str, other: Any) -> Tensor:
        """x op= y inside a graph, as torch records it: a new node computes x op y from `before`, a new
        Tensor object holding x's old value and history, and this very object becomes its output (data,
        grad_fn). The version is bumped, so a node that read x before refuses to run backward."""
        before = Tensor._wrap(self._data, self.requires_grad)
        before.grad_fn, before.output_index = self.grad_fn, self.output_index
        before.tags, before.detached_from = self.tags, self.detached_from
        operand = before if other is self else other  # x += x reads the old x twice
        op = {"+=": Tensor.__add__, "-=": Tensor.__sub__, "*=": Tensor.__mul__, "/=": Tensor.__truediv__}
        result = op[symbol](before, operand)
        if result.shape != self.shape or not np.can_cast(result.dtype, self.dtype, "same_kind"):
            raise ShapeError(f"{symbol}: cannot write the result ({result.shape}, {result.dtype}) of shapes "
                             f"{self.shape} and {np.shape(_plain(other))} into this tensor ({self.shape}, "
                             f"{self.dtype})")
        result = result.astype(self.dtype)  # float32 += float64 stays float32, as in place
        self._data, self.requires_grad = result._data, result.requires_grad
        self.grad_fn, self.output_index = result.grad_fn, result.output_index
        self.bump_version()
        return self

    def __iadd__(self, other: Any) -> Tensor:
        """x += y in place (inside a graph: recorded, and x's history rebased, as in torch)."""
        return self._in_place("+=", np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        """x -= y in place (inside a graph: recorded, and x's history rebased, as in torch)."""
        return self._in_place("-=", np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        """x *= y in place (inside a graph: recorded, and x's history rebased, as in torch)."""
        return self._in_place("*=", np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        """x /= y in place (inside a graph: recorded, and x's history rebased, as in torch)."""
        return self._in_place("/=", np.true_divide, other)


autograd.set_tensor_type(Tensor)


def _check_two_axis_transpose(ndim: int, axes: tuple) -> None:
    """transpose(a, b): "swap a and b" in PyTorch, "this permutation" in NumPy; refuse where they differ."""
    a, b = (int(x) for x in axes)
    if ndim == 2 and -2 <= a < 2 and -2 <= b < 2 and (a % 2, b % 2) == (1, 0):
        return  # (1, 0): NumPy's permutation and PyTorch's swap are the same
    raise ValueError(
        f"transpose({a}, {b}) on a {ndim}-D tensor: NumPy reads the axes as a whole permutation, PyTorch "
        f"swaps the two; here write x.swapaxes({a}, {b}) to swap two axes, x.T to reverse all axes, or "
        f"x.permute(...) with every axis"
    )


_torch_keywords = habits.refuse_keywords  # dim= -> "here it is NumPy's axis=", from the one table


def _refuse_positional_split(given: Any, n: int, axis: int) -> None:
    """split(2) / split([1, 3]): NumPy's parts or cut indices, or PyTorch's lengths? Name both keywords."""
    if isinstance(given, int):
        step = given if given > 0 else n
        torch_way = f"sections={n // given}" if n % step == 0 else f"indices={list(range(step, n, step))}"
        raise TypeError(
            f"split({given}) on axis {axis} of length {n}: {habits.HABITS['Tensor.split(int)'].why}; write "
            f"x.split(sections={given}, axis={axis}) for {given} parts, or x.split({torch_way}, axis={axis}) "
            f"for parts of length {given}")
    lengths = [int(v) for v in given]
    cuts = [int(c) for c in np.cumsum(lengths)[:-1]]
    raise TypeError(
        f"split({lengths}) on axis {axis} of length {n}: {habits.HABITS['Tensor.split(list)'].why}; write "
        f"x.split(indices={lengths}, axis={axis}) to cut there, or x.split(indices={cuts}, axis={axis}) for "
        f"parts of lengths {lengths}")


def _plain(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _index(index: Any) -> Any:
    """Tensors inside an index become arrays; boolean masks become integer arrays (for scatter-add)."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
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
        return run_op(ops.MatMul, (x, y))
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


def concatenate(tensors: Sequence[Tensor], axis: int = 0, **torch_names: Any) -> Tensor:
    """Join tensors along an existing axis, like ``np.concatenate``; the gradient is split back.

    Shapes (n_1, ...), (n_2, ...), ... along ``axis`` give (n_1 + n_2 + ..., ...); every other axis must
    agree.

    Examples
    --------
    >>> concatenate([zeros(2, 3), ones(1, 3)]).shape
    (3, 3)
    """
    if torch_names:
        _torch_keywords("concatenate", torch_names)
    return ops.Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0, **torch_names: Any) -> Tensor:
    """Join same-shape tensors along a new axis, like ``np.stack``.

    k tensors of shape S give shape S with k inserted at ``axis``.

    Examples
    --------
    >>> stack([zeros(2, 3), ones(2, 3)], axis=1).shape
    (2, 2, 3)
    """
    if torch_names:
        _torch_keywords("stack", torch_names)
    return concatenate([t.expand_dims(axis) for t in tensors], axis=axis)


def maximum(x: Tensor, y: Any) -> Tensor:
    """Elementwise max(x, y), like ``np.maximum``; a tie sends half the gradient to each side.

    x and y broadcast: the result has their broadcast shape.

    Examples
    --------
    >>> maximum(Tensor([1.0, 5.0]), 2.0)
    Tensor([2. 5.])
    """
    return x.maximum(y)


def minimum(x: Tensor, y: Any) -> Tensor:
    """Elementwise min(x, y), like ``np.minimum``; a tie sends half the gradient to each side.

    x and y broadcast: the result has their broadcast shape.

    Examples
    --------
    >>> minimum(Tensor([1.0, 5.0]), 2.0)
    Tensor([1. 2.])
    """
    return x.minimum(y)


# ---------------------------------------------------------------------- constructors


def zeros(*shape: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros, like ``np.zeros``: float32 unless ``dtype`` says otherwise.

    The shape is given as ints or as one tuple: ``zeros(2, 3)`` and ``zeros((2, 3))`` are (2, 3).

    Examples
    --------
    >>> zeros(2, 3).shape
    (2, 3)
    """
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones, like ``np.ones``: float32 unless ``dtype`` says otherwise.

    The shape is given as ints or as one tuple: ``ones(2, 3)`` and ``ones((2, 3))`` are (2, 3).

    Examples
    --------
    >>> ones(2)
    Tensor([1. 1.])
    """
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def full(
    shape: Sequence[int] | int, value: float, dtype: Any = np.float32, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``shape`` filled with ``value``, like ``np.full``: float32 unless ``dtype`` says otherwise.

    ``shape`` is an int or a sequence of ints: ``full((2, 3), 7.0)`` is (2, 3).

    Examples
    --------
    >>> full(3, 0.5)
    Tensor([0.5 0.5 0.5])
    """
    return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)


def arange(*args: float, dtype: Any = None) -> Tensor:
    """Evenly spaced values in [start, stop), like np.arange and torch.arange: integers (int64) from
    integer arguments (so ``logp[ts.arange(N), y]`` indexes), float32 when any argument is a float.

    One argument n gives shape (n,); ``dtype`` overrides the choice.

    Examples
    --------
    >>> arange(4)
    Tensor([0 1 2 3], dtype=int64)
    >>> arange(0, 1, 0.5).dtype
    dtype('float32')
    """
    if dtype is None:
        dtype = np.int64 if all(isinstance(a, int | np.integer) for a in args) else np.float32
    return Tensor(np.arange(*args, dtype=dtype))


def eye(n: int, m: int | None = None, dtype: Any = np.float32) -> Tensor:
    """The n x m identity matrix (m defaults to n), like ``np.eye``: float32 unless ``dtype`` says otherwise.

    Shape (n, m): ones on the main diagonal, zeros elsewhere.

    Examples
    --------
    >>> eye(2)
    Tensor([[1. 0.]
     [0. 1.]])
    """
    return Tensor(np.eye(n, m, dtype=dtype))


def randn(
    *shape: int, rng: np.random.Generator | None = None, dtype: Any = np.float32, requires_grad: bool = False
) -> Tensor:
    """Standard normal samples; pass `rng` (a NumPy Generator) for reproducible numbers."""
    rng = generator(rng)
    return Tensor(rng.standard_normal(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def rand(
    *shape: int, rng: np.random.Generator | None = None, dtype: Any = np.float32, requires_grad: bool = False
) -> Tensor:
    """Uniform samples in [0, 1); pass `rng` for reproducible numbers."""
    rng = generator(rng)
    return Tensor(rng.random(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def zeros_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape and dtype of ``x``, like ``np.zeros_like``.

    The result has x's shape; it takes no gradient from x.

    Examples
    --------
    >>> zeros_like(ones(2, 3)).shape
    (2, 3)
    """
    return zeros(*x.shape, dtype=x.dtype, requires_grad=requires_grad)


def ones_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    """Ones with the shape and dtype of ``x``, like ``np.ones_like``.

    The result has x's shape; it takes no gradient from x.

    Examples
    --------
    >>> ones_like(zeros(2))
    Tensor([1. 1.])
    """
    return ones(*x.shape, dtype=x.dtype, requires_grad=requires_grad)


def full_like(x: Tensor, value: float, requires_grad: bool = False) -> Tensor:
    """``value`` everywhere, with the shape and dtype of ``x``, like ``np.full_like``.

    The result has x's shape; it takes no gradient from x.

    Examples
    --------
    >>> full_like(zeros(2), 3.0)
    Tensor([3. 3.])
    """
    return full(x.shape, value, dtype=x.dtype, requires_grad=requires_grad)


def _shape(shape: tuple) -> tuple[int, ...]:
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape

