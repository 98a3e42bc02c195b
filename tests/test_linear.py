"""nn.linear: Linear, Embedding, LayerNorm, Dropout.

Forward values against NumPy; gradients (with respect to inputs and to the layer's own parameters,
through ``nn.functional_call``) against finite differences in float64 on hypothesis-drawn sizes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_seq import Tensor, concatenate, gradcheck, nn
from tinygrad_seq.testing import shapes

seeds = st.integers(0, 2**32 - 1)
sides = st.integers(1, 4)


def check_layer_gradients(layer: nn.Module, *inputs, **kwargs):
    """gradcheck of layer(*inputs) with respect to the float inputs and every parameter of the layer."""
    names = [name for name, _ in layer.named_parameters()]
    arrays = [p.numpy().astype(np.float64) for p in layer.parameters()]
    n = len(inputs)

    def fn(*args):
        return nn.functional_call(layer, dict(zip(names, args[n:])), *args[:n])

    return gradcheck(fn, [*inputs, *arrays], **kwargs)


# ---------------------------------------------------------------------- Linear


@given(batch=shapes(max_dims=2, max_side=3), n_in=sides, n_out=sides, bias=st.booleans(), seed=seeds,
       fused=st.booleans())
def test_linear_forward_matches_numpy_and_gradients_match_finite_differences(batch, n_in, n_out, bias, seed,
                                                                              fused):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(n_in, n_out, bias=bias, rng=rng, dtype=np.float64, fused=fused)
    x = rng.normal(size=batch + (n_in,))
    out = layer(Tensor(x))
    expected = x @ layer.weight.numpy().T + (layer.bias.numpy() if bias else 0.0)
    assert out.shape == batch + (n_out,)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert check_layer_gradients(layer, x)


def test_linear_has_pytorch_names_shapes_and_default_init():
    layer = nn.Linear(64, 256, rng=np.random.default_rng(0))
    assert [(n, p.shape) for n, p in layer.named_parameters()] == [("weight", (256, 64)), ("bias", (256,))]
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    bound = 1 / math.sqrt(64)  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias alike
    for p in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.95 * bound
    assert abs(layer.weight.numpy().std() - bound / math.sqrt(3)) < 0.03 * bound
    assert nn.Linear(3, 2, bias=False).bias is None
    assert [n for n, _ in nn.Linear(3, 2, bias=False).named_parameters()] == ["weight"]


def test_linear_same_generator_seed_gives_the_same_layer():
    a = nn.Linear(5, 3, rng=np.random.default_rng(7))
    b = nn.Linear(5, 3, rng=np.random.default_rng(7))
    c = nn.Linear(5, 3, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())
    assert not np.array_equal(a.weight.numpy(), c.weight.numpy())
    assert not np.array_equal(nn.Linear(5, 3).weight.numpy(), nn.Linear(5, 3).weight.numpy())


def test_linear_rejects_a_wrong_input_width_naming_both():
    with pytest.raises(ValueError, match=r"linear: input of shape \(3, 5\).*\(2, 4\).*in_features = 4"):
        nn.Linear(4, 2)(Tensor(np.zeros((3, 5), dtype=np.float32)))


# ---------------------------------------------------------------------- Embedding


@given(n=st.integers(1, 5), dim=sides, ids_shape=shapes(max_dims=2, max_side=4), seed=seeds)
def test_embedding_looks_up_rows_and_gradients_match_finite_differences(n, dim, ids_shape, seed):
    rng = np.random.default_rng(seed)
    emb = nn.Embedding(n, dim, rng=rng, dtype=np.float64)
    ids = rng.integers(0, n, size=ids_shape)
    out = emb(ids)
    assert out.shape == ids_shape + (dim,)
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[ids])
    assert check_layer_gradients(emb, ids)


def test_embedding_init_is_standard_normal():
    w = nn.Embedding(200, 50, rng=np.random.default_rng(0)).weight.numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1.0) < 0.02


def test_embedding_repeated_ids_accumulate_their_gradients():
    emb = nn.Embedding(4, 3, rng=np.random.default_rng(0))
    ids = np.array([[1, 1], [1, 2]])
    upstream = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    emb(ids).backward(Tensor(upstream))
    expected = np.zeros((4, 3), dtype=np.float32)
    expected[1] = upstream[0, 0] + upstream[0, 1] + upstream[1, 0]
    expected[2] = upstream[1, 1]
    np.testing.assert_array_equal(emb.weight.grad.numpy(), expected)


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(5, 3, padding_idx=0, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(emb.weight.numpy()[0], 0.0)
    assert np.all(emb.weight.numpy()[1:] != 0.0)
    ids = np.array([[0, 2, 0], [3, 0, 2]])
    out = emb(ids)
    np.testing.assert_array_equal(out.numpy()[ids == 0], 0.0)
    (out * out).sum().backward()
    grad = emb.weight.grad.numpy()
    np.testing.assert_array_equal(grad[0], 0.0)
    assert np.all(grad[2] != 0.0) and np.all(grad[3] != 0.0)
    np.testing.assert_array_equal(grad[[1, 4]], 0.0)


def test_embedding_padding_row_reads_its_value_but_stays_put_under_sgd():
    emb = nn.Embedding(4, 2, padding_idx=-1, rng=np.random.default_rng(2))  # -1 means the last row
    assert emb.padding_idx == 3
    emb.weight.data[3] = [0.5, -0.25]  # e.g. loaded from a checkpoint
    ids = np.array([3, 1, 3])
    out = emb(ids)
    np.testing.assert_array_equal(out.numpy()[0], [0.5, -0.25])
    opt = nn.optim.SGD(emb.parameters(), lr=0.1)
    out.sum().backward()
    opt.step()
    np.testing.assert_array_equal(emb.weight.numpy()[3], np.array([0.5, -0.25], dtype=np.float32))


def test_embedding_with_padding_gradients_of_the_other_rows_match_finite_differences():
    rng = np.random.default_rng(3)
    emb = nn.Embedding(4, 2, padding_idx=1, rng=rng, dtype=np.float64)
    ids = np.array([[1, 0, 1], [2, 1, 3]])
    pad_row = Tensor(np.zeros((1, 2)))

    def lookup(rest):  # rows 0, 2, 3 are free; the padding row 1 is held at zero
        weight = concatenate([rest[:1], pad_row, rest[1:]], axis=0)  # (3, 2) -> (4, 2)
        return nn.functional_call(emb, {"weight": weight}, ids).tanh()

    assert gradcheck(lookup, [rng.normal(size=(3, 2))])
    weight = Tensor(rng.normal(size=(4, 2)), requires_grad=True)
    nn.functional_call(emb, {"weight": weight}, ids).tanh().sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy()[1], 0.0)


def test_embedding_rejects_bad_ids():
    emb = nn.Embedding(3, 2)
    with pytest.raises(IndexError, match="id 3 is out of range for 3 rows"):
        emb(np.array([0, 3]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx 5"):
        nn.Embedding(3, 2, padding_idx=5)


# ---------------------------------------------------------------------- LayerNorm


@given(lead=shapes(max_dims=2, max_side=3), norm=shapes(min_dims=1, max_dims=2, min_side=2, max_side=4),
       seed=seeds)
def test_layer_norm_matches_numpy_and_gradients_match_finite_differences(lead, norm, seed):
    rng = np.random.default_rng(seed)
    layer = nn.LayerNorm(norm, dtype=np.float64)
    layer.weight.data = rng.normal(size=norm)
    layer.bias.data = rng.normal(size=norm)
    x = rng.normal(size=lead + norm)
    axes = tuple(range(len(lead), x.ndim))
    expected = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    expected = expected * layer.weight.numpy() + layer.bias.numpy()
    np.testing.assert_allclose(layer(Tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-10)
    assert check_layer_gradients(layer, x, fast=x.size > 24)


def test_layer_norm_defaults_and_shape_errors():
    layer = nn.LayerNorm(4)
    assert layer.normalized_shape == (4,) and layer.eps == 1e-5
    np.testing.assert_array_equal(layer.weight.numpy(), np.ones(4))
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(4))
    out = layer(Tensor(np.random.default_rng(0).normal(3.0, 5.0, size=(6, 4)))).numpy()
    np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.var(-1), 1.0, rtol=1e-3)
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    with pytest.raises(ValueError, match=r"LayerNorm\(4,\).*\(6, 5\)"):
        layer(Tensor(np.zeros((6, 5), dtype=np.float32)))


# ---------------------------------------------------------------------- Dropout


def test_dropout_zeroes_about_p_and_scales_the_rest_in_training_only():
    x = Tensor(np.random.default_rng(0).uniform(1.0, 2.0, size=(100, 100)), requires_grad=True)
    drop = nn.Dropout(0.3, rng=np.random.default_rng(1))
    out = drop(x)
    kept = out.numpy() != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(out.numpy()[kept], x.numpy()[kept] / 0.7)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7)
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    drop.train()
    assert np.any(drop(x).numpy() == 0)


def test_dropout_masks_come_from_its_generator():
    x = Tensor(np.ones((4, 50), dtype=np.float32))
    a, b = nn.Dropout(0.5, rng=np.random.default_rng(5)), nn.Dropout(0.5, rng=np.random.default_rng(5))
    first = a(x).numpy()
    np.testing.assert_array_equal(first, b(x).numpy())
    assert not np.array_equal(first, a(x).numpy())  # a fresh mask on every call
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        nn.Dropout(1.0)
