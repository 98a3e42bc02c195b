"""Errors a learner can read: the op, the shapes, and what to do, never a NumPy traceback from inside."""

from __future__ import annotations

import traceback
from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.functional as F
from tinygrad_seq import Tensor

ONES = lambda *shape: Tensor(np.ones(shape))


def raised(fn: Callable[[], object]) -> BaseException:
    with pytest.raises(Exception) as info:
        fn()
    return info.value


def assert_not_from_numpy_internals(err: BaseException) -> None:
    """The innermost frame of the traceback is our code, not NumPy's (errors are raised, not leaked)."""
    frames = traceback.extract_tb(err.__traceback__)
    assert frames, "no traceback"
    assert "numpy" not in frames[-1].filename.replace("\\", "/").split("/site-packages/")[-1].split("/")[0], (
        f"the error comes from inside NumPy: {frames[-1].filename}:{frames[-1].lineno}"
    )
    assert err.__suppress_context__ or err.__context__ is None


# -------------------------------------------------------------------------------- shapes


def test_matmul_mismatch_names_matmul_and_both_shapes() -> None:
    err = raised(lambda: ONES(3, 4) @ ONES(5, 2))
    assert isinstance(err, tg.ShapeError) and isinstance(err, ValueError)
    assert "matmul: shapes (3, 4) and (5, 2) are not aligned: 4 != 5" in str(err)


@pytest.mark.parametrize("left, right, dims", [((3,), (5, 2), "3 != 5"), ((2, 4), (3,), "4 != 3"),
                                                ((4,), (3,), "4 != 3")])
def test_matmul_mismatch_with_vectors(left: tuple, right: tuple, dims: str) -> None:
    err = raised(lambda: ONES(*left) @ ONES(*right))
    assert isinstance(err, tg.ShapeError)
    assert f"matmul: shapes {left} and {right} are not aligned: {dims}" in str(err)


def test_matmul_batch_mismatch_names_both_shapes() -> None:
    err = raised(lambda: tg.matmul(ONES(2, 3, 4), ONES(3, 4, 2)))
    assert isinstance(err, tg.ShapeError)
    assert str(err).startswith("matmul:") and "(2, 3, 4)" in str(err) and "(3, 4, 2)" in str(err)


@pytest.mark.parametrize("name, fn", [
    ("add", lambda x, y: x + y), ("sub", lambda x, y: x - y), ("mul", lambda x, y: x * y),
    ("div", lambda x, y: x / y), ("maximum", lambda x, y: x.maximum(y)),
    ("where", lambda x, y: tg.where(np.ones(x.shape, bool), x, y)),
])
def test_broadcasting_mismatch_names_the_op_and_shapes(name: str, fn: Callable) -> None:
    err = raised(lambda: fn(ONES(2, 3), ONES(4)))
    assert isinstance(err, ValueError)
    assert str(err).startswith(f"{name}:"), str(err)
    assert "(2, 3)" in str(err) and "(4,)" in str(err)
    assert_not_from_numpy_internals(err)


def test_broadcast_to_an_impossible_shape() -> None:
    err = raised(lambda: ONES(2, 3).broadcast_to((4, 3)))
    assert isinstance(err, tg.ShapeError)
    assert "broadcast_to" in str(err) and "(2, 3)" in str(err) and "(4, 3)" in str(err)


def test_reshape_mismatch_names_both_shapes() -> None:
    err = raised(lambda: ONES(2, 3).reshape(4, 2))
    assert isinstance(err, tg.ShapeError)
    assert "reshape: cannot reshape a tensor of shape (2, 3) into (4, 2)" in str(err)


@pytest.mark.parametrize("op, fn, words", [
    ("sum", lambda: ONES(2, 3).sum(axis=2), ["axis 2", "2 dimensions"]),
    ("max", lambda: ONES(2, 3).max(axis=(0, -3)), ["axis -3"]),
    ("squeeze", lambda: ONES(2, 1).squeeze(0), ["(2, 1)"]),
    ("split", lambda: ONES(2, 5).split(sections=2, axis=1), ["5", "2 equal parts"]),
    ("concatenate", lambda: tg.concatenate([ONES(2, 3), ONES(3, 2)]), ["(2, 3)", "(3, 2)"]),
    ("getitem", lambda: ONES(2, 3)[5], ["index 5", "(2, 3)"]),
    ("getitem", lambda: ONES(2, 3)[np.array([0, 7])], ["index 7"]),
    ("linear", lambda: F.linear(ONES(2, 3), ONES(4, 5)), ["(2, 3)", "(4, 5)", "in_features"]),
    ("embedding", lambda: F.embedding(np.array([0, 7]), ONES(2, 3)), ["7", "2 embeddings"]),
])
def test_errors_start_with_the_op_name(op: str, fn: Callable, words: list[str]) -> None:
    err = raised(fn)
    assert isinstance(err, ValueError | IndexError | TypeError), type(err)
    assert str(err).startswith(f"{op}:"), str(err)
    for word in words:
        assert word in str(err), (word, str(err))
    assert_not_from_numpy_internals(err)


