"""Transformer layers and positional encodings: PyTorch's names, the layers against a NumPy composition
of their sublayers, finite differences, causality, and the sinusoidal formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import np_mha, params_of, randomise, rng_of
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_seq as tg
from tinygrad_seq import Tensor, gradcheck, nn
from tinygrad_seq.autograd import ShapeError, toposort

# ----------------------------------------------------------------------------------- references


def np_layer_norm(x, ln):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + ln.eps) * ln.weight.numpy() + ln.bias.numpy()


def np_linear(x, lin):
    return x @ lin.weight.numpy().T + lin.bias.numpy()


def np_activation(name, x):
    if name == "relu":
        return np.maximum(x, 0.0)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def np_feedforward(layer, x, activation):
    return np_linear(np_activation(activation, np_linear(x, layer.linear1)), layer.linear2)


def np_encoder_layer(layer, x, activation, mask=None, padding=None, causal=False):
    """TransformerEncoderLayer in eval mode, from its sublayers' parameters; x batch-first (B, L, E)."""
    def sa(y):
        return np_mha(layer.self_attn, y, y, y, padding, mask, causal)[0]

    if layer.norm_first:
        x = x + sa(np_layer_norm(x, layer.norm1))
        return x + np_feedforward(layer, np_layer_norm(x, layer.norm2), activation)
    x = np_layer_norm(x + sa(x), layer.norm1)
    return np_layer_norm(x + np_feedforward(layer, x, activation), layer.norm2)


def np_decoder_layer(layer, x, memory, activation, tgt_padding=None, memory_padding=None, causal=False):
    """TransformerDecoderLayer in eval mode; x (B, T, E), memory (B, S, E)."""
    def sa(y):
        return np_mha(layer.self_attn, y, y, y, tgt_padding, None, causal)[0]

    def ca(y):
        return np_mha(layer.multihead_attn, y, memory, memory, memory_padding)[0]

    if layer.norm_first:
        x = x + sa(np_layer_norm(x, layer.norm1))
        x = x + ca(np_layer_norm(x, layer.norm2))
        return x + np_feedforward(layer, np_layer_norm(x, layer.norm3), activation)
    x = np_layer_norm(x + sa(x), layer.norm1)
    x = np_layer_norm(x + ca(x), layer.norm2)
    return np_layer_norm(x + np_feedforward(layer, x, activation), layer.norm3)


# ----------------------------------------------------------------------------------- names


def test_encoder_layer_has_pytorchs_parameter_names_and_shapes():
    layer = nn.TransformerEncoderLayer(16, 4, 32)
    assert [(name, p.shape) for name, p in layer.named_parameters()] == [
        ("self_attn.in_proj_weight", (48, 16)),
        ("self_attn.in_proj_bias", (48,)),
        ("self_attn.out_proj.weight", (16, 16)),
        ("self_attn.out_proj.bias", (16,)),
        ("linear1.weight", (32, 16)),
        ("linear1.bias", (32,)),
        ("linear2.weight", (16, 32)),
        ("linear2.bias", (16,)),
        ("norm1.weight", (16,)),
        ("norm1.bias", (16,)),
        ("norm2.weight", (16,)),
        ("norm2.bias", (16,)),
    ]
    assert [name for name, _ in layer.named_children()] == [
        "self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2",
    ]
    assert [layer.dropout.p, layer.dropout1.p, layer.dropout2.p, layer.self_attn.dropout] == [0.1] * 4
    assert layer.norm1.eps == layer.norm2.eps == 1e-5


