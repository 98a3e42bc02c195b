"""Every op of the catalogue against NumPy (forward) and finite differences (gradients).

Each test is parametrised over the rows of tests/op_catalogue.py; hypothesis draws the input
shapes and values from the row's strategy, and the row's edge cases (scalars, shape (1,),
repeated indices) run first as explicit @examples.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from op_catalogue import CATALOGUE, Op

import tinygrad_seq as tg
from tinygrad_seq import Tensor, gradcheck, gradgradcheck
from tinygrad_seq.testing import broadcastable_shapes, shapes

TOLERANCE = {np.float32: dict(rtol=3e-5, atol=3e-6), np.float64: dict(rtol=1e-9, atol=1e-12)}


def check_property(strategy: st.SearchStrategy, check: Callable[[Any], None], examples: Sequence = (),
                   budget: int = 12) -> None:
    """Run `check` on inputs drawn from `strategy`, after the explicit `examples`.

    At most `budget` random draws per row (fewer if the profile asks for fewer): with ~160 rows the
    catalogue as a whole still sees thousands of cases, and the suite stays within its time budget.
    """
    runs = min(settings.default.max_examples, budget)

    @settings(max_examples=runs, database=None)
    @given(inputs=strategy)
    def prop(inputs: Any) -> None:
        check(inputs)

    for inputs in reversed(examples):  # @example runs them in the order listed here
        prop = example(inputs=inputs)(prop)
    prop()


def tensors_of(arrays: Sequence[np.ndarray], dtype: Any = None, requires_grad: bool = True) -> list[Tensor]:
    """Tensors of `arrays`, float ones cast to `dtype`; integer ones (class ids) unchanged."""
    out = []
    for a in arrays:
        if a.dtype.kind == "f":
            out.append(Tensor(a.astype(dtype or a.dtype), requires_grad=requires_grad))
        else:
            out.append(Tensor(a))
    return out


def assert_matches_numpy(op: Op, inputs: Sequence[np.ndarray], dtype: Any) -> None:
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in inputs]
    out = op.fn(*tensors_of(arrays))
    expected = np.asarray(op.ref(*arrays))
    assert isinstance(out, Tensor), f"{op.name} returned {type(out).__name__}"
    assert out.shape == expected.shape, f"{op.name}: shape {out.shape}, NumPy gives {expected.shape}"
    assert out.dtype == expected.dtype, f"{op.name}: dtype {out.dtype}, NumPy gives {expected.dtype}"
    np.testing.assert_allclose(out.numpy(), expected, **TOLERANCE[dtype], err_msg=op.name)


# ------------------------------------------------------------------------------------------- forward


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("op", CATALOGUE, ids=repr)
def test_forward_matches_numpy(op: Op, dtype: Any) -> None:
    check_property(op.inputs(), lambda inputs: assert_matches_numpy(op, inputs, dtype), op.example_inputs())


# ------------------------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("op", [op for op in CATALOGUE if op.grad], ids=repr)
def test_gradcheck(op: Op) -> None:
    check_property(op.inputs(), lambda inputs: gradcheck(op.fn, list(inputs), **op.check),
                   op.example_inputs())


@pytest.mark.parametrize("op", [op for op in CATALOGUE if op.gradgrad], ids=repr)
def test_gradgradcheck(op: Op) -> None:
    check_property(op.inputs(), lambda inputs: gradgradcheck(op.fn, list(inputs), **op.check),
                   op.example_inputs()[:1], budget=4)


def test_gradgradcheck_covers_the_representative_ops() -> None:
    """The second-order subset keeps the ops whose backward rules are themselves differentiated most."""
    covered = {op.name.split("[")[0] for op in CATALOGUE if op.gradgrad}
    wanted = {"mul", "div", "tanh", "sigmoid", "exp", "log", "matmul", "logsumexp", "softmax", "getitem",
              "sum"}
    assert wanted <= covered, f"missing: {sorted(wanted - covered)}"


# ------------------------------------------------------------------------------------------- broadcasting

BROADCASTING = [op for op in CATALOGUE if op.broadcast]
# (bigger, smaller) shape pairs tried first in both directions
BROADCAST_EXAMPLES = [((2, 3), ()), ((3,), (1,)), ((2, 1, 3), (4, 1)), ((2, 3), (2, 1))]


def broadcast_pairs(bigger_first: bool) -> st.SearchStrategy:
    """(shape, shape that broadcasts with it), in either order."""
    pairs = shapes(max_dims=3, max_side=3).flatmap(lambda s: st.tuples(st.just(s), broadcastable_shapes(s)))
    return pairs if bigger_first else pairs.map(lambda p: p[::-1])


def broadcast_examples(op: Op, bigger_first: bool) -> list:
    return [op.fill(pair if bigger_first else pair[::-1]) for pair in BROADCAST_EXAMPLES]


@pytest.mark.parametrize("bigger_first", [True, False], ids=["x_broadcast_over_y", "y_broadcast_over_x"])
@pytest.mark.parametrize("op", BROADCASTING, ids=repr)
def test_broadcast_forward_matches_numpy(op: Op, bigger_first: bool) -> None:
    check_property(op.inputs(broadcast_pairs(bigger_first)),
                   lambda inputs: assert_matches_numpy(op, inputs, np.float64),
                   broadcast_examples(op, bigger_first))


@pytest.mark.parametrize("bigger_first", [True, False], ids=["x_broadcast_over_y", "y_broadcast_over_x"])
@pytest.mark.parametrize("op", BROADCASTING, ids=repr)
def test_broadcast_gradcheck(op: Op, bigger_first: bool) -> None:
    def check(inputs: tuple) -> None:
        x, y = tensors_of(inputs)
        op.fn(x, y).sum().backward()
        assert x.grad.shape == x.shape and y.grad.shape == y.shape  # summed back to each input's shape
        gradcheck(op.fn, list(inputs), **op.check)

    check_property(op.inputs(broadcast_pairs(bigger_first)), check, broadcast_examples(op, bigger_first))


# ------------------------------------------------------------------------------------------- dtypes

ARITHMETIC = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow, tg.maximum,
              tg.minimum]


@pytest.mark.parametrize("scalar", [2.0, 3, -0.5], ids=["float", "int", "negative float"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("fn", ARITHMETIC, ids=lambda f: f.__name__)
def test_python_scalar_never_upcasts(fn: Callable, dtype: Any, scalar: float) -> None:
    a = np.array([0.5, 1.5, 2.5], dtype=dtype)
    out = fn(Tensor(a, requires_grad=True), scalar)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), np.asarray(_numpy_version(fn)(a, scalar)), **TOLERANCE[dtype])
    if fn not in (tg.maximum, tg.minimum) and not (fn is operator.pow and scalar < 0):  # scalar on the left
        reflected = fn(scalar, Tensor(a, requires_grad=True))
        assert reflected.dtype == dtype
        np.testing.assert_allclose(reflected.numpy(), _numpy_version(fn)(scalar, a), **TOLERANCE[dtype])


def _numpy_version(fn: Callable) -> Callable:
    return {tg.maximum: np.maximum, tg.minimum: np.minimum}.get(fn, fn)


@pytest.mark.parametrize("fn", ARITHMETIC[:4] + [operator.matmul], ids=lambda f: f.__name__)
def test_mixed_float_dtypes_promote_like_numpy(fn: Callable) -> None:
    a32 = np.array([[0.5, 1.5], [2.5, 1.0]], dtype=np.float32)
    b64 = np.array([[1.5, 0.25], [0.75, 2.0]])
    pairs = [(Tensor(a32), Tensor(b64)), (Tensor(a32), b64), (a32, Tensor(b64)), (b64, Tensor(a32))]
    for left, right in pairs:
        plain = [t.numpy() if isinstance(t, Tensor) else t for t in (left, right)]
        out = fn(left, right)
        assert isinstance(out, Tensor), "an ndarray on the left must dispatch to the Tensor"
        assert out.dtype == fn(*plain).dtype == np.float64


def test_where_keeps_dtypes_like_numpy() -> None:
    cond = np.array([True, False, True])
    x32, y64 = np.ones(3, np.float32), np.zeros(3)
    assert tg.where(cond, Tensor(x32), Tensor(y64)).dtype == np.where(cond, x32, y64).dtype == np.float64
    assert tg.where(cond, Tensor(x32), 0.0).dtype == np.float32
    assert tg.where(cond, 1.5, Tensor(x32)).dtype == np.float32
    assert tg.where(cond, Tensor(y64), 0.0).dtype == np.float64
    assert Tensor(x32).masked_fill(cond, -1e9).dtype == np.float32


# ------------------------------------------------------------------------------------------- edge cases


@given(indices=st.lists(st.integers(-4, 3), min_size=1, max_size=8))
@example(indices=[2, 2, 2])
@example(indices=[0, 3, 0, 3, 0])
@example(indices=[-1, 3, -4, 0])
def test_repeated_indices_accumulate(indices: list[int]) -> None:
    """Indexing with repeats: x[i] picked k times gets k times the gradient (np.add.at, not assignment);
    -1 and 3 are the same row."""
    x = Tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    weights = np.arange(1.0, 2 * len(indices) + 1).reshape(len(indices), 2)
    (x[np.array(indices)] * weights).sum().backward()
    expected = np.zeros((4, 2))
    np.add.at(expected, np.array(indices), weights)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@pytest.mark.parametrize("rows, ids_shape", [(5, (7, 3)), (100, (4, 2)), (3, (0,))])
def test_row_scatter_matches_add_at(rows: int, ids_shape: tuple[int, ...]) -> None:
    """The gradient of x[ids] for a table x (an embedding): the sorted-rows sum (many repeats) and
    np.add.at (few) give np.add.at's values, for ids of any shape."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((rows, 4)), requires_grad=True)
    ids = rng.integers(-rows, rows, ids_shape)
    upstream = rng.standard_normal((*ids_shape, 4))
    x[ids].backward(Tensor(upstream))
    expected = np.zeros((rows, 4))
    np.add.at(expected, ids, upstream)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


