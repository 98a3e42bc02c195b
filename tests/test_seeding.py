"""tinygrad_seq.seeding: `manual_seed` seeds every layer built without `rng`, `randn` and the masks of a
dropout built earlier; an explicit `rng` still wins."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import Tensor
from tinygrad_seq.nn import (
    GRU,
    LSTM,
    Dropout,
    Embedding,
    LayerNorm,
    Linear,
    MultiheadAttention,
    TransformerEncoderLayer,
)


@pytest.mark.parametrize("build", [
    lambda: Linear(4, 3), lambda: Embedding(5, 4), lambda: LSTM(3, 4, num_layers=2), lambda: GRU(3, 4),
    lambda: MultiheadAttention(4, 2), lambda: TransformerEncoderLayer(4, 2, 8), lambda: LayerNorm(4),
], ids=["Linear", "Embedding", "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer", "LayerNorm"])
def test_manual_seed_seeds_every_layer_built_without_rng(build):
    ts.manual_seed(0)
    first = [p.numpy().copy() for p in build().parameters()]
    ts.manual_seed(0)
    again = [p.numpy().copy() for p in build().parameters()]
    other = [p.numpy().copy() for p in build().parameters()]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    if any(a.std() > 0 for a in first):  # LayerNorm starts at ones and zeros: nothing random to differ
        assert any(not np.array_equal(a, c) for a, c in zip(first, other, strict=True))


def test_manual_seed_repeats_randn_and_the_masks_of_a_dropout_built_earlier():
    drop = Dropout(0.5)
    x = Tensor(np.ones((4, 8)))
    ts.manual_seed(3)
    masks, noise = drop(x).numpy().copy(), ts.randn(3).numpy().copy()
    ts.manual_seed(3)
    np.testing.assert_array_equal(drop(x).numpy(), masks)
    np.testing.assert_array_equal(ts.randn(3).numpy(), noise)
    seeded = Linear(4, 3, rng=np.random.default_rng(1)).weight.numpy()  # an explicit rng still wins
    np.testing.assert_array_equal(seeded, Linear(4, 3, rng=1).weight.numpy())
