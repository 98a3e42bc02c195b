"""tinygrad_seq.functional: the composites (losses, dropout, normalisation, activations) and the fused
primitives (layer_norm, gelu, cross_entropy, linear with fused=True) against their composed forms: values,
gradients and gradients of gradients agree in float64 to 1e-10 on drawn inputs.

Forward against NumPy, gradcheck and gradgradcheck of each composite and fused op are rows of
tests/op_catalogue.py; this file holds what a row cannot say.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_seq as tg
import tinygrad_seq.functional as F
from tinygrad_seq import Tensor
from tinygrad_seq.autograd import toposort

RTOL, ATOL = 1e-10, 1e-12


def assert_same_values_and_gradients(fn: Callable[..., Tensor], arrays: list[np.ndarray]) -> None:
    """fn(*tensors, fused=fused) for fused in (False, True): equal outputs, gradients and second gradients."""
    results = []
    for fused in (False, True):
        xs = [Tensor(a, requires_grad=True) for a in arrays]
        out = fn(*xs, fused=fused)
        weight = Tensor(np.random.default_rng(0).standard_normal(out.shape))  # every output element counts
        grads = tg.grad((out * weight).sum(), xs, create_graph=True)
        # a scalar of the gradients, differentiated again: the double backward of the fused op
        second = tg.grad(sum(((g * g).sum() for g in grads), Tensor(0.0, dtype=np.float64)), xs)
        results.append([out] + list(grads) + list(second))
    for composed, fused in zip(*results):
        assert fused.dtype == composed.dtype and fused.shape == composed.shape
        np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=RTOL, atol=ATOL)


def distinct_rows(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape) * 2 + rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01


@given(st.lists(st.integers(1, 3), min_size=0, max_size=2), st.integers(2, 6), st.booleans(),
       st.integers(0, 2**16))
def test_fused_layer_norm_equals_composed(lead, n, affine, seed):
    rng = np.random.default_rng(seed)
    shape = (*lead, n)
    arrays = [distinct_rows(rng, shape)]
    if affine:
        arrays += [rng.standard_normal(n), rng.standard_normal(n)]
    assert_same_values_and_gradients(
        lambda x, *wb, fused: F.layer_norm(x, (n,), *wb, fused=fused) if wb else
        F.layer_norm(x, (n,), fused=fused), arrays)


def test_fused_layer_norm_over_two_axes_equals_composed():
    x = distinct_rows(np.random.default_rng(1), (2, 3, 4))
    assert_same_values_and_gradients(lambda x, fused: F.layer_norm(x, (3, 4), eps=1e-3, fused=fused), [x])


@given(st.lists(st.integers(1, 4), min_size=0, max_size=3), st.integers(0, 2**16))
def test_fused_gelu_equals_composed(shape, seed):
    x = np.random.default_rng(seed).standard_normal(tuple(shape)) * 3
    assert_same_values_and_gradients(lambda x, fused: F.gelu(x, fused=fused), [x])


@given(st.integers(1, 5), st.integers(2, 6), st.sampled_from(["mean", "sum", "none"]), st.booleans(),
       st.integers(0, 2**16))
def test_fused_cross_entropy_equals_composed(n, classes, reduction, ignore_some, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, classes)) * 3
    targets = rng.integers(0, classes, n)
    if ignore_some:
        targets[rng.random(n) < 0.4] = -100
    assert_same_values_and_gradients(
        lambda z, fused: F.cross_entropy(z, targets, reduction=reduction, fused=fused), [logits])


def test_fused_cross_entropy_with_a_class_axis_in_the_middle_equals_composed():
    rng = np.random.default_rng(2)
    logits, targets = rng.standard_normal((2, 5, 3)), rng.integers(0, 5, (2, 3))  # (N, C, T), (N, T)
    for reduction in ("mean", "none"):
        assert_same_values_and_gradients(
            lambda z, fused, r=reduction: F.cross_entropy(z, targets, reduction=r, fused=fused), [logits])


@given(st.lists(st.integers(1, 3), min_size=0, max_size=2), st.integers(1, 4), st.integers(1, 4),
       st.booleans(), st.integers(0, 2**16))
def test_fused_linear_equals_composed(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((*lead, n_in)), rng.standard_normal((n_out, n_in))]
    arrays += [rng.standard_normal(n_out)] if bias else []
    assert_same_values_and_gradients(lambda x, *wb, fused: F.linear(x, *wb, fused=fused), arrays)


def test_fused_linear_widens_to_a_float64_bias_and_skips_unneeded_gradients():
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, 3, 4)).astype(np.float32))  # data: no gradient asked
    w = Tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal(5), requires_grad=True)  # float64
    fused, composed = F.linear(x, w, b, fused=True), F.linear(x, w, b)
    assert fused.dtype == composed.dtype == np.float64
    np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-6)
    grads = tg.grad(fused.sum(), [w, b])
    assert grads[0].dtype == np.float32 and grads[1].shape == (5,)
    np.testing.assert_allclose(grads[1].numpy(), np.full(5, 6.0))  # every one of the 2 x 3 rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_ops_keep_the_dtype_and_are_one_node(dtype):
    x = Tensor(np.random.default_rng(3).standard_normal((4, 5)).astype(dtype), requires_grad=True)
    w, b = (Tensor(np.ones(shape, dtype=dtype), requires_grad=True) for shape in ((3, 5), (3,)))
    for fn in (lambda x, f: F.gelu(x, fused=f), lambda x, f: F.layer_norm(x, (5,), fused=f),
               lambda x, f: F.cross_entropy(x, np.array([0, 1, 2, 3]), reduction="none", fused=f),
               lambda x, f: F.linear(x, w, b, fused=f)):
        out = fn(x, True)
        (dx,) = tg.grad(out.sum(), [x])
        assert out.dtype == dtype and dx.dtype == dtype
        assert len(toposort([out])) == 1 < len(toposort([fn(x, False)]))


def test_fused_cross_entropy_is_stable_for_huge_logits():
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 2]), reduction="none", fused=True)
    (dz,) = tg.grad(loss.sum(), [logits])
    np.testing.assert_allclose(loss.numpy(), [2e4, np.log(3)], rtol=1e-6)
    assert np.all(np.isfinite(dz.numpy()))
    np.testing.assert_allclose(dz.numpy(), [[1, -1, 0], [1 / 3, 1 / 3, -2 / 3]], atol=1e-6)


def test_fused_cross_entropy_backward_with_retain_graph_leaves_its_softmax_for_the_next_one():
    """Freed after the pass, the node's softmax buffer is the gradient; with retain_graph it is not, so a
    second backward (and node_backward, which keeps the saved values) gets the same gradient again."""
    from tinygrad_seq.autograd import node_backward

    rng = np.random.default_rng(3)
    logits, targets = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    once = Tensor(logits, requires_grad=True)
    F.cross_entropy(once, targets, fused=True).backward()
    z = Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(z, targets, fused=True)
    node = next(fn for fn in toposort([loss]) if type(fn).__name__ == "FusedCrossEntropy")
    (by_node,) = node_backward(node, [np.full(6, 1 / 6)])[:1]
    loss.backward(retain_graph=True)
    first = z.grad.numpy().copy()
    loss.backward()  # frees the node: its softmax becomes this gradient
    np.testing.assert_allclose(first, once.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(by_node, once.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(z.grad.numpy(), 2 * once.grad.numpy(), rtol=1e-12)
    assert node.released


# ----------------------------------------------------------------------------------- composites


def test_cross_entropy_of_the_docstring_example_and_its_gradient():
    logits = Tensor(np.array([[2.0, 0.0]]), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([0]))
    loss.backward()
    assert loss.item() == pytest.approx(np.log1p(np.exp(-2.0)), rel=1e-12)
    p = 1 / (1 + np.exp(-2.0))  # softmax of the target class
    np.testing.assert_allclose(logits.grad.numpy(), [[p - 1, 1 - p]], rtol=1e-12)


@pytest.mark.parametrize("fused", [False, True])
def test_ignored_targets_count_for_nothing_in_the_mean(fused):
    rng = np.random.default_rng(4)
    logits = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    targets = np.array([0, -100, 2, -100, 1])
    kept = targets != -100
    loss = F.cross_entropy(logits, targets, fused=fused)
    alone = F.cross_entropy(Tensor(logits.numpy()[kept]), targets[kept], fused=fused)
    assert loss.item() == pytest.approx(alone.item(), rel=1e-12)
    loss.backward()
    assert np.all(logits.grad.numpy()[~kept] == 0)  # an ignored row gets no gradient
    every = F.cross_entropy(logits, np.full(5, -100), fused=fused)  # nothing left: a mean of nothing
    assert np.isnan(every.item())  # NaN, as torch gives, rather than a loss of 0 that looks like success


def test_a_reduction_that_does_not_exist_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"):
        F.mse_loss(Tensor([1.0]), Tensor([2.0]), reduction="avg")


def test_dropout_zeroes_about_p_scales_the_rest_and_is_the_identity_in_eval():
    x = Tensor(np.ones((200, 50)))
    out = F.dropout(x, 0.3, rng=np.random.default_rng(5)).numpy()
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7], rtol=1e-12)
    assert (out == 0).mean() == pytest.approx(0.3, abs=0.02)
    assert out.mean() == pytest.approx(1.0, abs=0.03)  # inverted dropout keeps the expectation
    again = F.dropout(x, 0.3, rng=np.random.default_rng(5)).numpy()
    np.testing.assert_array_equal(out, again)  # the mask is one draw of the generator
    assert F.dropout(x, 0.3, training=False) is x and F.dropout(x, 0.0) is x


def test_layer_norm_gives_mean_zero_variance_one_over_the_normalized_axes():
    x = Tensor(np.random.default_rng(6).standard_normal((3, 4, 5)) * 7 + 2)
    for shape in ((5,), (4, 5)):
        out = F.layer_norm(x, shape, eps=0.0).numpy()
        axes = tuple(range(3 - len(shape), 3))
        np.testing.assert_allclose(out.mean(axis=axes), 0, atol=1e-6)
        np.testing.assert_allclose(out.var(axis=axes), 1, rtol=1e-5)


def test_one_hot_and_embedding_pick_rows_and_embedding_gradients_add_up():
    np.testing.assert_array_equal(F.one_hot(np.array([[2], [0]]), 3).numpy(), [[[0, 0, 1]], [[1, 0, 0]]])
    weight = Tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    rows = F.embedding(np.array([1, 3, 1]), weight)
    np.testing.assert_array_equal(rows.numpy(), [[2, 3], [6, 7], [2, 3]])
    rows.sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[0, 0], [2, 2], [0, 0], [1, 1]])  # row 1 used twice
    with pytest.raises(IndexError, match="index 4 is out of range for 4 embeddings"):
        F.embedding(np.array([4]), weight)


def test_gelu_is_zero_at_zero_and_near_relu_far_from_it():
    out = F.gelu(Tensor(np.array([-10.0, 0.0, 10.0]))).numpy()
    np.testing.assert_allclose(out, [0.0, 0.0, 10.0], atol=1e-12)
