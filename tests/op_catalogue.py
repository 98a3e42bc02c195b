"""The op catalogue: one row per op, with its NumPy reference and the inputs it is valid on.

tests/test_ops.py parametrises its forward tests, gradchecks, broadcast gradchecks and
gradgradchecks over ``CATALOGUE``; adding an op means adding a row here.

A row says:

- ``fn(*tensors)``: the op applied to Tensors (constant parameters such as an axis, an index or a
  target vector are fixed inside it, derived from the input shapes where they must fit them);
- ``ref(*arrays)``: the same computation in plain NumPy;
- ``domains``: one name per input (see ``DOMAINS``), so that finite differences never straddle a
  kink (abs, relu, clip, max) or leave the domain (log, sqrt, fractional powers);
- ``shapes``: a strategy for the tuple of input shapes;
- ``broadcast``: a binary elementwise op, also checked with broadcastable (unequal) shapes;
- ``grad`` / ``gradgrad``: whether gradcheck / gradgradcheck apply;
- ``examples``: input shapes that must always be tried (scalars, shape (1,), ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_seq as tg
import tinygrad_seq.functional as F
from tinygrad_seq.testing import arrays, shapes

# --------------------------------------------------------------------------------------- domains

_GRID = 64  # "grid" values are multiples of 1/64; "off_grid" ones sit halfway between two of them


@dataclass(frozen=True)
class Domain:
    """Where an input's values come from: a hypothesis strategy and a fixed fill for @examples."""

    description: str
    strategy: Callable[[tuple[int, ...]], st.SearchStrategy]
    fill: Callable[[tuple[int, ...]], np.ndarray]


