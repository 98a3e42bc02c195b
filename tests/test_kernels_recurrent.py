"""Fused recurrent layers (fused=True, nn/kernels/recurrent.py) against the composed layers they replace.

The composed (unrolled) layer is the reference: on every configuration hypothesis draws, the fused layer
gives the same outputs, final states and gradients (input, initial state, every parameter) in float64 to
1e-10 relative; on its own it passes gradcheck; what it cannot do (double backward) it says clearly.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import KINDS, flat, gradcheck_module, layer_outputs, make_layer, n_states
from hypothesis import example, given
from hypothesis import strategies as st

import tinygrad_seq as ts
from tinygrad_seq import Tensor, graph, nn
from tinygrad_seq.autograd import FirstOrderOnlyError, toposort
from tinygrad_seq.nn.kernels import FusedSequence

RTOL = 1e-10


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal to RTOL relative to each element, or to the array's largest element where values cancel."""
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.shape, want.shape)
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale, err_msg=what)


@st.composite
def configs(draw):
    T, B = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    batched = draw(st.booleans())
    B = B if batched else 1
    return {
        "kind": draw(st.sampled_from(KINDS)),
        "T": T, "B": B, "I": draw(st.integers(1, 4)), "H": draw(st.integers(1, 4)),
        "num_layers": draw(st.integers(1, 3)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "batched": batched,
        "lengths": draw(st.none() | st.lists(st.integers(0, T), min_size=B, max_size=B)) if batched else None,
        "initial_state": draw(st.booleans()),
        "seed": draw(st.integers(0, 999)),
    }


def run(c: dict, fused: bool, dtype=np.float64) -> tuple[list[tuple[str, np.ndarray]], nn.Module]:
    """One layer forward and backward from a weighted sum of everything it returns; (name, array) pairs."""
    layer = make_layer(c["kind"], c["I"], c["H"], c["seed"], dtype, num_layers=c["num_layers"],
                       bias=c["bias"], bidirectional=c["bidirectional"], batch_first=c["batch_first"],
                       fused=fused)
    rng = np.random.default_rng(c["seed"] + 1)
    T, B, I, H = c["T"], c["B"], c["I"], c["H"]
    shape = ((B, T, I) if c["batch_first"] else (T, B, I)) if c["batched"] else (T, I)
    x = Tensor(rng.normal(size=shape).astype(dtype), requires_grad=True)
    states = []
    if c["initial_state"]:
        lead = (c["num_layers"] * (2 if c["bidirectional"] else 1),) + ((B,) if c["batched"] else ())
        states = [Tensor(rng.normal(size=lead + (H,)).astype(dtype), requires_grad=True)
                  for _ in range(n_states(c["kind"]))]
    hx = None if not states else tuple(states) if c["kind"] == "lstm" else states[0]
    results = layer_outputs(c["kind"], layer(x, hx, lengths=c["lengths"]))
    loss = sum((r * Tensor(rng.normal(size=r.shape).astype(dtype))).sum() for r in results)
    loss.backward()
    named = [("output", results[0])] + [(f"final state {i}", r) for i, r in enumerate(results[1:])]
    named += [("input grad", x.grad)] + [(f"initial state {i} grad", s.grad) for i, s in enumerate(states)]
    named += [(f"{name} grad", p.grad) for name, p in layer.named_parameters()]
    return [(name, t.numpy()) for name, t in named], layer


SIMPLE = {"kind": "lstm", "T": 4, "B": 2, "I": 3, "H": 2, "num_layers": 1, "bidirectional": False,
          "batch_first": False, "bias": True, "batched": True, "lengths": None, "initial_state": False,
          "seed": 0}


@given(c=configs())
@example(c=SIMPLE)
@example(c=SIMPLE | {"kind": "gru", "num_layers": 2, "bidirectional": True, "lengths": [4, 0],
                     "initial_state": True})
@example(c=SIMPLE | {"kind": "rnn_relu", "bias": False, "batched": False, "B": 1, "batch_first": True})
def test_fused_equals_unrolled_outputs_states_and_every_gradient(c):
    reference, _ = run(c, fused=False)
    fused, _ = run(c, fused=True)
    assert [name for name, _ in fused] == [name for name, _ in reference]
    for (name, got), (_, want) in zip(fused, reference):
        assert_close(got, want, name)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_keeps_float32_in_float32(kind):
    c = SIMPLE | {"kind": kind, "bidirectional": True, "lengths": [4, 2], "initial_state": True}
    fused, _ = run(c, fused=True, dtype=np.float32)
    reference, _ = run(c, fused=False, dtype=np.float32)
    for (name, got), (_, want) in zip(fused, reference):
        assert got.dtype == np.float32, name
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lengths", [None, [3, 1]])
def test_fused_layer_passes_gradcheck(kind, lengths):
    layer = make_layer(kind, 2, 3, seed=1, num_layers=2, bidirectional=True, fused=True)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 2, 2))
    states = [rng.normal(size=(4, 2, 3)) for _ in range(n_states(kind))]

    def call(run, x, *state):
        hx = tuple(state) if kind == "lstm" else state[0]
        return flat(*layer_outputs(kind, run(x, hx, lengths=lengths)))

    gradcheck_module(layer, call, [x, *states], fast=False)


