"""nn.lm.memory: the parameter count is exact without building the model, the step estimate grows with the
sizes, and a size that cannot fit is refused naming the estimate and the sizes."""

from __future__ import annotations

import pytest

from tinygrad_seq.nn.lm import memory
from tinygrad_seq.nn.lm.memory import MemoryBudgetError, check_fits, describe, parameter_count, step_bytes
from tinygrad_seq.nn.lm.models import LMConfig, build_model

CONFIGS = [
    LMConfig("rnn", 11, hidden=6),
    LMConfig("lstm", 11, hidden=6, layers=2),
    LMConfig("gru", 11, hidden=6, layers=3, embed=4),
    LMConfig("lstm", 11, hidden=6, tie_weights=True),
    LMConfig("transformer", 11, hidden=8, layers=2, heads=2, context=5),
    LMConfig("transformer", 11, hidden=8, heads=2, ff=12, context=7, tie_weights=True),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.model}-{c.layers}-{c.embed}-{c.tie_weights}")
def test_the_parameter_count_is_what_build_model_makes(config):
    model = build_model(config, rng=0)
    assert parameter_count(config) == sum(p.numpy().size for p in model.parameters())


def test_a_step_needs_more_for_longer_wider_batches_and_for_training_than_for_evaluation():
    config = LMConfig("lstm", 50, hidden=32, layers=2)
    base = step_bytes(config, tokens=16, batch=4)
    assert step_bytes(config, 32, 4) > base and step_bytes(config, 16, 8) > base
    assert step_bytes(config, 16, 4, training=False) < base
    assert base > 4 * 4 * parameter_count(config)  # weights, gradients and Adam's two moments, float32


def test_describe_writes_gigabytes_short():
    assert describe(1.5e9) == "1.4 GB" and describe(3e13) == "2.8e+04 GB"


def test_a_step_that_cannot_fit_is_refused_naming_the_estimate_and_the_sizes(monkeypatch):
    config = LMConfig("gru", 30, hidden=16)
    need = step_bytes(config, 10, 2)
    monkeypatch.setattr(memory, "available_bytes", lambda: need)
    assert check_fits(config, 10, 2, "one training step") == need  # exactly what there is: it fits
    monkeypatch.setattr(memory, "available_bytes", lambda: need - 1)
    with pytest.raises(MemoryBudgetError, match=r"^one training step needs about .* GB \(gru, 16 hidden x 1 "
                       r"layer\(s\), vocabulary 30, 10 steps x 2 streams, [\d,]+ parameters\); this machine "
                       r"has .* GB: choose smaller sizes$"):
        check_fits(config, 10, 2, "one training step")
