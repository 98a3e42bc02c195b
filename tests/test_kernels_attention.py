"""The fused attention kernel (nn/kernels/attention.py) against the composed reference it replaces:
scaled_dot_product_attention, MultiheadAttention and the Transformer layers built with fused=True give
the same outputs, weights and gradients in float64 (1e-10), pass gradcheck, and refuse double backward
with an error that names the fix."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import attention_problem, make_mha, mha_problem, params_of, randomise, rng_of
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_seq as tg
from tinygrad_seq import Tensor, gradcheck, gradgradcheck, nn
from tinygrad_seq.autograd import toposort
from tinygrad_seq.nn.attention import scaled_dot_product_attention
from tinygrad_seq.nn.kernels.attention import FirstOrderOnlyError

RTOL, ATOL = 1e-10, 1e-12


def loss_of(outputs: list[Tensor], seed: int = 0) -> Tensor:
    """A scalar every element of every output reaches with its own random weight."""
    rng = rng_of(seed)
    zero = Tensor(0.0, dtype=np.float64)
    return sum(((o * Tensor(rng.standard_normal(o.shape))).sum() for o in outputs), zero)


def assert_all_close(fused: list[Tensor], composed: list[Tensor]) -> None:
    assert len(fused) == len(composed)
    for a, b in zip(fused, composed):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------------------------- the function


@given(attention_problem(), st.sampled_from([0.0, 0.4]), st.integers(0, 2**16))
def test_fused_sdpa_equals_composed(problem, dropout_p, seed):
    q, k, v, mask, causal = problem
    runs = []
    for fused in (False, True):
        xs = [Tensor(a, requires_grad=True) for a in (q, k, v)]
        out, w = scaled_dot_product_attention(*xs, mask, dropout_p=dropout_p, is_causal=causal,
                                              rng=rng_of(seed), fused=fused)
        runs.append([out, w, *tg.grad(loss_of([out, w]), xs)])  # the weights are differentiable too
    assert_all_close(runs[1], runs[0])


def test_fused_sdpa_passes_gradcheck_with_masks():
    rng = rng_of(0)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    bool_mask = rng.random((3, 5)) < 0.3
    bool_mask[1] = True  # a query that may attend to nothing
    float_mask = np.where(rng.random((2, 3, 5)) < 0.3, -np.inf, rng.standard_normal((2, 3, 5)))
    for mask, causal in [(None, False), (None, True), (bool_mask, False), (float_mask, True)]:
        for which in (0, 1):  # the output, then the weights
            fn = lambda q, k, v, m=mask, c=causal, i=which: scaled_dot_product_attention(  # noqa: E731
                q, k, v, m, is_causal=c, fused=True)[i]
            assert gradcheck(fn, [q, k, v])
    shared_key = lambda q, k, v: scaled_dot_product_attention(q, k, v, fused=True)[0]  # noqa: E731
    assert gradcheck(shared_key, [q, k[0], v[0]])  # (S, E) broadcast over q's batch: summed back


def test_fused_sdpa_is_one_node_and_keeps_float32():
    q, k, v = (Tensor(rng_of(i).standard_normal((2, 4, 3)).astype(np.float32), requires_grad=True)
               for i in range(3))
    out, w = scaled_dot_product_attention(q, k, v, is_causal=True, fused=True)
    assert [fn.name for fn in toposort([out])] == ["ScaledDotProductAttention"]
    assert out.dtype == w.dtype == np.float32
    assert all(g.dtype == np.float32 for g in tg.grad(out.sum(), [q, k, v]))
    with tg.no_grad():  # nothing recorded: the weights still come back, equal
        out0, w0 = scaled_dot_product_attention(q, k, v, is_causal=True, fused=True)
    assert np.array_equal(w0.numpy(), w.numpy()) and np.array_equal(out0.numpy(), out.numpy())


def test_fused_sdpa_refuses_double_backward_and_names_the_fix():
    q, k, v = (rng_of(i).standard_normal((3, 2)) for i in range(3))
    fn = lambda q, k, v: scaled_dot_product_attention(q, k, v, fused=True)[0]  # noqa: E731
    for which in (0, 1):
        xs = [Tensor(a, requires_grad=True) for a in (q, k, v)]
        out = scaled_dot_product_attention(*xs, fused=True)[which]
        with pytest.raises(FirstOrderOnlyError, match=r"first-order .*fused=False"):
            tg.grad(out.sum(), xs, create_graph=True)
    with pytest.raises(FirstOrderOnlyError):
        gradgradcheck(fn, [q, k, v])
    composed = lambda q, k, v: scaled_dot_product_attention(q, k, v)[0]  # noqa: E731
    assert gradgradcheck(composed, [q, k, v])


# ----------------------------------------------------------------------------------- the layers


@given(mha_problem(), st.booleans())
def test_fused_mha_equals_composed(p, training):
    runs = []
    for fused in (False, True):
        mha = make_mha(p["E"], p["H"], p["seed"], kdim=p["kdim"], vdim=p["vdim"],
                       batch_first=p["batch_first"], dropout=0.3, fused=fused).train(training)
        mha.rng = rng_of(p["seed"])  # the same dropout masks for both
        layout = (lambda a: a) if p["batch_first"] else (lambda a: np.swapaxes(a, 0, 1))
        query = Tensor(layout(p["query"]), requires_grad=True)
        key, value = (query, query) if not p["cross"] else (Tensor(layout(p["key"]), requires_grad=True),
                                                            Tensor(layout(p["value"]), requires_grad=True))
        out, w = mha(query, key, value, key_padding_mask=p["padding"], attn_mask=p["attn_mask"],
                     average_attn_weights=p["average"], is_causal=p["causal"])
        wrt = [query] + ([key, value] if p["cross"] else []) + list(mha.parameters())
        runs.append([out, w, *tg.grad(loss_of([out, w]), wrt)])
    assert_all_close(runs[1], runs[0])


@settings(max_examples=10)
@given(st.booleans(), st.booleans(), st.sampled_from(["relu", "gelu"]), st.integers(0, 2**16))
def test_fused_transformer_layers_equal_composed(norm_first, decoder, activation, seed):
    rng = rng_of(seed)
    x, memory = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 5, 8))  # batch first
    padding = np.array([[False, False, True, False], [False] * 4])
    runs = []
    for fused in (False, True):
        kind = nn.TransformerDecoderLayer if decoder else nn.TransformerEncoderLayer
        layer = randomise(kind(8, 2, 12, activation=activation, norm_first=norm_first, batch_first=True,
                               rng=rng_of(seed), fused=fused), seed)
        src = Tensor(x, requires_grad=True)
        if decoder:
            memory_padding = np.array([[False, True, False, False, False], [False] * 5])
            out = layer(src, Tensor(memory), tgt_is_causal=True, memory_key_padding_mask=memory_padding)
        else:
            out = layer(src, src_key_padding_mask=padding, is_causal=True)
        runs.append([out, *tg.grad(loss_of([out]), [src, *layer.parameters()])])
    assert_all_close(runs[1], runs[0])


def test_fused_encoder_layer_passes_gradcheck_and_draws_one_attention_node():
    layer = randomise(nn.TransformerEncoderLayer(4, 2, 6, activation="gelu", norm_first=True, rng=rng_of(1),
                                                 fused=True), 1)
    names, values = params_of(layer)
    x = rng_of(2).standard_normal((3, 2, 4))  # (T, B, E)

    def fn(x, *params):
        return nn.functional_call(layer, dict(zip(names, params)), x, is_causal=True)

    assert gradcheck(fn, [x, *values], fast=True)
    out = layer(Tensor(x, requires_grad=True), is_causal=True)
    ops = [fn.name for fn in toposort([out])]
    assert ops.count("ScaledDotProductAttention") == 1 and "FusedLayerNorm" in ops and "FusedGelu" in ops
    assert ops.count("FusedLinear") == 4 and "MatMul" not in ops  # in_proj, out_proj, linear1, linear2
    layer.fused = False  # the same weights as composed ops: no fused node left, the same values
    composed = layer(Tensor(x, requires_grad=True), is_causal=True)
    assert not any(fn.name.startswith(("Fused", "ScaledDot")) for fn in toposort([composed]))
    assert not layer.self_attn.fused and not layer.norm1.fused and not layer.self_attn.out_proj.fused
    np.testing.assert_allclose(composed.numpy(), out.numpy(), rtol=RTOL, atol=ATOL)
