"""tinygrad_seq.testing: the strategies draw what they promise, and the assertion helper catches bugs."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Cube, CubeWrong
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_seq import Tensor
from tinygrad_seq.testing import (
    SequenceBatch,
    arrays,
    assert_gradients_match,
    broadcastable_shapes,
    sequences,
    shapes,
    tensors,
)


@given(tensors(shape=shapes(max_dims=2)))
def test_a_user_op_in_three_lines(x):
    assert_gradients_match(lambda x: Cube.apply(x), x)


def test_assert_gradients_match_raises_with_the_report():
    x = Tensor(np.array([[0.5, -2.0], [1.5, 3.0]]), requires_grad=True)
    with pytest.raises(AssertionError, match=r"FAILED[\s\S]*input 0 \(shape \(2, 2\)\), element "):
        assert_gradients_match(lambda x: CubeWrong.apply(x), x)
    with pytest.raises(AssertionError, match="J\\^T u"):
        assert_gradients_match(lambda x: CubeWrong.apply(x), x, fast=True, raise_exception=True)
    report = assert_gradients_match(lambda x, y: x * y, x, np.ones((2, 2)), fast=True)
    assert report and report.mode == "fast" and len(report.checks) == 2


@given(st.data(), st.integers(0, 2), st.integers(0, 2), st.integers(1, 3), st.integers(0, 3))
def test_shapes_stay_within_bounds(data, min_dims, extra_dims, min_side, extra_side):
    max_dims, max_side = min_dims + extra_dims, min_side + extra_side
    shape = data.draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side))
    assert isinstance(shape, tuple) and min_dims <= len(shape) <= max_dims
    assert all(min_side <= n <= max_side for n in shape)


@given(arrays())
def test_arrays_default_is_bounded_finite_float64(a):
    assert a.dtype == np.float64 and a.ndim <= 3 and all(1 <= n <= 4 for n in a.shape)
    assert np.all(np.isfinite(a)) and np.all(np.abs(a) <= 3.0)


@given(arrays((2, 3), positive=True), arrays((4,), away_from_zero=0.5), arrays((3, 4), distinct=True))
def test_arrays_options(pos, far, distinct):
    assert pos.shape == (2, 3) and np.all(pos >= 0.1) and np.all(pos <= 3.0)
    assert np.all(np.abs(far) >= 0.5) and np.all(np.abs(far) <= 3.0)
    gaps = np.diff(np.sort(distinct.ravel()))
    assert np.all(gaps >= 1 / 64)


@given(arrays((5,), np.float32, low=-1.0, high=0.3), arrays((3,), np.int64, low=0, high=4))
def test_arrays_other_dtypes(f32, ints):
    assert f32.dtype == np.float32 and np.all((f32 >= -1.0) & (f32 <= np.float32(0.3)))
    assert ints.dtype == np.int64 and np.all((ints >= 0) & (ints <= 4))


def test_arrays_reject_an_empty_range():
    with pytest.raises(ValueError, match="no values"):
        arrays((2,), low=-1.0, high=1.0, away_from_zero=2.0)


@given(tensors((2, 3)), tensors((3,), np.int64, low=0, high=2))
def test_tensors(x, idx):
    assert isinstance(x, Tensor) and x.shape == (2, 3) and x.dtype == np.float64 and x.requires_grad
    assert x.is_leaf and x.grad is None
    assert idx.dtype == np.int64 and not idx.requires_grad  # integers never require grad


@given(st.data(), shapes())
def test_broadcastable_shapes_broadcast(data, shape):
    other = data.draw(broadcastable_shapes(shape))
    assert len(other) <= len(shape)
    assert np.broadcast_shapes(shape, other) == np.broadcast_shapes(other, shape)
    wider = data.draw(broadcastable_shapes(shape, max_dims=len(shape) + 2))
    assert len(wider) <= len(shape) + 2
    np.broadcast_shapes(shape, wider)  # raises ValueError if they do not broadcast


@given(st.data())
def test_broadcast_gradients_with_drawn_shapes(data):
    shape = data.draw(shapes(max_dims=2))
    x = data.draw(arrays(shape))
    y = data.draw(arrays(broadcastable_shapes(shape)))
    assert_gradients_match(lambda x, y: x * y + y.tanh(), x, y)


@given(sequences())
def test_sequences_default_shapes(batch):
    assert isinstance(batch, SequenceBatch)
    T, B, D = batch.x.shape
    assert 1 <= T <= 4 and 1 <= B <= 3 and 1 <= D <= 4
    assert batch.h0.shape == batch.c0.shape and batch.h0.shape[0] == B and 1 <= batch.h0.shape[1] <= 4
    for t in batch:
        assert t.dtype == np.float64 and t.requires_grad and np.all(np.abs(t.data) <= 1.0)


@given(sequences(T=5, B=st.just(2), D=3, H=st.integers(6, 7), batch_first=True))
def test_sequences_given_sizes(batch):
    assert batch.x.shape == (2, 5, 3)
    assert batch.h0.shape in {(2, 6), (2, 7)} and batch.c0.shape == batch.h0.shape


@given(tensors((3, 2), away_from_zero=0.01))
def test_away_from_zero_makes_kinks_checkable(x):
    assert_gradients_match(lambda x: x.relu() + x.abs(), x)


@given(tensors((2, 3), distinct=True), tensors((4,), positive=True))
def test_distinct_and_positive_make_max_and_log_checkable(x, p):
    assert_gradients_match(lambda x, p: x.max(axis=1) * p.log().sum() + p.sqrt().sum(), x, p)