def _spread(shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """Evenly spaced values in [low, high], in an order that is not sorted."""
    n = int(np.prod(shape))
    values = np.linspace(low, high, max(n, 2))[:n]
    return values[(np.arange(n) * 7) % max(n, 1)].reshape(shape)


def _off_grid(shape: tuple[int, ...]) -> st.SearchStrategy:
    elements = st.integers(-3 * _GRID, 3 * _GRID - 1).map(lambda k: k / _GRID + 1 / (2 * _GRID))
    return hnp.arrays(np.float64, shape, elements=elements)


def _on_grid(shape: tuple[int, ...]) -> st.SearchStrategy:
    return hnp.arrays(np.float64, shape, elements=st.integers(-3 * _GRID, 3 * _GRID).map(lambda k: k / _GRID))


def _grid_fill(shape: tuple[int, ...], offset: float) -> np.ndarray:
    n = int(np.prod(shape))
    k = (np.arange(n) * 37) % 383 - 191  # distinct for n <= 383: 37 and 383 are coprime
    return (k / _GRID + offset).reshape(shape)


def _nonzero_fill(shape: tuple[int, ...]) -> np.ndarray:
    values = _spread(shape, 0.6, 2.4)
    return values * np.where(np.arange(values.size).reshape(shape) % 2, -1.0, 1.0)


DOMAINS: dict[str, Domain] = {
    "real": Domain("any value in [-3, 3]", lambda s: arrays(s), lambda s: _spread(s, -2.3, 2.9)),
    "positive": Domain("values in [0.1, 3] (log, sqrt, fractional powers, a tensor base)",
                       lambda s: arrays(s, positive=True), lambda s: _spread(s, 0.3, 2.7)),
    "nonzero": Domain("|values| >= 0.5 (division, negative powers)",
                      lambda s: arrays(s, away_from_zero=0.5), _nonzero_fill),
    "grid": Domain("multiples of 1/64 (one side of maximum / minimum)", _on_grid,
                   lambda s: _grid_fill(s, 0.0)),
    "off_grid": Domain("halfway between multiples of 1/64: at least 1/128 from 0, from the clip bounds and "
                       "from any 'grid' value (abs, relu, clip, maximum)", _off_grid,
                       lambda s: _grid_fill(s, 1 / (2 * _GRID))),
    "distinct": Domain("pairwise at least 1/64 apart (max, min: no ties; layer_norm: no zero variance)",
                       lambda s: arrays(s, distinct=True), lambda s: _grid_fill(s, 0.0)),
    "classes": Domain("integer class ids in [0, 3]", lambda s: arrays(s, dtype=np.int64, low=0, high=3),
                      lambda s: (np.arange(int(np.prod(s))) % 4).reshape(s)),
}


# --------------------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Op:
    """One catalogue row (see the module docstring)."""

    name: str
    fn: Callable[..., tg.Tensor]
    ref: Callable[..., np.ndarray]
    domains: tuple[str, ...]
    shapes: st.SearchStrategy
    broadcast: bool = False
    grad: bool = True
    gradgrad: bool = False
    examples: tuple[tuple[tuple[int, ...], ...], ...] = ()
    check: dict[str, Any] = field(default_factory=dict)  # extra gradcheck arguments

    @property
    def arity(self) -> int:
        return len(self.domains)

    def __repr__(self) -> str:  # the pytest id and the name in hypothesis' failure report
        return self.name

    def inputs(self, input_shapes: st.SearchStrategy | None = None) -> st.SearchStrategy:
        """A strategy for the tuple of input arrays (float64; int64 for class ids), of the row's shapes
        or of `input_shapes` (a strategy for tuples of shapes)."""
        def arrays_for(shapes_: tuple) -> st.SearchStrategy:
            return st.tuples(*(DOMAINS[d].strategy(s) for d, s in zip(self.domains, shapes_)))
        return (self.shapes if input_shapes is None else input_shapes).flatmap(arrays_for)

    def fill(self, input_shapes: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, ...]:
        """Inputs of the given shapes with fixed in-domain values (for @example)."""
        return tuple(DOMAINS[d].fill(s) for d, s in zip(self.domains, input_shapes))

    def example_inputs(self) -> list[tuple[np.ndarray, ...]]:
        """The `examples` shapes filled with fixed in-domain values."""
        return [self.fill(ex) for ex in self.examples]


def same(n: int, **shape_options: Any) -> st.SearchStrategy:
    """n inputs of one shape."""
    return shapes(**{"max_side": 3, **shape_options}).map(lambda s: (s,) * n)


def sizes(lo: int = 1, hi: int = 3) -> st.SearchStrategy:
    return st.integers(lo, hi)


SCALAR_AND_ONE = (((),), ((1,),))
SCALAR_AND_ONE_2 = (((), ()), ((1,), (1,)))


def unary(name: str, fn: Callable, ref: Callable, domain: str = "real", *, min_dims: int = 0,
          max_dims: int = 3, min_side: int = 1, examples: Any = None, **row: Any) -> Op:
    """A one-input row over shapes with min_dims..max_dims axes."""
    if examples is None:  # the smallest shapes allowed: a scalar and shape (1,), or all sides minimal
        examples = SCALAR_AND_ONE if min_dims == min_side - 1 == 0 else (((min_side,) * max(min_dims, 1),),)
    return Op(name, fn, ref, (domain,), same(1, min_dims=min_dims, max_dims=max_dims, min_side=min_side),
              examples=examples, **row)


def binary(name: str, fn: Callable, ref: Callable, domains: tuple[str, str] = ("real", "real"),
           **row: Any) -> Op:
    """An elementwise two-input row: same shapes here, broadcast shapes in test_ops."""
    return Op(name, fn, ref, domains, same(2), broadcast=True, examples=SCALAR_AND_ONE_2, **row)


# --------------------------------------------------------------------------------------- helpers


def _mask(shape: tuple[int, ...]) -> np.ndarray:
    """A fixed boolean mask of `shape` that is True at element 0 and at two of every three elements."""
    return (np.arange(int(np.prod(shape))) % 3 != 1).reshape(shape)


def _np_logsumexp(a: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    return a - _np_logsumexp(a, axis, keepdims=True)


def _np_sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def _targets(n: int, classes: int) -> np.ndarray:
    """A fixed target vector of n class ids below `classes`."""
    return (np.arange(n) * 2 + 1) % classes


def _np_nll(log_probs: np.ndarray, targets: np.ndarray, ignore_index: int = -100,
            reduction: str = "mean") -> np.ndarray:
    """NumPy nll_loss for (N, C, d...) log-probabilities and (N, d...) targets."""
    moved = np.moveaxis(log_probs, 1, -1)  # (N, C, d...) -> (N, d..., C)
    keep = targets != ignore_index
    picked = np.take_along_axis(moved, np.where(keep, targets, 0)[..., None], axis=-1)[..., 0]
    losses = np.where(keep, -picked, 0).astype(log_probs.dtype)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    n = int(keep.sum())
    return losses.sum() / n if n else np.array(np.nan, dtype=losses.dtype)  # as torch: the mean of nothing


def _ce_targets_ignoring_first(n: int, classes: int) -> np.ndarray:
    t = _targets(n, classes)
    t[0] = -100
    return t


def _np_layer_norm(a: np.ndarray, axes: tuple[int, ...], w: Any = None, b: Any = None) -> np.ndarray:
    out = (a - a.mean(axes, keepdims=True)) / np.sqrt(a.var(axes, keepdims=True) + 1e-5)
    if w is not None:
        out = out * w
    return out if b is None else out + b


def _np_gelu(a: np.ndarray) -> np.ndarray:
    c = float(np.sqrt(2 / np.pi))
    return 0.5 * a * (1 + np.tanh(c * (a + 0.044715 * a**3)))


def _dropout_keep(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).random(shape) >= 0.3


def _sum_weighted(parts: list) -> Any:
    """parts[0] + 2 parts[1] + 3 parts[2] ...: every part reaches the output with its own weight."""
    total = parts[0]
    for k, p in enumerate(parts[1:], start=2):
        total = total + k * p
    return total


def _concat_shapes(n: int, axis: int) -> st.SearchStrategy:
    """n 3-D shapes equal except along `axis`."""
    def build(common: tuple, lengths: list) -> tuple:
        out = []
        for n_ in lengths:
            s = list(common)
            s[axis] = n_
            out.append(tuple(s))
        return tuple(out)
    return st.builds(build, st.tuples(sizes(), sizes(), sizes()), st.lists(sizes(), min_size=n, max_size=n))


# shape strategies for matmul: (left, right)
_n, _k, _m, _b = sizes(), sizes(), sizes(), sizes(1, 3)
MATMUL_SHAPES = {
    "2d": st.builds(lambda n, k, m: ((n, k), (k, m)), _n, _k, _m),
    "batched": st.builds(lambda b, n, k, m: ((b, n, k), (b, k, m)), _b, _n, _k, _m),
    "broadcast_batch": st.builds(lambda b, c, n, k, m: ((b, 1, n, k), (c, k, m)),
                                 _b, sizes(2, 3), _n, _k, _m),
    "matrix_times_batch": st.builds(lambda b, n, k, m: ((n, k), (b, k, m)), _b, _n, _k, _m),
    "vec_vec": st.builds(lambda k: ((k,), (k,)), _k),
    "vec_mat": st.builds(lambda k, m: ((k,), (k, m)), _k, _m),
    "mat_vec": st.builds(lambda n, k: ((n, k), (k,)), _n, _k),
    "batch_vec": st.builds(lambda b, n, k: ((b, n, k), (k,)), _b, _n, _k),
    "vec_batch": st.builds(lambda b, k, m: ((k,), (b, k, m)), _b, _k, _m),
}
MATMUL_EXAMPLES = {
    "2d": (((1, 1), (1, 1)),), "vec_vec": (((1,), (1,)),), "vec_mat": (((1,), (1, 2)),),
    "mat_vec": (((2, 1), (1,)),), "broadcast_batch": (((2, 1, 1, 2), (3, 2, 1)),),
}

# (axis, keepdims, the fewest axes the input needs) for every reduction
AXES = [(None, False, 0), (None, True, 0), (0, False, 1), (-1, True, 1), ((0, 2), False, 3),
        ((-1, 0), True, 2)]
REDUCTIONS = [
    ("sum", lambda x, a, k: x.sum(a, k), lambda x, a, k: np.sum(x, axis=a, keepdims=k), "real"),
    ("mean", lambda x, a, k: x.mean(a, k), lambda x, a, k: np.mean(x, axis=a, keepdims=k), "real"),
    ("var", lambda x, a, k: x.var(a, k, ddof=0), lambda x, a, k: np.var(x, axis=a, keepdims=k), "real"),
    ("max", lambda x, a, k: x.max(a, k), lambda x, a, k: np.max(x, axis=a, keepdims=k), "distinct"),
    ("min", lambda x, a, k: x.min(a, k), lambda x, a, k: np.min(x, axis=a, keepdims=k), "distinct"),
    ("logsumexp", lambda x, a, k: x.logsumexp(a, k), _np_logsumexp, "real"),
]


def _reduction_rows() -> list[Op]:
    rows = []
    for name, method, ref, domain in REDUCTIONS:
        for axis, keepdims, min_dims in AXES:
            label = "all" if axis is None else str(axis).replace(" ", "")
            rows.append(unary(
                f"{name}[axis={label}{',keepdims' if keepdims else ''}]",
                lambda x, m=method, a=axis, k=keepdims: m(x, a, k),
                lambda x, r=ref, a=axis, k=keepdims: r(x, a, k),
                domain, min_dims=min_dims,
                gradgrad=name in ("sum", "logsumexp") and axis in (None, -1),
            ))
    return rows


def _getitem(index: Any, min_dims: int = 1, min_side: int = 1, **row: Any) -> Op:
    """A getitem row with a fixed index (valid for shapes with at least min_dims axes of min_side)."""
    label = repr(index).replace("array", "arr").replace(" ", "").replace("\n", "")
    return unary(f"getitem[{label}]", lambda x: x[index], lambda a: a[index], min_dims=min_dims,
                 min_side=min_side, **row)


REP = np.array([0, 2, 0, 0])  # repeated indices: their gradients must accumulate


# --------------------------------------------------------------------------------------- the table

CATALOGUE: list[Op] = [
    # ---- arithmetic, elementwise binary (checked with broadcast shapes too)
    binary("add", lambda x, y: x + y, lambda a, b: a + b),
    binary("sub", lambda x, y: x - y, lambda a, b: a - b),
    binary("mul", lambda x, y: x * y, lambda a, b: a * b, gradgrad=True),
    binary("div", lambda x, y: x / y, lambda a, b: a / b, ("real", "nonzero"), gradgrad=True),
    binary("pow[tensor**tensor]", lambda x, y: x**y, lambda a, b: a**b, ("positive", "real"), gradgrad=True),
    binary("maximum", lambda x, y: x.maximum(y), np.maximum, ("grid", "off_grid")),
    binary("minimum", lambda x, y: tg.minimum(x, y), np.minimum, ("grid", "off_grid")),
    binary("where", lambda x, y: tg.where(_mask(np.broadcast_shapes(x.shape, y.shape)), x, y),
           lambda a, b: np.where(_mask(np.broadcast_shapes(a.shape, b.shape)), a, b)),
    # ---- a Python scalar or a NumPy array on either side
    unary("add[scalar]", lambda x: x + 1.5, lambda a: a + 1.5),
    unary("radd[scalar]", lambda x: 1.5 + x, lambda a: 1.5 + a),
    unary("rsub[scalar]", lambda x: 2.0 - x, lambda a: 2.0 - a),
    unary("rmul[int]", lambda x: 3 * x, lambda a: 3 * a),
    unary("rdiv[scalar]", lambda x: 1.5 / x, lambda a: 1.5 / a, "nonzero", gradgrad=True),
    unary("radd[ndarray]", lambda x: np.full(x.shape, 0.5) + x, lambda a: np.full(a.shape, 0.5) + a),
    unary("rsub[ndarray]", lambda x: np.linspace(-1, 1, x.size).reshape(x.shape) - x,
          lambda a: np.linspace(-1, 1, a.size).reshape(a.shape) - a),
    # ---- powers with a constant exponent
    unary("pow[2]", lambda x: x**2, lambda a: a**2, gradgrad=True),
    unary("pow[3]", lambda x: x**3, lambda a: a**3, gradgrad=True),
    unary("pow[0]", lambda x: x**0, lambda a: a**0),
    unary("pow[-1]", lambda x: x**-1, lambda a: a**-1, "nonzero"),
    unary("pow[0.5]", lambda x: x**0.5, lambda a: a**0.5, "positive"),
    unary("pow[1.5]", lambda x: x**1.5, lambda a: a**1.5, "positive", gradgrad=True),
    unary("pow[np.int64(3)]", lambda x: x ** np.int64(3), lambda a: a ** np.int64(3)),
    unary("pow[no-grad tensor 3.0]", lambda x: x ** tg.Tensor(np.array(3.0)), lambda a: a ** np.array(3.0)),
    unary("rpow[2.0**x]", lambda x: 2.0**x, lambda a: 2.0**a),
    # ---- elementwise unary
    unary("neg", lambda x: -x, lambda a: -a),
    unary("exp", lambda x: x.exp(), np.exp, gradgrad=True),
    unary("log", lambda x: x.log(), np.log, "positive", gradgrad=True),
    unary("sqrt", lambda x: x.sqrt(), np.sqrt, "positive", gradgrad=True),
    unary("abs", lambda x: x.abs(), np.abs, "off_grid"),
    unary("tanh", lambda x: x.tanh(), np.tanh, gradgrad=True),
    unary("sigmoid", lambda x: x.sigmoid(), _np_sigmoid, gradgrad=True),
    unary("relu", lambda x: x.relu(), lambda a: np.maximum(a, 0), "off_grid"),
    unary("clip[-1,1.5]", lambda x: x.clip(-1.0, 1.5), lambda a: np.clip(a, -1.0, 1.5), "off_grid"),
    unary("clip[min=0.25]", lambda x: x.clip(min=0.25), lambda a: np.maximum(a, 0.25), "off_grid"),
    unary("clip[max=0.5]", lambda x: x.clip(max=0.5), lambda a: np.minimum(a, 0.5), "off_grid"),
    unary("maximum[scalar]", lambda x: x.maximum(0.5), lambda a: np.maximum(a, 0.5), "off_grid"),
    unary("minimum[scalar]", lambda x: x.minimum(-0.5), lambda a: np.minimum(a, -0.5), "off_grid"),
    unary("masked_fill", lambda x: x.masked_fill(_mask(x.shape), -1.5),
          lambda a: np.where(_mask(a.shape), -1.5, a)),
    unary("masked_fill[bool tensor, -1e9]", lambda x: x.masked_fill(tg.Tensor(_mask(x.shape)), -1e9),
          lambda a: np.where(_mask(a.shape), -1e9, a)),
    unary("astype[float32->float64]", lambda x: x.astype(np.float32).astype(np.float64),
          lambda a: a.astype(np.float32).astype(np.float64), check=dict(eps=1e-2, atol=1e-4)),
    # ---- reductions (every axis form) and softmax
    *_reduction_rows(),
    unary("var[axis=-1,ddof=1]", lambda x: x.var(-1, ddof=1), lambda a: np.var(a, axis=-1, ddof=1),
          min_dims=1, min_side=2),
    unary("softmax[axis=-1]", lambda x: x.softmax(-1), lambda a: np.exp(_np_log_softmax(a, -1)), min_dims=1,
          gradgrad=True),
    unary("softmax[axis=0]", lambda x: F.softmax(x, axis=0), lambda a: np.exp(_np_log_softmax(a, 0)),
          min_dims=1),
    unary("log_softmax[axis=-1]", lambda x: x.log_softmax(-1), lambda a: _np_log_softmax(a, -1), min_dims=1,
          gradgrad=True),
    unary("log_softmax[axis=1]", lambda x: F.log_softmax(x, axis=1), lambda a: _np_log_softmax(a, 1),
          min_dims=2),
    # ---- matmul: 2-D, batched, broadcast batch dims, 1-D operands
    *[Op(f"matmul[{kind}]", lambda x, y: x @ y, np.matmul, ("real", "real"), shape_strategy,
         gradgrad=kind in ("2d", "batched", "vec_mat"), examples=MATMUL_EXAMPLES.get(kind, ()))
      for kind, shape_strategy in MATMUL_SHAPES.items()],
    Op("matmul[function]", tg.matmul, np.matmul, ("real", "real"), MATMUL_SHAPES["batched"]),
    unary("rmatmul[ndarray @ tensor]", lambda x: np.ones((2, x.shape[-2])) @ x,
          lambda a: np.ones((2, a.shape[-2])) @ a, min_dims=2),
    # ---- shape ops
    unary("reshape[-1]", lambda x: x.reshape(-1), lambda a: a.reshape(-1)),
    unary("reshape[reversed shape]", lambda x: x.reshape(x.shape[::-1]), lambda a: a.reshape(a.shape[::-1])),
    unary("reshape[(n, -1)]", lambda x: x.reshape(x.shape[0], -1), lambda a: a.reshape(a.shape[0], -1),
          min_dims=1),
    unary("transpose", lambda x: x.transpose(), lambda a: a.transpose()),
    unary("T", lambda x: x.T, lambda a: a.T),
    unary("permute[1,0,2]", lambda x: x.permute(1, 0, 2), lambda a: a.transpose(1, 0, 2), min_dims=3,
          examples=()),
    unary("permute[1,2,0]", lambda x: x.permute(1, 2, 0), lambda a: a.transpose(1, 2, 0), min_dims=3,
          max_dims=3, examples=()),  # not its own inverse, unlike swaps and reversal
    unary("permute[(-1,0,1)]", lambda x: x.permute((-1, 0, 1)), lambda a: a.transpose(-1, 0, 1), min_dims=3,
          max_dims=3, examples=()),
    unary("transpose[0,-1,1]", lambda x: x.transpose(0, -1, 1), lambda a: a.transpose(0, -1, 1),
          min_dims=3, examples=()),
    unary("swapaxes[0,-1]", lambda x: x.swapaxes(0, -1), lambda a: a.swapaxes(0, -1), min_dims=1),
    unary("expand_dims[0]", lambda x: x.expand_dims(0), lambda a: np.expand_dims(a, 0)),
    unary("expand_dims[-1]", lambda x: x.expand_dims(-1), lambda a: np.expand_dims(a, -1)),
    Op("squeeze[all]", lambda x: x.squeeze(), np.squeeze, ("real",),
       st.tuples(sizes(), sizes()).map(lambda s: ((1, s[0], 1, s[1]),)), examples=(((1, 1, 1, 1),),)),
    Op("squeeze[1]", lambda x: x.squeeze(1), lambda a: a.squeeze(1), ("real",),
       st.tuples(sizes(), sizes()).map(lambda s: ((s[0], 1, s[1]),))),
    Op("squeeze[(0,-1)]", lambda x: x.squeeze((0, -1)), lambda a: a.squeeze((0, -1)), ("real",),
       sizes().map(lambda n: ((1, n, 1),))),
    Op("broadcast_to", lambda x: x.broadcast_to((2, x.shape[0], 3)),
       lambda a: np.broadcast_to(a, (2, a.shape[0], 3)), ("real",), sizes().map(lambda n: ((n, 1),))),
    Op("broadcast_to[new axes only]", lambda x: x.broadcast_to((3,) + x.shape),
       lambda a: np.broadcast_to(a, (3,) + a.shape), ("real",), same(1, max_dims=2), examples=SCALAR_AND_ONE),
    unary("flip", lambda x: x.flip(), np.flip),
    unary("flip[0]", lambda x: x.flip(0), lambda a: np.flip(a, 0), min_dims=1),
    unary("flip[-1]", lambda x: x.flip(-1), lambda a: np.flip(a, -1), min_dims=1),
    unary("flip[(0,-1)]", lambda x: x.flip((0, -1)), lambda a: np.flip(a, (0, -1)), min_dims=2),
    Op("concatenate[axis=0]", lambda x, y: tg.concatenate([x, y], axis=0),
       lambda a, b: np.concatenate([a, b], axis=0), ("real", "real"), _concat_shapes(2, 0)),
    Op("concatenate[axis=-1, 3 inputs]", lambda x, y, z: tg.concatenate([x, y, z], axis=-1),
       lambda a, b, c: np.concatenate([a, b, c], axis=-1), ("real",) * 3, _concat_shapes(3, -1)),
    Op("concatenate[axis=-2]", lambda x, y: tg.concatenate([x, y], axis=-2),
       lambda a, b: np.concatenate([a, b], axis=-2), ("real", "real"), _concat_shapes(2, 1)),
    Op("stack[axis=0]", lambda x, y: tg.stack([x, y]), lambda a, b: np.stack([a, b]), ("real", "real"),
       same(2), examples=SCALAR_AND_ONE_2),
    Op("stack[axis=-1]", lambda x, y: tg.stack([x, y], axis=-1), lambda a, b: np.stack([a, b], axis=-1),
       ("real", "real"), same(2), examples=SCALAR_AND_ONE_2),
    Op("split[3 equal, axis=-1]", lambda x: _sum_weighted(x.split(sections=3, axis=-1)),
       lambda a: _sum_weighted(np.split(a, 3, axis=-1)), ("real",),
       st.tuples(sizes(), sizes()).map(lambda s: ((s[0], 3 * s[1]),)), examples=(((1, 3),),)),
    Op("split[at indices, axis=0]", lambda x: _sum_weighted(x.split(indices=[1, 3], axis=0)),
       lambda a: _sum_weighted(np.split(a, [1, 3], axis=0)), ("real",),
       st.tuples(sizes(), sizes()).map(lambda s: ((4, s[0], s[1]),))),
    Op("split[middle part]", lambda x: x.split(indices=[1, 3], axis=-1)[1],
       lambda a: np.split(a, [1, 3], axis=-1)[1], ("real",), sizes().map(lambda n: ((n, 4),))),
    # ---- indexing: ints, slices, None, Ellipsis, integer arrays (repeats accumulate), boolean masks
    _getitem(0, gradgrad=True),
    _getitem(-1),
    _getitem((0, -1), min_dims=2),
    _getitem(slice(1, None), min_side=2),
    _getitem((slice(None, None, -1), slice(None, None, 2)), min_dims=2),
    _getitem((None, slice(None), None), min_dims=1),
    _getitem((Ellipsis, 0), min_dims=1),
    _getitem((0, Ellipsis, None)),
    _getitem(REP, min_side=3, gradgrad=True),
    _getitem(np.array([[0, 1], [1, 1]]), min_side=2),
    _getitem([2, 0, 2], min_side=3),
    _getitem((slice(None), np.array([1, 1, 0])), min_dims=2, min_side=2),
    _getitem((np.array([0, 1, 1]), np.array([1, 0, 1])), min_dims=2, min_side=2),
    _getitem((np.array([0, 1, 1]), slice(None), np.array([1, 0, 1])), min_dims=3, min_side=2, examples=()),
    Op("getitem[bool mask, axis 0]", lambda x: x[np.array([True, False, True])],
       lambda a: a[np.array([True, False, True])], ("real",),
       shapes(min_dims=0, max_dims=2, max_side=3).map(lambda s: ((3, *s),)), examples=(((3,),),)),
    unary("getitem[bool mask, full shape]", lambda x: x[_mask(x.shape)], lambda a: a[_mask(a.shape)],
          min_dims=1, gradgrad=True),
    unary("getitem[bool tensor mask]", lambda x: x[tg.Tensor(_mask(x.shape))], lambda a: a[_mask(a.shape)],
          min_dims=1),
    Op("getitem[..., bool mask]", lambda x: x[..., np.array([True, True, False, True])],
       lambda a: a[..., np.array([True, True, False, True])], ("real",),
       shapes(min_dims=0, max_dims=2, max_side=3).map(lambda s: ((*s, 4),))),
    Op("getitem[bool mask, slice]", lambda x: x[_mask(x.shape[:1]), 1:],
       lambda a: a[_mask(a.shape[:1]), 1:], ("real",), same(1, min_dims=2)),
    unary("take[repeats, axis=0]", lambda x: x.take(REP), lambda a: np.take(a, REP, axis=0), min_dims=1,
          min_side=3),
    unary("take[2-D ids, axis=-1]", lambda x: x.take(np.array([[1, 0], [1, 1]]), axis=-1),
          lambda a: np.take(a, np.array([[1, 0], [1, 1]]), axis=-1), min_dims=1, min_side=2),
    # ---- functional composites
    Op("cross_entropy", lambda x: F.cross_entropy(x, _targets(*x.shape)),
       lambda a: _np_nll(_np_log_softmax(a, 1), _targets(*a.shape)), ("real",),
       st.tuples(sizes(), sizes(2, 4)).map(lambda s: (s,)), gradgrad=True, examples=(((1, 2),),)),
    Op("cross_entropy[ignore_index]", lambda x: F.cross_entropy(x, _ce_targets_ignoring_first(*x.shape)),
       lambda a: _np_nll(_np_log_softmax(a, 1), _ce_targets_ignoring_first(*a.shape)), ("real",),
       st.tuples(sizes(2, 4), sizes(2, 4)).map(lambda s: (s,))),
    Op("cross_entropy[ignore_index=1, sum]",
       lambda x: F.cross_entropy(x, _targets(x.shape[0], x.shape[1]), ignore_index=1, reduction="sum"),
       lambda a: _np_nll(_np_log_softmax(a, 1), _targets(a.shape[0], a.shape[1]), 1, "sum"), ("real",),
       st.tuples(sizes(2, 4), sizes(2, 4)).map(lambda s: (s,))),
    Op("cross_entropy[(N, C, T), none]",
       lambda x: F.cross_entropy(x, _targets(x.shape[0] * x.shape[2], x.shape[1]).reshape(x.shape[0], -1),
                                 reduction="none"),
       lambda a: _np_nll(_np_log_softmax(a, 1), _targets(a.shape[0] * a.shape[2], a.shape[1])
                         .reshape(a.shape[0], -1), reduction="none"), ("real",),
       st.tuples(sizes(), sizes(2, 3), sizes()).map(lambda s: (s,))),
    Op("cross_entropy[(C,) single example]", lambda x: F.cross_entropy(x, np.array(1)),
       lambda a: -_np_log_softmax(a, 0)[1], ("real",), sizes(2, 4).map(lambda c: ((c,),))),
    Op("nll_loss", lambda x: F.nll_loss(x, _targets(*x.shape)), lambda a: _np_nll(a, _targets(*a.shape)),
       ("real",), st.tuples(sizes(), sizes(2, 4)).map(lambda s: (s,))),
    Op("mse_loss", F.mse_loss, lambda a, b: np.mean((a - b) ** 2), ("real", "real"), same(2),
       examples=SCALAR_AND_ONE_2),
    Op("mse_loss[sum]", lambda x, y: F.mse_loss(x, y, reduction="sum"), lambda a, b: np.sum((a - b) ** 2),
       ("real", "real"), same(2)),
    Op("layer_norm", lambda x, w, b: F.layer_norm(x, (x.shape[-1],), w, b),
       lambda a, w, b: _np_layer_norm(a, (-1,), w, b), ("distinct", "real", "real"),
       st.tuples(sizes(), sizes(2, 4)).map(lambda s: (s, s[1:], s[1:])), gradgrad=True),
    Op("layer_norm[2 axes, no affine]", lambda x: F.layer_norm(x, x.shape[-2:]),
       lambda a: _np_layer_norm(a, (-2, -1)), ("distinct",),
       st.tuples(sizes(), sizes(), sizes(2, 3)).map(lambda s: (s,))),
    unary("gelu", F.gelu, _np_gelu, gradgrad=True),
    # ---- the fused primitives (fused=True): same references, and they support double backward too
    Op("cross_entropy[fused]", lambda x: F.cross_entropy(x, _targets(*x.shape), fused=True),
       lambda a: _np_nll(_np_log_softmax(a, 1), _targets(*a.shape)), ("real",),
       st.tuples(sizes(), sizes(2, 4)).map(lambda s: (s,)), gradgrad=True, examples=(((1, 2),),)),
    Op("cross_entropy[fused, ignore_index]",
       lambda x: F.cross_entropy(x, _ce_targets_ignoring_first(*x.shape), fused=True),
       lambda a: _np_nll(_np_log_softmax(a, 1), _ce_targets_ignoring_first(*a.shape)), ("real",),
       st.tuples(sizes(2, 4), sizes(2, 4)).map(lambda s: (s,)), gradgrad=True),
    Op("cross_entropy[fused, (N, C, T), none]",
       lambda x: F.cross_entropy(x, _targets(x.shape[0] * x.shape[2], x.shape[1]).reshape(x.shape[0], -1),
                                 reduction="none", fused=True),
       lambda a: _np_nll(_np_log_softmax(a, 1), _targets(a.shape[0] * a.shape[2], a.shape[1])
                         .reshape(a.shape[0], -1), reduction="none"), ("real",),
       st.tuples(sizes(), sizes(2, 3), sizes()).map(lambda s: (s,))),
    Op("cross_entropy[fused, (C,) single example, sum]",
       lambda x: F.cross_entropy(x, np.array(1), reduction="sum", fused=True),
       lambda a: -_np_log_softmax(a, 0)[1], ("real",), sizes(2, 4).map(lambda c: ((c,),))),
    Op("layer_norm[fused]", lambda x, w, b: F.layer_norm(x, (x.shape[-1],), w, b, fused=True),
       lambda a, w, b: _np_layer_norm(a, (-1,), w, b), ("distinct", "real", "real"),
       st.tuples(sizes(), sizes(2, 4)).map(lambda s: (s, s[1:], s[1:])), gradgrad=True),
    Op("layer_norm[fused, 2 axes, no affine]", lambda x: F.layer_norm(x, x.shape[-2:], fused=True),
       lambda a: _np_layer_norm(a, (-2, -1)), ("distinct",),
       st.tuples(sizes(), sizes(), sizes(2, 3)).map(lambda s: (s,)), gradgrad=True),
    unary("gelu[fused]", lambda x: F.gelu(x, fused=True), _np_gelu, gradgrad=True),
    Op("linear", F.linear, lambda a, w, b: a @ w.T + b, ("real",) * 3,
       st.tuples(sizes(), sizes(), sizes()).map(lambda s: ((s[0], s[1]), (s[2], s[1]), (s[2],)))),
    Op("linear[no bias, batched]", F.linear, lambda a, w: a @ w.T, ("real",) * 2,
       st.tuples(sizes(), sizes(), sizes(), sizes()).map(lambda s: ((s[3], s[0], s[1]), (s[2], s[1])))),
    Op("linear[fused]", lambda x, w, b: F.linear(x, w, b, fused=True), lambda a, w, b: a @ w.T + b,
       ("real",) * 3, st.tuples(sizes(), sizes(), sizes(), sizes()).map(
           lambda s: ((s[3], s[0], s[1]), (s[2], s[1]), (s[2],))), gradgrad=True),
    Op("embedding", lambda w: F.embedding(np.array([[0, 2], [2, 2]]), w),
       lambda a: a[np.array([[0, 2], [2, 2]])], ("real",),
       st.tuples(sizes(3, 4), sizes()).map(lambda s: (s,))),
    Op("one_hot", lambda ids: F.one_hot(ids, 4), lambda a: np.eye(4, dtype=np.float32)[a], ("classes",),
       shapes(max_dims=2, max_side=3).map(lambda s: (s,)), grad=False, examples=SCALAR_AND_ONE),
    unary("dropout[p=0.3, seeded]", lambda x: F.dropout(x, 0.3, rng=np.random.default_rng(0)),
          lambda a: a * (_dropout_keep(a.shape) / 0.7).astype(a.dtype)),
    unary("dropout[eval]", lambda x: F.dropout(x, 0.3, training=False), lambda a: a),
    unary("relu[functional]", F.relu, lambda a: np.maximum(a, 0), "off_grid"),
    unary("sigmoid[functional]", F.sigmoid, _np_sigmoid),
    unary("tanh[functional]", F.tanh, np.tanh),
]

BY_NAME: dict[str, Op] = {op.name: op for op in CATALOGUE}
if len(BY_NAME) != len(CATALOGUE):
    raise RuntimeError("op catalogue: two rows share a name")
