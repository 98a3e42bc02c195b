"""tinygrad_seq.tensor: what a Tensor holds (dtype rules, data, version), its small elementwise methods
(maximum, minimum, clip, masked_fill, detach, astype), its text, and the constructors.

The ops behind the operators are tested row by row in test_ops.py (tests/op_catalogue.py); errors in
test_errors.py; the habits carried over from NumPy and PyTorch in test_habits.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import Tensor, no_grad


def grads_of(out: Tensor, *inputs: Tensor) -> list[np.ndarray]:
    return [g.numpy() for g in ts.grad(out.sum(), list(inputs))]


# ----------------------------------------------------------------------------------- data and dtype


@pytest.mark.parametrize("data, dtype", [(1.5, np.float32), ([1, 2], np.float32), ([[0.5]], np.float32),
                                         (True, np.bool_), (np.arange(3), np.int64),
                                         (np.float64(2.0), np.float64), (np.ones(2, np.float16), np.float16)])
def test_python_values_become_float32_and_numpy_values_keep_their_dtype(data, dtype):
    t = Tensor(data)
    assert t.dtype == dtype and t.shape == np.shape(data)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_a_dtype_given_wins_and_a_tensor_made_from_a_tensor_has_its_values():
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor(x)
    assert y.tolist() == [1.0, 2.0] and not y.requires_grad and y.grad_fn is None


def test_shape_properties_read_like_an_ndarray():
    t = Tensor(np.zeros((2, 3, 4)))
    assert (t.shape, t.ndim, t.size, len(t)) == ((2, 3, 4), 3, 24, 2)
    assert t.T.shape == (4, 3, 2) and t.is_leaf
    assert Tensor([[1.0, 2.0]]).tolist() == [[1.0, 2.0]] and Tensor([3.0]).item() == 3.0


def test_numpy_is_the_same_array_not_a_copy():
    t = Tensor([1.0, 2.0])
    assert t.numpy() is t.data


def test_every_write_to_data_bumps_the_version_once():
    t = Tensor([1.0, 2.0, 3.0])
    assert t._version == 0
    t.data = [4, 5, 6]  # replaced, keeping the dtype
    assert t._version == 1 and t.dtype == np.float32 and t.tolist() == [4.0, 5.0, 6.0]
    t[0] = 9.0
    assert t._version == 2 and t.tolist() == [9.0, 5.0, 6.0]
    with no_grad():
        t += 1
    assert t._version == 3
    t.bump_version()  # after writing into t.data's array directly
    assert t._version == 4


def test_a_graph_that_saved_a_tensor_refuses_backward_after_it_changed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0])
    loss = (x * w).sum()  # Mul saves w for x's gradient
    w.data[0] = 0.0
    w.bump_version()
    with pytest.raises(RuntimeError, match="modified"):
        loss.backward()


# ----------------------------------------------------------------------------------- small methods


def test_maximum_and_minimum_pick_elementwise_and_split_the_gradient_at_a_tie():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = Tensor(np.array([3.0, 2.0, 1.0]), requires_grad=True)
    assert x.maximum(y).tolist() == [3.0, 2.0, 3.0] and x.minimum(y).tolist() == [1.0, 2.0, 1.0]
    gx, gy = grads_of(x.maximum(y), x, y)
    np.testing.assert_array_equal(gx, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(gy, [1.0, 0.5, 0.0])
    gx, gy = grads_of(ts.minimum(x, y), x, y)  # the functions are the methods
    np.testing.assert_array_equal(gx, [1.0, 0.5, 0.0])
    np.testing.assert_array_equal(gy, [0.0, 0.5, 1.0])
    assert ts.maximum(x, 2).tolist() == [2.0, 2.0, 3.0] and ts.maximum(x, 2).dtype == np.float64


def test_clip_limits_the_values_and_passes_no_gradient_where_it_clipped():
    x = Tensor(np.array([-2.0, 0.5, 2.0]), requires_grad=True)
    out = x.clip(-1.0, 1.0)
    assert out.tolist() == [-1.0, 0.5, 1.0]
    np.testing.assert_array_equal(grads_of(out, x)[0], [0.0, 1.0, 0.0])
    assert x.clip(max=0.0).tolist() == [-2.0, 0.0, 0.0]


def test_masked_fill_replaces_where_the_mask_is_true_and_blocks_the_gradient_there():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    out = x.masked_fill(np.array([False, True, False]), -np.inf)
    assert out.tolist() == [1.0, -np.inf, 3.0]
    np.testing.assert_array_equal(grads_of(out * 2, x)[0], [2.0, 0.0, 2.0])


def test_detach_keeps_the_values_and_cuts_the_gradient():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    d = x.detach()
    assert d.tolist() == [1.0, 2.0] and not d.requires_grad and d.grad_fn is None
    (gx,) = grads_of(x * d, x)  # d counts as a constant
    np.testing.assert_array_equal(gx, [1.0, 2.0])


def test_astype_converts_and_its_gradient_comes_back_in_the_input_dtype():
    x = Tensor(np.array([1.5, -2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64 and x.astype(np.float32) is x
    (gx,) = grads_of(y * y, x)
    assert gx.dtype == np.float32
    np.testing.assert_array_equal(gx, [3.0, -4.0])


# ----------------------------------------------------------------------------------- text


def test_repr_shows_values_then_dtype_then_how_it_was_made():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1. 2.])"
    assert repr(Tensor(np.array([1.0]))) == "Tensor([1.], dtype=float64)"
    x = Tensor([1.0], requires_grad=True)
    assert repr(x) == "Tensor([1.], requires_grad=True)"
    assert repr(x * 2) == "Tensor([2.], grad_fn=Mul)"


def test_no_two_methods_of_tensor_share_a_docstring():
    """A docstring copied from a neighbour says the wrong thing (maximum once carried clip's)."""
    seen: dict[str, str] = {}
    for name, member in vars(Tensor).items():
        function = member.fget if isinstance(member, property) else member
        doc = function.__doc__ if callable(function) else None
        if not doc or name == "eq":  # eq is __eq__ under torch's name
            continue
        assert doc not in seen, f"Tensor.{name} has the docstring of Tensor.{seen[doc]}"
        seen[doc] = name


# ----------------------------------------------------------------------------------- constructors


@pytest.mark.parametrize("make, values", [
    (lambda **k: ts.zeros(2, 3, **k), np.zeros((2, 3))),
    (lambda **k: ts.zeros((2, 3), **k), np.zeros((2, 3))),
    (lambda **k: ts.ones(2, **k), np.ones(2)),
    (lambda **k: ts.full((2, 2), 7.0, **k), np.full((2, 2), 7.0)),
])
def test_constructors_give_the_values_in_float32_unless_told(make, values):
    t = make()
    assert t.dtype == np.float32 and not t.requires_grad
    np.testing.assert_array_equal(t.numpy(), values)
    assert make(dtype=np.float64).dtype == np.float64 and make(requires_grad=True).requires_grad


def test_arange_eye_and_the_like_constructors():
    # as torch.arange: int64 from integers (an index), float32 when any argument is a float
    assert ts.arange(1, 7, 2).tolist() == [1, 3, 5] and ts.arange(3).dtype == np.int64
    assert ts.arange(0, 1, 0.5).tolist() == [0.0, 0.5] and ts.arange(0, 1, 0.5).dtype == np.float32
    np.testing.assert_array_equal(ts.eye(2, 3).numpy(), np.eye(2, 3))
    x = Tensor(np.ones((2, 2), dtype=np.float64))
    for like, value in ((ts.zeros_like(x), 0.0), (ts.ones_like(x), 1.0), (ts.full_like(x, 3.0), 3.0)):
        assert like.shape == (2, 2) and like.dtype == np.float64 and np.all(like.numpy() == value)


def test_random_constructors_repeat_with_the_same_generator():
    a = ts.randn(3, 4, rng=np.random.default_rng(0))
    b = ts.randn(3, 4, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == np.float32 and a.shape == (3, 4)
    u = ts.rand(1000, rng=np.random.default_rng(1), dtype=np.float64).numpy()
    assert u.dtype == np.float64 and 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.05
