"""nn.utils: gradient clipping by norm (any order, non-finite norms refused on request) and by value, and
`grad_norm`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_seq import Tensor, nn
from tinygrad_seq.nn.utils import clip_grad_norm_, clip_grad_value_, grad_norm


def params_with_grads():
    rng = np.random.default_rng(0)
    params = [nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros((2, 2))), nn.Parameter(np.zeros(4))]
    params[0].grad = Tensor(rng.normal(size=3) * 10)
    params[1].grad = Tensor(rng.normal(size=(2, 2)) * 10)  # the third has no gradient
    return params


def test_clip_grad_norm_returns_the_norm_before_and_leaves_max_norm_after():
    params = params_with_grads()
    before = [p.grad.numpy().copy() for p in params[:2]]
    total = math.sqrt(sum((g**2).sum() for g in before))
    assert grad_norm(params) == pytest.approx(total, rel=1e-12)
    assert clip_grad_norm_(params, max_norm=5.0) == pytest.approx(total, rel=1e-12)
    assert grad_norm(params) == pytest.approx(5.0, rel=1e-6)
    for p, g in zip(params, before):  # the direction is kept
        np.testing.assert_allclose(p.grad.numpy(), g * 5.0 / total, rtol=1e-5)
    assert params[2].grad is None
    assert clip_grad_norm_(params, max_norm=100.0) == pytest.approx(5.0, rel=1e-6)  # below: unchanged
    assert grad_norm(params) == pytest.approx(5.0, rel=1e-6)


def test_clip_grad_norm_other_norms_and_non_finite():
    params = params_with_grads()
    largest = max(np.abs(p.grad.numpy()).max() for p in params[:2])
    assert clip_grad_norm_(params, max_norm=1.0, norm_type=math.inf) == pytest.approx(largest)
    assert grad_norm(params, norm_type=math.inf) == pytest.approx(1.0, rel=1e-5)
    l1 = sum(np.abs(p.grad.numpy()).sum() for p in params[:2])
    assert grad_norm(params, norm_type=1) == pytest.approx(l1)
    params[0].grad.data[0] = np.nan
    with pytest.raises(RuntimeError, match="NaN or Inf"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert grad_norm([nn.Parameter(np.zeros(2))]) == 0.0


def test_clip_grad_value_clamps_each_element():
    params = params_with_grads()
    before = [p.grad.numpy().copy() for p in params[:2]]
    versions = [p.grad._version for p in params[:2]]
    clip_grad_value_(params, 2.0)
    for p, g in zip(params, before):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -2.0, 2.0))
    assert any(np.abs(g).max() > 2.0 for g in before)
    assert [p.grad._version for p in params[:2]] == [v + 1 for v in versions]  # the write is recorded once
