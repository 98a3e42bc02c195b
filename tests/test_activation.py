"""nn.activation: each module applies its one elementwise op, holds no parameters, and chains in Sequential;
GELU's fused node equals its composed form."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import Tensor, gradcheck, nn
from tinygrad_seq.autograd import toposort

X = np.linspace(-3.0, 3.0, 13).reshape(1, 13)


@pytest.mark.parametrize(("module", "numpy"), [
    (nn.ReLU(), lambda x: np.maximum(x, 0.0)),
    (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda x: 1.0 / (1.0 + np.exp(-x))),
    (nn.GELU(approximate="tanh"),
     lambda x: 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))),
], ids=["ReLU", "Tanh", "Sigmoid", "GELU"])
def test_each_activation_is_its_formula_with_no_parameters(module, numpy):
    np.testing.assert_allclose(module(Tensor(X)).numpy(), numpy(X), rtol=1e-12, atol=1e-15)
    assert list(module.parameters()) == []
    assert gradcheck(module, [X + 0.01])  # off ReLU's kink at 0


def test_fused_gelu_is_one_node_equal_to_the_composed_form():
    x = Tensor(X, requires_grad=True)
    fused, composed = nn.GELU(approximate="tanh", fused=True)(x), nn.GELU(approximate="tanh")(x)
    np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-12, atol=1e-15)
    assert len(toposort([fused])) < len(toposort([composed]))
    (g_fused,) = ts.grad((fused * fused).sum(), [x])
    (g_composed,) = ts.grad((composed * composed).sum(), [x])
    np.testing.assert_allclose(g_fused.numpy(), g_composed.numpy(), rtol=1e-10, atol=1e-14)


def test_activations_chain_in_sequential():
    net = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Tanh(), nn.Linear(3, 1, rng=1), nn.Sigmoid())
    out = net(Tensor(np.ones((4, 2)))).numpy()
    assert out.shape == (4, 1) and np.all((0 < out) & (out < 1))