# -------------------------------------------------------------------------------- autograd misuse


def test_backward_on_a_non_scalar_says_to_pass_grad() -> None:
    y = Tensor(np.ones(3), requires_grad=True) * 2
    err = raised(lambda: y.backward())
    assert isinstance(err, RuntimeError)
    assert "(3,)" in str(err) and "grad=" in str(err)
    y.backward(np.ones(3))  # and doing what it says works


def test_backward_grad_of_the_wrong_shape() -> None:
    y = Tensor(np.ones(3), requires_grad=True) * 2
    err = raised(lambda: y.backward(np.ones(4)))
    assert "(4,)" in str(err) and "(3,)" in str(err)


@pytest.mark.parametrize("make", [
    lambda: Tensor(np.arange(3), requires_grad=True),
    lambda: Tensor(np.arange(3)).requires_grad_(),
    lambda: Tensor(np.array([True, False]), requires_grad=True),
], ids=["constructor", "requires_grad_", "bool"])
def test_integer_tensor_cannot_require_grad(make: Callable) -> None:
    err = raised(make)
    assert isinstance(err, TypeError)
    assert "float" in str(err)


def test_second_backward_through_a_released_graph() -> None:
    x = Tensor(np.ones(2), requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    err = raised(y.backward)
    assert isinstance(err, RuntimeError) and "retain_graph=True" in str(err)


def test_input_changed_through_data_after_the_forward_pass() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    x.data = np.array([5.0, 6.0])
    err = raised(y.backward)
    assert isinstance(err, RuntimeError)
    assert "modified in place" in str(err) and "Mul" in str(err)


def test_input_changed_by_setitem_under_no_grad_after_the_forward_pass() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.exp().sum()
    with tg.no_grad():
        x[0] = 3.0
    err = raised(y.backward)
    assert isinstance(err, RuntimeError)
    assert "modified in place" in str(err) and "Exp" in str(err)


def test_changes_before_the_forward_pass_are_fine() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.data = np.array([3.0, 4.0])
    with tg.no_grad():
        x[1] = 5.0
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 10.0])


def test_setitem_on_a_tensor_that_requires_grad_outside_no_grad() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    err = raised(lambda: x.__setitem__(0, 3.0))
    assert isinstance(err, RuntimeError) and "no_grad" in str(err)


def test_grad_of_an_input_that_does_not_require_grad() -> None:
    x = Tensor(np.ones(2))
    err = raised(lambda: tg.grad((x * 2).sum(), [x]))
    assert "does not require grad" in str(err)


# -------------------------------------------------------------------------------- losses


def test_cross_entropy_with_targets_of_the_wrong_shape() -> None:
    err = raised(lambda: F.cross_entropy(ONES(2, 3), np.array([0, 1, 2])))
    assert isinstance(err, tg.ShapeError)
    assert str(err).startswith("cross_entropy:")
    assert "(2, 3)" in str(err) and "(2,)" in str(err) and "(3,)" in str(err)


@pytest.mark.parametrize("bad", [3, -1, 10])
def test_cross_entropy_with_an_out_of_range_target(bad: int) -> None:
    err = raised(lambda: F.cross_entropy(ONES(2, 3), np.array([0, bad])))
    assert isinstance(err, IndexError)
    assert str(err).startswith("cross_entropy:") and str(bad) in str(err) and "3 classes" in str(err)


def test_cross_entropy_with_float_targets() -> None:
    err = raised(lambda: F.cross_entropy(ONES(2, 3), np.array([0.0, 1.0])))
    assert isinstance(err, TypeError) and "integer" in str(err)


def test_nll_loss_names_itself() -> None:
    err = raised(lambda: F.nll_loss(ONES(2, 3), np.array([0, 5])))
    assert isinstance(err, IndexError) and str(err).startswith("nll_loss:")


def test_cross_entropy_ignore_index_is_not_out_of_range() -> None:
    loss = F.cross_entropy(ONES(2, 3), np.array([-100, 1]))
    np.testing.assert_allclose(loss.item(), np.log(3.0))


def test_dropout_probability_out_of_range() -> None:
    err = raised(lambda: F.dropout(ONES(2), p=1.0, rng=np.random.default_rng(0)))
    assert isinstance(err, ValueError) and str(err).startswith("dropout:")
