"""Stable formulations: inputs of magnitude 1e4 in float32 give exact, finite values and gradients.

Each case runs inside ``detect_anomaly()`` and with NumPy's overflow / invalid / divide warnings
turned into errors, so not even an intermediate result may overflow or become NaN.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.functional as F
from tinygrad_seq import Tensor

BIG = [1e4, -1e4, 0.0]
WEIGHTS = np.array([1.0, 2.0, 3.0], dtype=np.float32)  # the loss is sum(WEIGHTS * out): distinct grads

# name, fn, exact value, exact gradient of sum(WEIGHTS * fn(x)) (or of fn(x) when it is a scalar)
CASES = [
    ("softmax", lambda x: x.softmax(-1), [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    ("functional.softmax", lambda x: F.softmax(x), [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    ("log_softmax", lambda x: x.log_softmax(-1), [0.0, -2e4, -1e4], [1.0 - 6.0, 2.0, 3.0]),
    ("logsumexp", lambda x: x.logsumexp(), 1e4, [1.0, 0.0, 0.0]),
    ("sigmoid", lambda x: x.sigmoid(), [1.0, 0.0, 0.5], [0.0, 0.0, 3.0 * 0.25]),
    ("tanh", lambda x: x.tanh(), [1.0, -1.0, 0.0], [0.0, 0.0, 3.0]),
    ("cross_entropy[target 0]", lambda x: F.cross_entropy(x.reshape(1, 3), np.array([0])), 0.0,
     [0.0, 0.0, 0.0]),
    ("cross_entropy[target 1]", lambda x: F.cross_entropy(x.reshape(1, 3), np.array([1])), 2e4,
     [1.0, -1.0, 0.0]),
    ("cross_entropy[target 2]", lambda x: F.cross_entropy(x.reshape(1, 3), np.array([2])), 1e4,
     [1.0, 0.0, -1.0]),
]


def run_strictly(fn: Callable[[Tensor], Tensor], values: list[float]) -> tuple[Tensor, Tensor]:
    x = Tensor(np.array(values, dtype=np.float32), requires_grad=True)
    with tg.detect_anomaly(), np.errstate(over="raise", invalid="raise", divide="raise"):
        out = fn(x)
        loss = out if out.size == 1 else (out * Tensor(WEIGHTS)).sum()
        loss.backward()
    return out, x.grad


@pytest.mark.parametrize("name, fn, value, gradient", CASES, ids=[c[0] for c in CASES])
def test_magnitude_1e4_in_float32_is_exact_and_finite(name: str, fn: Callable, value: object,
                                                      gradient: list[float]) -> None:
    out, grad = run_strictly(fn, BIG)
    assert out.dtype == np.float32 and grad.dtype == np.float32
    assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(grad.numpy()))
    np.testing.assert_array_equal(out.numpy(), np.array(value, dtype=np.float32).reshape(out.shape))
    np.testing.assert_allclose(grad.numpy(), gradient, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, fn", [(c[0], c[1]) for c in CASES], ids=[c[0] for c in CASES])
def test_all_large_equal_inputs(name: str, fn: Callable) -> None:
    """Three equal huge logits: softmax is uniform, logsumexp is x + log 3, nothing overflows."""
    for big in (1e4, -1e4):
        out, grad = run_strictly(fn, [big, big, big])
        assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(grad.numpy()))
    np.testing.assert_allclose(run_strictly(lambda x: x.softmax(-1), [-1e4] * 3)[0].numpy(), [1 / 3] * 3,
                               rtol=1e-6)
    np.testing.assert_allclose(run_strictly(lambda x: x.logsumexp(), [-1e4] * 3)[0].item(),
                               -1e4 + np.log(3), rtol=1e-7)  # float32 spacing at 1e4 is ~1e-3


def test_cross_entropy_of_a_batch_with_huge_logits() -> None:
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [0.0, 0.0, -1e4]], np.float32),
                    requires_grad=True)
    with tg.detect_anomaly(), np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.cross_entropy(logits, np.array([2, 1, 0]), reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.numpy(), [1e4, 0.0, np.log(2)], rtol=1e-6)
    expected = np.array([[1, 0, -1], [0, 0, 0], [0.5 - 1, 0.5, 0]], np.float32)
    np.testing.assert_allclose(logits.grad.numpy(), expected, atol=1e-6)
