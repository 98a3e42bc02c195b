"""scaled_dot_product_attention and MultiheadAttention against plain NumPy, finite differences and
the causal property (a query's output never depends on later positions, to the last bit)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import attention_problem, make_mha, mha_problem, np_mha, np_sdpa, rng_of
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_seq as tg
from tinygrad_seq import Tensor, gradcheck, nn
from tinygrad_seq.autograd import ShapeError, toposort
from tinygrad_seq.nn.attention import MultiheadAttention, scaled_dot_product_attention

# ----------------------------------------------------------------------------------- references


# ----------------------------------------------------------------------------------- sdpa


@given(attention_problem())
def test_sdpa_equals_numpy_reference(problem):
    q, k, v, mask, causal = problem
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask, is_causal=causal)
    ref_out, ref_w = np_sdpa(q, k, v, mask, causal)
    assert out.shape == ref_out.shape and weights.shape == ref_w.shape
    np.testing.assert_allclose(weights.numpy(), ref_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-10, atol=1e-12)
    assert np.all(np.isfinite(out.numpy()))


def test_sdpa_known_values_and_conventions():
    # one query, two keys: scores 0 and 2/sqrt(2) -> weights softmax([0, sqrt 2])
    q = Tensor(np.array([[1.0, 1.0]]))
    k = Tensor(np.array([[0.0, 0.0], [1.0, 1.0]]))
    v = Tensor(np.array([[10.0], [20.0]]))
    out, w = scaled_dot_product_attention(q, k, v)
    expected = np.exp([0.0, math.sqrt(2)]) / np.exp([0.0, math.sqrt(2)]).sum()
    np.testing.assert_allclose(w.numpy(), [expected])
    np.testing.assert_allclose(out.numpy(), [[10 * expected[0] + 20 * expected[1]]])
    # True = NOT allowed: blocking the second key leaves all weight on the first
    out, w = scaled_dot_product_attention(q, k, v, attn_mask=np.array([[False, True]]))
    assert w.numpy().tolist() == [[1.0, 0.0]] and out.numpy().tolist() == [[10.0]]
    # a float mask is added: -inf blocks like True, a finite value shifts the score
    _, w_inf = scaled_dot_product_attention(q, k, v, attn_mask=np.array([[0.0, -np.inf]]))
    assert w_inf.numpy().tolist() == [[1.0, 0.0]]
    _, w_shift = scaled_dot_product_attention(q, k, v, attn_mask=np.array([[math.sqrt(2), 0.0]]))
    np.testing.assert_allclose(w_shift.numpy(), [[0.5, 0.5]])
    # scale= replaces 1/sqrt(E); need_weights=False gives None
    out0, none = scaled_dot_product_attention(q, k, v, scale=0.0, need_weights=False)
    assert none is None and out0.numpy().tolist() == [[15.0]]


def test_sdpa_gradcheck_with_masks():
    rng = rng_of(0)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    bool_mask = rng.random((3, 5)) < 0.3
    float_mask = np.where(rng.random((2, 3, 5)) < 0.3, -np.inf, rng.standard_normal((2, 3, 5)))
    for mask, causal in [(None, False), (None, True), (bool_mask, False), (float_mask, True)]:
        fn = lambda q, k, v, m=mask, c=causal: scaled_dot_product_attention(q, k, v, m, is_causal=c)[0]
        assert gradcheck(fn, [q, k, v])
    assert gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, bool_mask)[1], [q, k, v])


@given(st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**16))
def test_causal_attention_gives_exactly_zero_gradient_to_future_positions(T, E, seed):
    rng = rng_of(seed)
    q, k, v = (Tensor(rng.standard_normal((2, T, E)), requires_grad=True) for _ in range(3))
    out, _ = scaled_dot_product_attention(q, k, v, is_causal=True)
    for i in range(T):
        dq, dk, dv = tg.grad(out[:, i].sum(), [q, k, v], retain_graph=True)
        future = slice(i + 1, None)
        assert np.all(dk.numpy()[:, future] == 0.0) and np.all(dv.numpy()[:, future] == 0.0)
        assert np.all(dq.numpy()[:, np.arange(T) != i] == 0.0)
        # the present and past do get gradient (so the zeros above are not vacuous)
        assert np.all(np.abs(dv.numpy()[:, : i + 1]).sum(axis=-1) > 0)
    assert np.all(np.isfinite(dk.numpy()))


def test_fully_masked_row_gives_zeros_and_no_gradient_instead_of_nan():
    rng = rng_of(1)
    q, k, v = (Tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(3))
    mask = np.zeros((3, 3), dtype=bool)
    mask[1] = True  # query 1 may attend to nothing
    mask[2, 0] = True
    for m in (mask, np.where(mask, -np.inf, 0.0)):
        with tg.detect_anomaly():  # no NaN or Inf anywhere, forward or backward
            out, w = scaled_dot_product_attention(q, k, v, attn_mask=m)
            dq, dk, dv = tg.grad((out * out).sum(), [q, k, v])
        assert np.all(out.numpy()[1] == 0.0) and np.all(w.numpy()[1] == 0.0)
        assert np.all(dq.numpy()[1] == 0.0)
        assert np.all(np.isfinite(dq.numpy())) and np.all(np.isfinite(dk.numpy()))
        ref_out, _ = np_sdpa(q.numpy(), k.numpy(), v.numpy(), mask)
        np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-12)
        np.testing.assert_allclose(w.numpy().sum(axis=-1), [1.0, 0.0, 1.0])


def test_sdpa_dropout_is_seeded_and_rescales_the_weights():
    rng = rng_of(2)
    q, k, v = (Tensor(rng.standard_normal((2, 6, 4))) for _ in range(3))
    _, clean = scaled_dot_product_attention(q, k, v)
    out1, w1 = scaled_dot_product_attention(q, k, v, dropout_p=0.5, rng=rng_of(7))
    out2, w2 = scaled_dot_product_attention(q, k, v, dropout_p=0.5, rng=rng_of(7))
    assert np.array_equal(out1.numpy(), out2.numpy())
    dropped = w1.numpy() == 0.0
    assert 0 < dropped.mean() < 1
    np.testing.assert_allclose(w1.numpy()[~dropped], 2.0 * clean.numpy()[~dropped])
    np.testing.assert_allclose(out1.numpy(), w1.numpy() @ v.numpy())


def test_sdpa_errors_name_the_shapes():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(2, 4\)"):
        scaled_dot_product_attention(x, Tensor(np.zeros((2, 4))), Tensor(np.zeros((2, 4))))
    with pytest.raises(ShapeError, match="key .* value"):
        scaled_dot_product_attention(x, x, Tensor(np.zeros((5, 3))))
    with pytest.raises(ShapeError, match=r"attn_mask of shape \(3, 3\).*\(2, 2\)"):
        scaled_dot_product_attention(x, x, x, attn_mask=np.zeros((3, 3), dtype=bool))
    with pytest.raises(TypeError, match="boolean .* or float"):
        scaled_dot_product_attention(x, x, x, attn_mask=np.zeros((2, 2), dtype=np.int64))


# ----------------------------------------------------------------------------------- MultiheadAttention


def test_mha_parameter_names_shapes_and_init():
    mha = MultiheadAttention(16, 4, rng=rng_of(0))
    assert [(n, p.shape) for n, p in mha.named_parameters()] == [
        ("in_proj_weight", (48, 16)), ("in_proj_bias", (48,)),
        ("out_proj.weight", (16, 16)), ("out_proj.bias", (16,)),
    ]
    assert np.all(mha.in_proj_bias.numpy() == 0) and np.all(mha.out_proj.bias.numpy() == 0)
    bound = math.sqrt(6 / (16 + 48))  # xavier_uniform_ on (3E, E)
    w = mha.in_proj_weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(mha.out_proj.weight.numpy()).max() <= 1 / math.sqrt(16)  # Linear's default
    separate = MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False, rng=rng_of(0))
    assert [(n, p.shape) for n, p in separate.named_parameters()] == [
        ("q_proj_weight", (8, 8)), ("k_proj_weight", (8, 3)), ("v_proj_weight", (8, 5)),
        ("out_proj.weight", (8, 8)),
    ]
    same_seed = MultiheadAttention(16, 4, rng=rng_of(0))
    for a, b in zip(mha.state_dict().values(), same_seed.state_dict().values()):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="divisible"):
        MultiheadAttention(10, 3)


@given(mha_problem())
def test_mha_equals_numpy_written_from_its_parameters(p):
    mha = make_mha(p["E"], p["H"], p["seed"], kdim=p["kdim"], vdim=p["vdim"], batch_first=p["batch_first"])
    # the reference is batch-first: (B, L, .) <-> (L, B, .)
    layout = (lambda a: a) if p["batch_first"] else (lambda a: np.swapaxes(a, 0, 1))
    query = Tensor(layout(p["query"]))
    key, value = (query, query) if not p["cross"] else (Tensor(layout(p["key"])), Tensor(layout(p["value"])))
    out, w = mha(query, key, value, key_padding_mask=p["padding"], attn_mask=p["attn_mask"],
                 average_attn_weights=p["average"], is_causal=p["causal"])
    ref_out, ref_w = np_mha(mha, p["query"], p["key"], p["value"], p["padding"], p["attn_mask"], p["causal"])
    np.testing.assert_allclose(out.numpy(), layout(ref_out), rtol=1e-9, atol=1e-11)
    ref_w = ref_w.mean(axis=1) if p["average"] else ref_w
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-9, atol=1e-12)
    _, none = mha(query, key, value, need_weights=False)
    assert none is None


def test_mha_unbatched_equals_a_batch_of_one():
    mha = make_mha(6, 3, seed=3)
    rng = rng_of(4)
    q, kv = rng.standard_normal((4, 6)), rng.standard_normal((5, 6))
    pad = np.array([False, True, False, False, True])
    out, w = mha(Tensor(q), Tensor(kv), Tensor(kv), key_padding_mask=pad, average_attn_weights=False)
    assert out.shape == (4, 6) and w.shape == (3, 4, 5)
    ref_out, ref_w = np_mha(mha, q[None], kv[None], kv[None], pad[None])
    np.testing.assert_allclose(out.numpy(), ref_out[0], rtol=1e-10)
    np.testing.assert_allclose(w.numpy(), ref_w[0], rtol=1e-10, atol=1e-14)


def test_mha_fully_padded_sequence_gives_bias_output_and_leaves_others_alone():
    mha = make_mha(4, 2, seed=5, batch_first=True)
    x = Tensor(rng_of(6).standard_normal((2, 3, 4)), requires_grad=True)
    pad = np.array([[False, False, True], [True, True, True]])  # the second sequence is all padding
    with tg.detect_anomaly():
        out, w = mha(x, x, x, key_padding_mask=pad)
        (dx,) = tg.grad(out.sum(), [x])
    np.testing.assert_allclose(out.numpy()[1], np.broadcast_to(mha.out_proj.bias.numpy(), (3, 4)))
    assert np.all(w.numpy()[1] == 0.0) and np.all(dx.numpy()[1] == 0.0)
    alone, _ = mha(x[:1], x[:1], x[:1], key_padding_mask=pad[:1])
    np.testing.assert_allclose(out.numpy()[:1], alone.numpy(), rtol=1e-12)


def test_mha_gradcheck_self_attention():
    mha = make_mha(4, 2, seed=7)
    names = [n for n, _ in mha.named_parameters()]
    query = rng_of(8).standard_normal((3, 2, 4))  # (L, B, E)

    def output(q, *params):
        return nn.functional_call(mha, dict(zip(names, params)), q, q, q, is_causal=True)[0]

    def weights(q, *params):
        return nn.functional_call(mha, dict(zip(names, params)), q, q, q, average_attn_weights=False)[1]

    for fn in (output, weights):
        assert gradcheck(fn, [query] + [p.numpy() for p in mha.parameters()], fast=True)


def test_mha_gradcheck_cross_attention_with_padding():
    mha = make_mha(4, 2, seed=7, kdim=3, vdim=2, batch_first=True)
    names = [n for n, _ in mha.named_parameters()]
    rng = rng_of(8)
    query, key, value = (rng.standard_normal(shape) for shape in ((2, 3, 4), (2, 5, 3), (2, 5, 2)))
    pad = np.array([[False, True, False, False, False], [False, False, False, True, True]])

    def output(q, k, v, *params):
        return nn.functional_call(mha, dict(zip(names, params)), q, k, v, key_padding_mask=pad)[0]

    assert gradcheck(output, [query, key, value] + [p.numpy() for p in mha.parameters()], fast=True)


@given(st.integers(1, 5), st.booleans(), st.integers(0, 2**16))
def test_causal_mha_output_never_depends_on_later_inputs(T, batch_first, seed):
    mha = make_mha(4, 2, seed=seed % 100, batch_first=batch_first)
    x = Tensor(rng_of(seed).standard_normal((2, T, 4) if batch_first else (T, 2, 4)), requires_grad=True)
    out, _ = mha(x, x, x, is_causal=True)
    t_axis = 1 if batch_first else 0
    for i in range(T):
        (dx,) = tg.grad(out.take(np.array(i), axis=t_axis).sum(), [x], retain_graph=True)
        later = np.take(dx.numpy(), np.arange(i + 1, T), axis=t_axis)
        assert np.all(later == 0.0)
        assert np.abs(np.take(dx.numpy(), i, axis=t_axis)).sum() > 0


def test_mha_dropout_only_in_training_and_scopes_are_recorded():
    mha = MultiheadAttention(8, 2, dropout=0.5, batch_first=True, rng=rng_of(9)).astype(np.float64)
    x = Tensor(rng_of(10).standard_normal((2, 5, 8)), requires_grad=True)
    train1, _ = mha(x, x, x)
    train2, _ = mha(x, x, x)
    assert not np.allclose(train1.numpy(), train2.numpy())  # fresh dropout masks each call
    mha.eval()
    eval_out, w = mha(x, x, x)
    ref, ref_w = np_mha(mha, x.numpy(), x.numpy(), x.numpy())
    np.testing.assert_allclose(eval_out.numpy(), ref, rtol=1e-10)
    scopes = {fn.scope for fn in toposort([eval_out])}
    for inner in ("in_proj", "heads", "out_proj"):
        assert any(s[:2] == ("MultiheadAttention", inner) for s in scopes), (inner, scopes)
    assert any(s[:3] == ("MultiheadAttention", "heads", "softmax") for s in scopes)


def test_mha_errors_name_the_shapes():
    mha = MultiheadAttention(4, 2)
    x = Tensor(np.zeros((3, 2, 4), dtype=np.float32))
    with pytest.raises(ShapeError, match="attn_mask must have shape"):
        mha(x, x, x, attn_mask=np.zeros((2, 3), dtype=bool))
    with pytest.raises(ShapeError, match=r"key_padding_mask must have shape \(2, 3\)"):
        mha(x, x, x, key_padding_mask=np.zeros((3, 2), dtype=bool))
    with pytest.raises(ShapeError, match=r"feature sizes .* \(3, 2, 5\)"):
        mha(Tensor(np.zeros((3, 2, 5), dtype=np.float32)), x, x)
    with pytest.raises(ShapeError, match="3-D .* 2-D"):
        mha(x, x[0], x[0])
