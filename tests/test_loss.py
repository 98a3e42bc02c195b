"""nn.loss: the loss modules equal the functional losses for every reduction."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_seq import Tensor, nn
from tinygrad_seq import functional as F


def test_loss_modules_equal_the_functional_losses():
    rng = np.random.default_rng(0)
    logits = Tensor(rng.normal(size=(6, 4)))
    targets = np.array([0, 3, -100, 1, 2, 3])
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_array_equal(
            nn.CrossEntropyLoss(reduction=reduction)(logits, targets).numpy(),
            F.cross_entropy(logits, targets, reduction=reduction).numpy())
        np.testing.assert_array_equal(
            nn.NLLLoss(ignore_index=3, reduction=reduction)(logits.log_softmax(1), targets.clip(0)).numpy(),
            F.nll_loss(logits.log_softmax(1), targets.clip(0), ignore_index=3, reduction=reduction).numpy())
    y = rng.normal(size=(6, 4))
    squares = (logits.numpy() - y) ** 2
    assert nn.MSELoss()(logits, Tensor(y)).item() == pytest.approx(squares.mean())
    assert nn.MSELoss(reduction="sum")(logits, Tensor(y)).item() == pytest.approx(squares.sum())
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="average")
