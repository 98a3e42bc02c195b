"""nn.containers: `Sequential` and `ModuleList` behave like lists and name their parameters by index."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_seq import Tensor, nn


def test_sequential_and_module_list_behave_like_lists():
    rng = np.random.default_rng(0)
    a, b, c = nn.Linear(3, 4, rng=rng), nn.Linear(4, 4, rng=rng), nn.Linear(4, 2, rng=rng)
    seq = nn.Sequential(a, b)
    seq.append(c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    x = Tensor(rng.normal(size=(5, 3)).astype(np.float32))
    np.testing.assert_array_equal(seq(x).numpy(), c(b(a(x))).numpy())
    assert list(seq[1:]) == [b, c]
    seq[1] = nn.Linear(4, 4)
    assert seq[1] is not b and [n for n, _ in seq.named_parameters()][2:4] == ["1.weight", "1.bias"]
    layers = nn.ModuleList([a]).extend([b, c])
    names = [f"{i}.{w}" for i in range(3) for w in ("weight", "bias")]
    assert [n for n, _ in layers.named_parameters()] == names
    with pytest.raises(IndexError, match="index 3 is out of range for length 3"):
        layers[3]
    with pytest.raises(TypeError, match="holds Modules"):
        layers.append(lambda x: x)
    with pytest.raises(TypeError, match="loop over it"):
        layers(x)
