"""The op protocol of `Function` (autograd.py): several outputs per node, saved values, needs_input_grad and
an explicit create_graph, checked on small ops written here the way a user writes one."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq import Function, Tensor, gradcheck, gradgradcheck
from tinygrad_seq.autograd import FirstOrderOnlyError, toposort
from tinygrad_seq.graph_analysis import Graph

RNG = np.random.default_rng(17)
X = RNG.normal(size=(2, 3))


class SinCos(Function):
    """(sin x, cos x) as one node;  dx = dsin cos x - dcos sin x, written with the saved outputs."""

    def forward(self, x):
        s, c = np.sin(x), np.cos(x)
        self.save_for_backward(s, c)
        return s, c

    def backward(self, dsin, dcos):
        s, c = self.saved_tensors
        return dsin * c - dcos * s


class Record(Function):
    """out = 2 x, recording what the engine handed its forward and backward (for the tests below)."""

    seen: list = []

    def forward(self, x, y):
        Record.seen.append(("forward", self.needs_input_grad))
        self.save_for_backward(x)
        return 2 * x + 0 * y

    def backward(self, grad):
        (x,) = self.saved_tensors
        Record.seen.append(("backward", self.create_graph, type(grad).__name__, type(x).__name__,
                            self.needs_input_grad))
        return 2 * grad, (0 * grad if self.needs_input_grad[1] else None)


class NumpyOnly(Function):
    """out = x^2 with a NumPy backward, declared first-order only."""

    first_order_only = "Use x * x instead."

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad):
        (x,) = self.saved_tensors
        return np.multiply(2 * grad, x)


def leaf(a: np.ndarray) -> Tensor:
    return Tensor(a.copy(), requires_grad=True)


# --------------------------------------------------------------------------------- several outputs


def test_sincos_returns_two_tensors_of_one_node():
    x = leaf(X)
    s, c = SinCos.apply(x)
    np.testing.assert_allclose(s.numpy(), np.sin(X))
    np.testing.assert_allclose(c.numpy(), np.cos(X))
    assert s.grad_fn is c.grad_fn and (s.output_index, c.output_index) == (0, 1)
    assert len(toposort([s + c])) == 2  # SinCos and Add: one node for both outputs


def test_sincos_gradcheck_both_outputs_and_each_alone():
    gradcheck(lambda x: SinCos.apply(x)[0] * 3 + SinCos.apply(x)[1] ** 2, [X])
    gradcheck(lambda x: SinCos.apply(x)[0], [X])
    gradcheck(lambda x: SinCos.apply(x)[1], [X])


def test_sincos_gradgradcheck_through_its_saved_outputs():
    def f(x):
        s, c = SinCos.apply(x)
        return s * c + c

    gradgradcheck(f, [X])
    x = leaf(X)
    s, c = SinCos.apply(x)
    (dx,) = tg.grad(s.sum(), [x], create_graph=True)  # cos x
    (ddx,) = tg.grad(dx.sum(), [x])  # -sin x
    np.testing.assert_allclose(ddx.numpy(), -np.sin(X), rtol=1e-12)


def test_an_unused_output_gets_zeros():
    x = leaf(X)
    got = []

    class Spy(SinCos):
        def backward(self, dsin, dcos):
            got.append((dsin.copy(), dcos.copy()))
            return super().backward(dsin, dcos)

    s, _ = Spy.apply(x)
    s.sum().backward()
    (dsin, dcos), = got
    np.testing.assert_array_equal(dsin, np.ones_like(X))
    np.testing.assert_array_equal(dcos, np.zeros_like(X))
    np.testing.assert_allclose(x.grad.numpy(), np.cos(X))


def test_both_outputs_used_each_gives_its_gradient():
    x = leaf(X)
    s, c = SinCos.apply(x)
    (2 * s + 3 * c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(X) - 3 * np.sin(X), rtol=1e-12)


def test_a_diamond_through_two_outputs_accumulates_once():
    x = leaf(X)
    s, c = SinCos.apply(x)
    y = s * c  # both outputs meet again: d(sin x cos x)/dx = cos 2x
    z = y + s  # and one of them is read twice
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(2 * X) + np.cos(X), rtol=1e-12)


def test_grad_of_one_output_with_respect_to_another_node_output():
    x = leaf(X)
    s, c = SinCos.apply(x)
    ds, dc = tg.grad((s * c).sum(), [s, c])
    np.testing.assert_allclose(ds.numpy(), np.cos(X))
    np.testing.assert_allclose(dc.numpy(), np.sin(X))


# --------------------------------------------------------------------------------- the contract


def test_needs_input_grad_is_known_before_forward():
    Record.seen = []
    x, y = leaf(X), Tensor(X)
    Record.apply(x, y).sum().backward()
    assert Record.seen[0] == ("forward", (True, False))
    assert Record.seen[1][-1] == (True, False)
    with tg.no_grad():
        Record.apply(x, leaf(X))
    assert Record.seen[2] == ("forward", (False, False))


def test_first_order_backward_gets_arrays_even_under_grad_mode_and_builds_no_graph():
    Record.seen = []
    x = leaf(X)
    out = Record.apply(x, Tensor(X))
    with tg.enable_grad():  # grad mode on: create_graph=False is what counts
        (dx,) = tg.grad(out.sum(), [x], create_graph=False)
    assert Record.seen[1][:4] == ("backward", False, "ndarray", "ndarray")
    assert dx.grad_fn is None and not dx.requires_grad


def test_create_graph_hands_backward_tensors_and_the_saved_input_itself():
    Record.seen = []
    x = leaf(X)
    (dx,) = tg.grad((Record.apply(x, Tensor(X)) ** 2).sum(), [x], create_graph=True)
    assert Record.seen[1][:4] == ("backward", True, "Tensor", "Tensor")
    assert dx.requires_grad and dx.grad_fn is not None
    (ddx,) = tg.grad(dx.sum(), [x])
    np.testing.assert_allclose(ddx.numpy(), np.full_like(X, 8.0))


def test_saved_tensors_are_released_after_backward_and_a_second_backward_says_so():
    x = leaf(X)
    s, c = SinCos.apply(x)
    loss = (s + c).sum()
    loss.backward()
    node = s.grad_fn
    assert node.released
    with pytest.raises(RuntimeError, match="released after the first backward.*retain_graph=True"):
        s_saved, c_saved = node.saved_tensors
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        loss.backward()


def test_retain_graph_keeps_the_saved_values_for_a_second_backward():
    x = leaf(X)
    s, c = SinCos.apply(x)
    loss = (s * c).sum()
    loss.backward(retain_graph=True)
    assert len(s.grad_fn.saved_tensors) == 2
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(2 * X), rtol=1e-12)


def test_a_first_order_only_op_raises_one_clear_error_under_create_graph():
    x = leaf(X)
    loss = NumpyOnly.apply(x).sum()
    with pytest.raises(FirstOrderOnlyError, match=r"NumpyOnly: .*first-order only.*Use x \* x instead"):
        tg.grad(loss, [x], create_graph=True)
    (dx,) = tg.grad(NumpyOnly.apply(x).sum(), [x])
    np.testing.assert_allclose(dx.numpy(), 2 * X)


def test_backward_returning_the_wrong_number_of_gradients_names_the_op():
    class TwoForOne(SinCos):
        def backward(self, dsin, dcos):
            return dsin, dcos

    x = leaf(X)
    with pytest.raises(RuntimeError, match="TwoForOne.backward returned 2 gradients for 1 inputs"):
        TwoForOne.apply(x)[0].sum().backward()


# --------------------------------------------------------------------------------- tools on several outputs


def test_a_picture_splits_gradients_through_a_node_with_two_outputs():
    x = leaf(X)
    s, c = SinCos.apply(x)
    loss = (s * 2 + c).sum()
    g = Graph([loss])
    grads, _ = g.gradients()
    assert sorted(g.outputs[id(s.grad_fn)]) == [0, 1]
    np.testing.assert_allclose(g.share(s.grad_fn, x, grads), 2 * np.cos(X) - np.sin(X), rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(X) - np.sin(X), rtol=1e-12)


def test_localize_names_a_wrong_node_with_two_outputs():
    class SinCosWrong(SinCos):
        def backward(self, dsin, dcos):
            s, c = self.saved_tensors
            return dsin * c + dcos * s  # the sign of d(cos) is lost

    def f(x):
        s, c = SinCosWrong.apply(x.tanh())
        return (s * c).sum()

    report = gradcheck(f, [X], localize=True, raise_exception=False)
    assert not report
    assert [n.op for n in report.localized.failed] == ["SinCosWrong"]


class MaxAndIndex(Function):
    """(max over the last axis, its index): a float output with a gradient and an integer one without."""

    def forward(self, x):
        index = x.argmax(axis=-1)
        self.shape = x.shape
        self.save_for_backward(index)  # an integer array: it stays an array in either pass
        return np.take_along_axis(x, index[..., None], -1)[..., 0], index

    def backward(self, dmax, dindex):
        (index,) = self.saved_tensors
        grad = np.zeros(self.shape, dtype=dmax.dtype)
        np.put_along_axis(grad, index[..., None], dmax[..., None], -1)
        return grad


def test_an_integer_output_is_not_part_of_the_graph():
    x = leaf(X)
    top, index = MaxAndIndex.apply(x)
    assert top.grad_fn is not None and index.grad_fn is None and not index.requires_grad
    np.testing.assert_array_equal(index.numpy(), X.argmax(axis=-1))
    top.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), X == X.max(axis=-1, keepdims=True))