def test_decoder_layer_has_pytorchs_parameter_names_and_shapes():
    layer = nn.TransformerDecoderLayer(16, 4, 32)
    expected = []
    for attn in ("self_attn", "multihead_attn"):
        expected += [(f"{attn}.in_proj_weight", (48, 16)), (f"{attn}.in_proj_bias", (48,)),
                     (f"{attn}.out_proj.weight", (16, 16)), (f"{attn}.out_proj.bias", (16,))]
    expected += [("linear1.weight", (32, 16)), ("linear1.bias", (32,)),
                 ("linear2.weight", (16, 32)), ("linear2.bias", (16,))]
    expected += [(f"norm{i}.{p}", (16,)) for i in (1, 2, 3) for p in ("weight", "bias")]
    assert [(name, p.shape) for name, p in layer.named_parameters()] == expected
    assert [name for name, _ in layer.named_children()] == [
        "self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "norm3",
        "dropout1", "dropout2", "dropout3",
    ]
    dropouts = [layer.dropout, layer.dropout1, layer.dropout2, layer.dropout3]
    assert [m.p for m in dropouts] + [layer.self_attn.dropout, layer.multihead_attn.dropout] == [0.1] * 6


def test_state_dict_round_trips_between_layers_and_seeds_decide_the_weights():
    a = nn.TransformerEncoderLayer(8, 2, 16, rng=rng_of(0))
    b = nn.TransformerEncoderLayer(8, 2, 16, rng=rng_of(0))
    c = nn.TransformerEncoderLayer(8, 2, 16, rng=rng_of(1))
    assert all(np.array_equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not np.array_equal(a.linear1.weight.numpy(), c.linear1.weight.numpy())
    c.load_state_dict(a.state_dict())
    x = Tensor(rng_of(2).standard_normal((3, 2, 8)).astype(np.float32))
    np.testing.assert_array_equal(a.eval()(x).numpy(), c.eval()(x).numpy())


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerDecoderLayer(10, 4)


# ----------------------------------------------------------------------------------- forward


@st.composite
def layer_config(draw):
    H = draw(st.integers(1, 2))
    return dict(E=H * draw(st.integers(1, 3)), H=H, ff=draw(st.integers(2, 6)), B=draw(st.integers(1, 2)),
                L=draw(st.integers(1, 4)), S=draw(st.integers(1, 4)), norm_first=draw(st.booleans()),
                batch_first=draw(st.booleans()), activation=draw(st.sampled_from(["relu", "gelu"])),
                masks=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def to_layout(a: np.ndarray, batch_first: bool) -> np.ndarray:
    return a if batch_first else np.swapaxes(a, 0, 1)  # (B, L, E) <-> (L, B, E)


def build(cls: type, c: dict) -> nn.Module:
    """A layer of the drawn configuration `c`, with random (not default) parameters."""
    layer = cls(c["E"], c["H"], c["ff"], activation=c["activation"], batch_first=c["batch_first"],
                norm_first=c["norm_first"], rng=rng_of(c["seed"]))
    return randomise(layer, c["seed"])


@given(layer_config())
def test_encoder_layer_equals_numpy_composition_of_its_sublayers(c):
    layer = build(nn.TransformerEncoderLayer, c)
    rng = rng_of(c["seed"] + 1)
    x = rng.standard_normal((c["B"], c["L"], c["E"]))
    mask = rng.standard_normal((c["L"], c["L"])) if c["masks"] else None
    padding = (rng.random((c["B"], c["L"])) < 0.3) if c["masks"] else None
    out = layer(Tensor(to_layout(x, c["batch_first"])), src_mask=mask, src_key_padding_mask=padding,
                is_causal=not c["masks"])
    ref = np_encoder_layer(layer, x, c["activation"], mask, padding, causal=not c["masks"])
    np.testing.assert_allclose(out.numpy(), to_layout(ref, c["batch_first"]), rtol=1e-9, atol=1e-10)


@given(layer_config())
def test_decoder_layer_equals_numpy_composition_of_its_sublayers(c):
    layer = build(nn.TransformerDecoderLayer, c)
    rng = rng_of(c["seed"] + 1)
    x, memory = rng.standard_normal((c["B"], c["L"], c["E"])), rng.standard_normal((c["B"], c["S"], c["E"]))
    tgt_pad = (rng.random((c["B"], c["L"])) < 0.3) if c["masks"] else None
    mem_pad = (rng.random((c["B"], c["S"])) < 0.3) if c["masks"] else None
    out = layer(Tensor(to_layout(x, c["batch_first"])), Tensor(to_layout(memory, c["batch_first"])),
                tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=mem_pad, tgt_is_causal=True)
    ref = np_decoder_layer(layer, x, memory, c["activation"], tgt_pad, mem_pad, causal=True)
    np.testing.assert_allclose(out.numpy(), to_layout(ref, c["batch_first"]), rtol=1e-9, atol=1e-10)


def test_unbatched_input_equals_a_batch_of_one():
    enc = randomise(nn.TransformerEncoderLayer(4, 2, 6, rng=rng_of(0)), 0)
    dec = randomise(nn.TransformerDecoderLayer(4, 2, 6, norm_first=True, rng=rng_of(1)), 1)
    x, memory = rng_of(2).standard_normal((3, 4)), rng_of(3).standard_normal((5, 4))
    np.testing.assert_allclose(enc(Tensor(x)).numpy(), np_encoder_layer(enc, x[None], "relu")[0], rtol=1e-10)
    np.testing.assert_allclose(dec(Tensor(x), Tensor(memory)).numpy(),
                               np_decoder_layer(dec, x[None], memory[None], "relu")[0], rtol=1e-10)


def test_dropout_acts_in_training_mode_only():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, batch_first=True, rng=rng_of(4))
    assert {p.dtype for p in layer.astype(np.float64).parameters()} == {np.dtype(np.float64)}
    x = Tensor(rng_of(5).standard_normal((2, 5, 8)))
    first, second = layer(x).numpy(), layer(x).numpy()
    assert not np.allclose(first, second)  # fresh masks on every call
    layer.eval()
    np.testing.assert_allclose(layer(x).numpy(), np_encoder_layer(layer, x.numpy(), "relu"), rtol=1e-10)
    # with p = 0 training mode is the eval computation
    zero = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, rng=rng_of(4))
    zero.astype(np.float64)
    np.testing.assert_allclose(zero(x).numpy(), np_encoder_layer(zero, x.numpy(), "relu"), rtol=1e-10)


