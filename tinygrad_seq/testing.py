"""Hypothesis strategies and assertions for property-testing ops and layers (needs ``hypothesis``).

Test your own op against finite differences in three lines::

    from hypothesis import given
    from tinygrad_seq.testing import assert_gradients_match, tensors

    @given(tensors(shape=(3, 4)))
    def test_my_op(x):
        assert_gradients_match(lambda x: MyOp.apply(x), x)

Arrays are float64 and bounded (-3..3 by default, never NaN or Inf); ``positive``,
``away_from_zero`` and ``distinct`` keep draws away from the points where log / sqrt blow up and
where abs / relu / max have kinks, which finite differences cannot see past.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .extras import require
from .gradient_check import GradcheckReport, gradcheck
from .tensor import Tensor

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError:
    require("hypothesis", "tinygrad_seq.testing")  # raises MissingExtra naming the `test` extra
    raise

__all__ = ["SequenceBatch", "arrays", "assert_gradients_match", "broadcastable_shapes", "sequences", "shapes",
           "tensors"]

_POSITIVE_MIN = 0.1  # `positive=True` draws >= 0.1: log, sqrt and 1/x stay well-conditioned there
_GRID = 64  # `distinct=True` draws from multiples of 1/64, so any two elements differ by >= 1/64


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes with min_dims..max_dims axes of min_side..max_side each.

    Example: ``@given(shapes(max_dims=2))`` draws (), (3,), (2, 4), ...
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def _bound(x: float, dtype: np.dtype, up: bool) -> float:
    """`x` rounded into `dtype` towards the inside of the interval (hypothesis wants exact bounds)."""
    y = dtype.type(x)
    if (up and y < x) or (not up and y > x):
        y = np.nextafter(y, dtype.type(np.inf if up else -np.inf))
    return float(y)


def _elements(dtype: np.dtype, low: float, high: float, positive: bool, away_from_zero: float,
              distinct: bool) -> st.SearchStrategy:
    if positive:
        low = max(low, _POSITIVE_MIN)
    if low > high:
        raise ValueError(f"arrays: no values between low={low} and high={high}")
    far = lambda v: abs(v) >= away_from_zero
    if dtype.kind in "iu":
        return st.integers(int(np.ceil(low)), int(np.floor(high))).filter(far)
    if distinct:
        grid = st.integers(int(np.ceil(low * _GRID)), int(np.floor(high * _GRID)))
        return grid.map(lambda k: k / _GRID).filter(far)
    options: dict[str, Any] = dict(allow_nan=False, allow_infinity=False, allow_subnormal=False,
                                   width=8 * dtype.itemsize)
    pieces = [(low, high)] if away_from_zero <= 0 else [(low, min(high, -away_from_zero)),
                                                        (max(low, away_from_zero), high)]
    pieces = [(a, b) for a, b in pieces if a <= b]
    if not pieces:
        raise ValueError(f"arrays: no values in [{low}, {high}] with |x| >= {away_from_zero}")
    return st.one_of([st.floats(_bound(a, dtype, True), _bound(b, dtype, False), **options)
                      for a, b in pieces])


def arrays(shape: Any = None, dtype: Any = np.float64, *, low: float = -3.0, high: float = 3.0,
           positive: bool = False, away_from_zero: float = 0.0, distinct: bool = False) -> st.SearchStrategy:
    """NumPy arrays of a given shape (a tuple or a strategy; default ``shapes()``) with bounded finite values.

    ``positive``: values >= 0.1 (log, sqrt). ``away_from_zero=m``: |values| >= m (abs, relu; m must
    exceed gradcheck's eps). ``distinct``: values pairwise >= 1/64 apart (max, min: no ties).

    Example: ``@given(arrays((2, 3), positive=True))`` draws a (2, 3) float64 array in [0.1, 3].
    """
    dtype = np.dtype(dtype)
    elements = _elements(dtype, low, high, positive, away_from_zero, distinct)
    return hnp.arrays(dtype, shapes() if shape is None else shape, elements=elements, unique=distinct)


def tensors(shape: Any = None, dtype: Any = np.float64, *, requires_grad: bool = True,
            **options: Any) -> st.SearchStrategy:
    """Tensors wrapping ``arrays(shape, dtype, **options)``; floating ones require grad by default.

    Example: ``@given(tensors((3,), away_from_zero=0.01))`` draws ``Tensor([...], requires_grad=True)``.
    """
    return arrays(shape, dtype, **options).map(
        lambda a: Tensor(a, requires_grad=requires_grad and a.dtype.kind == "f"))


def broadcastable_shapes(shape: tuple[int, ...], *, min_dims: int = 0, max_dims: int | None = None,
                         min_side: int = 1, max_side: int | None = None) -> st.SearchStrategy:
    """Shapes that broadcast with `shape` (fewer axes, or 1 where `shape` has a size): for binary ops.

    At most ``len(shape)`` axes unless ``max_dims`` says more.

    Example: ``broadcastable_shapes((2, 3))`` draws (), (3,), (1, 3), (2, 1), (2, 3), ...
    """
    max_dims = max(len(shape), min_dims) if max_dims is None else max_dims
    return hnp.broadcastable_shapes(tuple(shape), min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                    max_side=max_side)


class SequenceBatch(NamedTuple):
    """A batch for recurrent layers: ``x`` (T, B, D) (or (B, T, D)), ``h0`` and ``c0`` (B, H)."""

    x: Tensor
    h0: Tensor
    c0: Tensor


def _draw_size(draw: Any, size: int | st.SearchStrategy | None, largest: int) -> int:
    """An int as given, one drawn from a strategy, or (None) one drawn from 1..largest."""
    if size is None:
        size = st.integers(1, largest)
    return draw(size) if isinstance(size, st.SearchStrategy) else int(size)


@st.composite
def _sequences(draw: Any, T: Any, B: Any, D: Any, H: Any, batch_first: bool, low: float, high: float,
               requires_grad: bool) -> SequenceBatch:
    t, b, d, h = (_draw_size(draw, n, largest) for n, largest in ((T, 4), (B, 3), (D, 4), (H, 4)))
    x_shape = (b, t, d) if batch_first else (t, b, d)
    make = lambda shape: draw(tensors(shape, low=low, high=high, requires_grad=requires_grad))
    return SequenceBatch(make(x_shape), make((b, h)), make((b, h)))


def sequences(T: int | st.SearchStrategy | None = None, B: int | st.SearchStrategy | None = None,
              D: int | st.SearchStrategy | None = None, H: int | st.SearchStrategy | None = None,
              *, batch_first: bool = False, low: float = -1.0, high: float = 1.0,
              requires_grad: bool = True) -> st.SearchStrategy:
    """Recurrent-layer inputs: a SequenceBatch with x (T, B, D) and states h0, c0 (B, H), float64.

    Each size is an int, a strategy for ints, or None for the default range (T, D, H in 1..4, B in
    1..3); ``batch_first=True`` gives x as (B, T, D).

    Example: ``@given(sequences(D=3, H=5))`` then ``cell(batch.x[0], batch.h0)`` fits an RNNCell(3, 5).
    """
    return _sequences(T, B, D, H, batch_first, low, high, requires_grad)


def assert_gradients_match(fn: Any, *inputs: Any, **gradcheck_kwargs: Any) -> GradcheckReport:
    """Run ``gradcheck(fn, inputs, **gradcheck_kwargs)`` and raise AssertionError with its report on failure.

    Example: ``assert_gradients_match(lambda x, y: (x * y).tanh(), x, y, fast=True)``
    """
    gradcheck_kwargs.pop("raise_exception", None)
    report = gradcheck(fn, list(inputs), raise_exception=False, **gradcheck_kwargs)
    if not report:
        raise AssertionError(str(report))
    return report
