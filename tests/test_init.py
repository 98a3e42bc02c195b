"""nn.init: the initialisers fill in place, draw from the promised distributions, are reproducible from a
seed and check their arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_seq import Tensor, nn


def test_initialisers_fill_in_place_and_return_the_same_tensor():
    w = nn.Parameter(np.empty((30, 20), dtype=np.float32))
    array = w.numpy()
    for fill in (lambda t: nn.init.uniform_(t, -1, 1, np.random.default_rng(0)),
                 lambda t: nn.init.normal_(t, rng=0), nn.init.zeros_, nn.init.ones_,
                 lambda t: nn.init.constant_(t, 2.5), lambda t: nn.init.xavier_uniform_(t, rng=0),
                 lambda t: nn.init.xavier_normal_(t, rng=0), lambda t: nn.init.kaiming_uniform_(t, rng=0),
                 lambda t: nn.init.kaiming_normal_(t, rng=0), lambda t: nn.init.orthogonal_(t, rng=0)):
        assert fill(w) is w
        assert w.numpy() is array and w.dtype == np.float32 and w.grad_fn is None and w.requires_grad


def test_initialisers_draw_from_the_promised_distributions():
    rng = np.random.default_rng(0)
    w = Tensor(np.empty((400, 300)))  # fan_in 300, fan_out 400
    u = nn.init.uniform_(w, -2.0, 3.0, rng).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.02
    n = nn.init.normal_(w, 1.0, 0.5, rng).numpy()
    assert abs(n.mean() - 1.0) < 0.01 and abs(n.std() - 0.5) < 0.01
    bound = math.sqrt(6 / 700)
    x = nn.init.xavier_uniform_(w, rng=rng).numpy()
    assert np.abs(x).max() <= bound and np.abs(x).max() > 0.99 * bound
    assert abs(nn.init.xavier_normal_(w, gain=2.0, rng=rng).numpy().std() - 2 * math.sqrt(2 / 700)) < 1e-3
    k = nn.init.kaiming_uniform_(w, rng=rng).numpy()  # leaky_relu with slope 0: gain sqrt(2)
    assert np.abs(k).max() <= math.sqrt(6 / 300) and np.abs(k).max() > 0.99 * math.sqrt(6 / 300)
    k = nn.init.kaiming_uniform_(w, a=math.sqrt(5), rng=rng).numpy()  # Linear's default
    assert np.abs(k).max() <= 1 / math.sqrt(300)
    k = nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", rng=rng).numpy()
    assert abs(k.std() - math.sqrt(2 / 400)) < 1e-3
    np.testing.assert_array_equal(nn.init.zeros_(w).numpy(), 0.0)
    np.testing.assert_array_equal(nn.init.ones_(w).numpy(), 1.0)


@pytest.mark.parametrize("shape", [(4, 7), (7, 4), (5, 5), (3, 2, 4)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    w = nn.init.orthogonal_(Tensor(np.empty(shape)), gain=2.0, rng=np.random.default_rng(0)).numpy()
    flat = w.reshape(shape[0], -1) / 2.0
    small = min(flat.shape)
    gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_initialisers_are_reproducible_from_a_seed_and_check_their_arguments():
    a = nn.init.orthogonal_(Tensor(np.empty((3, 3))), rng=np.random.default_rng(4)).numpy().copy()
    b = nn.init.orthogonal_(Tensor(np.empty((3, 3))), rng=np.random.default_rng(4)).numpy()
    np.testing.assert_array_equal(a, b)
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert nn.init.fan_in_and_fan_out(Tensor(np.empty((8, 3, 5)))) == (15, 40)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.orthogonal_(Tensor(np.empty(3)))
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.init.zeros_(np.empty(3))
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")