def test_layer_graph_is_scoped_by_sublayer():
    layer = nn.TransformerEncoderLayer(8, 2, 16, rng=rng_of(6))
    out = layer(Tensor(np.ones((3, 1, 8), dtype=np.float32), requires_grad=True))
    scopes = {fn.scope for fn in toposort([out])}
    for inner in ("self_attn", "feedforward", "norm1", "norm2"):
        assert any(s[:2] == ("TransformerEncoderLayer", inner) for s in scopes), inner
    assert any(s[1:4] == ("feedforward", "linear1") for s in scopes)


# ----------------------------------------------------------------------------------- gradients


@settings(max_examples=12)  # each example gradchecks a whole layer's parameters
@given(st.booleans(), st.booleans(), st.sampled_from(["relu", "gelu"]), st.integers(0, 2**16))
def test_encoder_layer_gradcheck(norm_first, batch_first, activation, seed):
    layer = randomise(nn.TransformerEncoderLayer(4, 2, 6, activation=activation, norm_first=norm_first,
                                                 batch_first=batch_first, rng=rng_of(seed)), seed)
    names, values = params_of(layer)
    rng = rng_of(seed + 1)
    x = to_layout(rng.standard_normal((2, 3, 4)), batch_first)  # (B, L, E) -> the layer's layout
    padding = np.array([[False, False, True], [False, False, False]])  # (B, L)

    def fn(x, *params):
        return nn.functional_call(layer, dict(zip(names, params)), x, src_key_padding_mask=padding,
                                  is_causal=True)

    assert gradcheck(fn, [x, *values], fast=True, seed=seed)


@settings(max_examples=12)  # each example gradchecks a whole layer's parameters
@given(st.booleans(), st.integers(0, 2**16))
def test_decoder_layer_gradcheck(norm_first, seed):
    layer = randomise(nn.TransformerDecoderLayer(4, 2, 5, activation="gelu", norm_first=norm_first,
                                                 rng=rng_of(seed)), seed)
    names, values = params_of(layer)
    rng = rng_of(seed + 1)
    tgt, memory = rng.standard_normal((3, 2, 4)), rng.standard_normal((4, 2, 4))  # (T, B, E), (S, B, E)
    memory_padding = np.array([[False, False, True, False], [False, False, False, False]])

    def fn(tgt, memory, *params):
        return nn.functional_call(layer, dict(zip(names, params)), tgt, memory, tgt_is_causal=True,
                                  memory_key_padding_mask=memory_padding)

    assert gradcheck(fn, [tgt, memory, *values], fast=True, seed=seed)