@pytest.mark.parametrize("kind", KINDS)
def test_each_layer_and_direction_is_one_node(kind):
    layer = make_layer(kind, 2, 3, num_layers=2, bidirectional=True, fused=True)
    out, _ = layer(Tensor(np.ones((5, 1, 2)), requires_grad=True))
    fused = [fn for fn in toposort([out]) if isinstance(fn, FusedSequence)]
    assert sorted(fn.scope[-1] for fn in fused) == ["l0", "l0_reverse", "l1", "l1_reverse"]
    assert not any(fn.scope and fn.scope[-1].startswith("t=") for fn in toposort([out]))
    assert "fused=True" in repr(layer)


def test_dropout_between_layers_draws_the_same_masks_fused_and_unrolled():
    results = []
    for fused in (False, True):
        layer = nn.GRU(3, 4, num_layers=3, dropout=0.5, rng=np.random.default_rng(0), dtype=np.float64,
                       fused=fused)
        x = Tensor(np.random.default_rng(1).normal(size=(4, 2, 3)), requires_grad=True)
        out, _ = layer(x)
        out.sum().backward()
        results.append((out.numpy(), x.grad.numpy(), layer.weight_ih_l2.grad.numpy()))
    for got, want in zip(*results):
        assert_close(got, want, "dropout")
    layer.eval()
    assert not np.array_equal(layer(x)[0].numpy(), results[1][0])  # dropout did act in training mode


def test_forget_bias_and_switching_a_built_layer():
    layer = nn.LSTM(3, 4, forget_bias=1.0, rng=np.random.default_rng(0), dtype=np.float64, fused=True)
    x = Tensor(np.random.default_rng(1).normal(size=(6, 2, 3)))
    fused_out = layer(x)[0].numpy()
    layer.fused = False
    assert_close(fused_out, layer(x)[0].numpy(), "forget_bias")


def test_a_second_backward_with_retain_graph_gives_the_same_gradients():
    layer = nn.LSTM(3, 4, rng=np.random.default_rng(0), dtype=np.float64, fused=True)
    x = Tensor(np.random.default_rng(1).normal(size=(5, 2, 3)), requires_grad=True)
    loss = layer(x)[0].sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * first)


def test_double_backward_raises_one_error_that_says_to_build_with_fused_false():
    layer = nn.GRU(3, 4, rng=np.random.default_rng(0), dtype=np.float64, fused=True)
    x = Tensor(np.random.default_rng(1).normal(size=(5, 2, 3)), requires_grad=True)
    loss = (layer(x)[0] ** 2).sum()
    with pytest.raises(FirstOrderOnlyError, match=r"fused=False") as err:
        ts.grad(loss, [x], create_graph=True)
    assert "FusedGRU" in str(err.value) and "create_graph=True" in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None  # one error, not a chain


def test_the_picture_draws_a_fused_layer_as_one_box_and_the_legend_says_how_to_see_its_steps():
    layer = nn.LSTM(2, 3, rng=np.random.default_rng(0), fused=True)
    out, _ = layer(Tensor(np.ones((7, 1, 2), dtype=np.float32)))
    dot = graph.to_dot(out.sum(), params=layer)
    assert "LSTM, fused (7 steps)" in dot and "(7, 1, 2) → (7, 1, 3), h_n, c_n" in dot
    assert dot.count("LSTM, fused") == 1 and "t=0" not in dot
    assert "build it with fused=False to see each step" in dot
    layer.fused = False
    unrolled = graph.to_dot(layer(Tensor(np.ones((7, 1, 2), dtype=np.float32)))[0].sum(), params=layer)
    assert "t=6" in unrolled and "fused" not in unrolled


def test_the_fused_node_has_separate_outputs_and_the_picture_one_box_with_an_edge_per_output():
    layer = nn.LSTM(2, 3, rng=np.random.default_rng(0), fused=True)
    out, (h, c) = layer(Tensor(np.ones((7, 1, 2), dtype=np.float32)))
    loss = out.sum() + h.sum() + c.sum()
    order = toposort([loss])
    (node,) = [fn for fn in order if isinstance(fn, FusedSequence)]
    assert node.n_outputs == 3 and out.grad_fn is node and out.shape == (7, 1, 3)  # y is output 0 itself
    assert not [fn for fn in order if fn.name == "GetItem"]  # nothing packed, nothing sliced apart
    dot = graph.to_dot(loss, params=layer)
    (box,) = re.findall(r'(n\d+) \[[^\n]*LSTM, fused', dot)
    assert "(7, 1, 3), (1, 3), (1, 3) float32" in dot
    tails = sorted(re.findall(rf"  {box} -> n\d+ \[taillabel=\"(\d)\"\];", dot))
    assert tails == ["0", "1", "2"]  # y, h_n and c_n each leave the one box on an edge of its own


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_language_models_run_fused_and_the_same_weights_unrolled_agree(kind):
    from tinygrad_seq.nn.lm import LMConfig, build_model, unfused

    model = build_model(LMConfig(kind, vocab_size=11, hidden=8, layers=2), rng=0)
    model.eval()
    ids = np.random.default_rng(0).integers(0, 11, (5, 3))
    logits, _ = model(ids)
    assert model.rnn.fused and sum(isinstance(fn, FusedSequence) for fn in toposort([logits])) == 2
    with unfused(model):
        unrolled, _ = model(ids)
    assert not any(isinstance(fn, FusedSequence) for fn in toposort([unrolled]))
    np.testing.assert_allclose(logits.numpy(), unrolled.numpy(), rtol=1e-5, atol=1e-6)