@given(mask=st.lists(st.booleans(), min_size=6, max_size=6))
@example(mask=[False] * 6)
@example(mask=[True] * 6)
def test_boolean_mask_gradient_is_the_mask(mask: list[bool]) -> None:
    x = Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    m = np.array(mask).reshape(2, 3)
    out = x[m]
    np.testing.assert_array_equal(out.numpy(), x.numpy()[m])
    (out * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 3.0 * m)


def test_max_splits_the_gradient_between_ties() -> None:
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [0.5, 0, 0.5]])


def test_pow_of_negative_base_with_integer_exponents() -> None:
    x = Tensor(np.array([-2.0, -0.5, 3.0]), requires_grad=True)
    for p in (2, 3, -1, np.int64(3), Tensor(np.array(2.0))):
        x.grad = None
        (x**p).sum().backward()
        q = float(p.numpy()) if isinstance(p, Tensor) else float(p)
        np.testing.assert_allclose(x.grad.numpy(), q * x.numpy() ** (q - 1))


def test_pow_zero_has_zero_gradient_at_zero() -> None:
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_comparisons_and_argmax_have_no_gradient() -> None:
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.0]]), requires_grad=True)
    for out in (x < 0.5, x <= 0.5, x > 0.5, x >= 0.5, x.eq(0.5), x.argmax(axis=1)):
        assert not out.requires_grad and out.grad_fn is None
    assert (x > 0.5).dtype == bool
    np.testing.assert_array_equal(x.argmax(axis=1).numpy(), [0, 0])