@pytest.mark.parametrize("norm_first", [False, True])
def test_causal_encoder_layer_output_never_depends_on_later_positions(norm_first):
    T = 5
    layer = randomise(nn.TransformerEncoderLayer(4, 2, 8, norm_first=norm_first, batch_first=True,
                                                 rng=rng_of(7)), 7)
    x = Tensor(rng_of(8).standard_normal((2, T, 4)), requires_grad=True)
    out = layer(x, is_causal=True)
    for i in range(T):
        (dx,) = tg.grad(out[:, i].sum(), [x], retain_graph=True)
        assert np.all(dx.numpy()[:, i + 1:] == 0.0)
        assert np.all(np.abs(dx.numpy()[:, i]).sum(axis=-1) > 0)
    # without the causal mask the first position does see the last
    (dx,) = tg.grad(layer(x)[:, 0].sum(), [x])
    assert np.abs(dx.numpy()[:, -1]).sum() > 0


# ----------------------------------------------------------------------------------- positional encodings


@given(st.integers(1, 9), st.integers(1, 12), st.integers(1, 3), st.booleans())
def test_sinusoidal_encoding_values_follow_the_formula(d_model, T, B, batch_first):
    pos = nn.SinusoidalPositionalEncoding(d_model, max_len=12, batch_first=batch_first)
    expected = np.zeros((12, d_model))
    for t in range(12):
        for i in range(d_model):
            angle = t / 10000 ** ((i - i % 2) / d_model)
            expected[t, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    assert pos.pe.shape == (12, d_model)
    np.testing.assert_allclose(pos.pe.numpy(), expected, rtol=1e-6, atol=1e-6)
    x = rng_of(T).standard_normal((B, T, d_model) if batch_first else (T, B, d_model))
    out = pos(Tensor(x))
    assert out.shape == x.shape and out.dtype == np.float64
    table = expected[:T, None, :] if not batch_first else expected[None, :T, :]
    np.testing.assert_allclose(out.numpy(), x + table, rtol=1e-6, atol=1e-6)


def test_sinusoidal_encoding_is_a_buffer_and_passes_gradients_through():
    pos = nn.SinusoidalPositionalEncoding(6, max_len=10)
    assert list(pos.parameters()) == [] and list(pos.state_dict()) == ["pe"]
    x = Tensor(np.zeros((4, 6)), requires_grad=True)
    (dx,) = tg.grad((pos(x) * Tensor(np.arange(24.0).reshape(4, 6))).sum(), [x])
    np.testing.assert_array_equal(dx.numpy(), np.arange(24.0).reshape(4, 6))
    np.testing.assert_allclose(pos(x).numpy()[:, 0], np.sin(np.arange(4)), rtol=1e-6)
    with pytest.raises(ShapeError, match="longer than max_len = 10"):
        pos(Tensor(np.zeros((11, 6))))


@pytest.mark.parametrize("batch_first", [False, True])
def test_learned_encoding_adds_its_rows_and_learns_only_the_positions_used(batch_first):
    pos = nn.LearnedPositionalEncoding(8, 3, rng=rng_of(9), batch_first=batch_first)
    assert [(n, p.shape) for n, p in pos.named_parameters()] == [("weight", (8, 3))]
    x = rng_of(10).standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    out = pos(Tensor(x))
    table = pos.weight.numpy()[:5]
    np.testing.assert_allclose(out.numpy(), x + (table[None] if batch_first else table[:, None]), rtol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(pos.weight.grad.numpy()[:5], np.full((5, 3), 2.0))  # summed over the batch
    np.testing.assert_array_equal(pos.weight.grad.numpy()[5:], 0.0)
    with pytest.raises(ShapeError, match="longer than max_len"):
        pos(Tensor(np.zeros((9, 3))))
