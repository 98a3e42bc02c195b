"""gradcheck and gradgradcheck: they pass on correct ops, fail on wrong backwards, and say where."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from helpers import CubeWrong

import tinygrad_seq as tg
from tinygrad_seq import Function, Tensor, gradcheck, gradgradcheck, is_grad_enabled, no_grad
from tinygrad_seq import functional as F
from tinygrad_seq.gradcheck_report import GradcheckError, GradcheckReport

RNG = np.random.default_rng(1234)
X23 = RNG.normal(size=(2, 3))
Y23 = RNG.normal(size=(2, 3))
W34 = RNG.normal(size=(3, 4))
POS23 = RNG.uniform(0.5, 2.0, size=(2, 3))


# Deliberately wrong backwards: the check must catch each of them.


class MulHalfGradY(Function):
    """out = x * y, but dy is off by a factor of 2."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, grad):
        x, y = self.saved_tensors
        return grad * y, grad * x * 0.5


class MulOneBadElement(Function):
    """out = x * y, with dy wrong (x 1.5) only at element (1, 2)."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, grad):
        x, y = self.saved_tensors
        bump = np.ones(x.shape)
        bump[1, 2] = 1.5
        return grad * y, grad * (x * bump)


class XExpDropsTerm(Function):
    """out = x e^x; the product rule's e^x term is dropped (dx = grad * x e^x instead of (1 + x) e^x)."""

    def forward(self, x):
        out = x * np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * out


class TwiceXLeaksIntoY(Function):
    """out = 2 x; y is unused, yet backward gives it a gradient."""

    def forward(self, x, y):
        return 2 * x

    def backward(self, grad):
        return grad * 2, grad * 0.1


class SquareFlatBackward(Function):
    """out = x^2 with dx = grad * 2x, 2x saved as an array of its own, so a constant under create_graph:
    right first order, wrong second order."""

    def forward(self, x):
        self.save_for_backward(2 * x)
        return x * x

    def backward(self, grad):
        (two_x,) = self.saved_tensors
        return grad * two_x


CORRECT = {
    "mul broadcast": (lambda x, b: x * b, [X23, RNG.normal(size=(3,))]),
    "matmul": (lambda x, w: x @ w, [X23, W34]),
    "tanh exp": (lambda x: x.tanh() * x.exp(), [X23]),
    "log sqrt div": (lambda p, y: p.log() + p.sqrt() / (1 + y * y), [POS23, Y23]),
    "sum mean axis": (lambda x: x.sum(axis=0) * x.mean(axis=1, keepdims=True), [X23]),
    "getitem repeated": (lambda x: x[np.array([0, 1, 1]), 1:], [X23]),
    "softmax": (lambda x: F.softmax(x, axis=-1), [X23]),
    "log_softmax matmul": (lambda x, w: (x @ w).log_softmax(axis=0), [X23, W34]),
    "concatenate": (lambda x, y: tg.concatenate([x, y * y], axis=1), [X23, Y23]),
}


@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
@pytest.mark.parametrize("name", list(CORRECT))
def test_passes_on_correct_ops(name, fast):
    fn, inputs = CORRECT[name]
    report = gradcheck(fn, inputs, fast=fast)
    assert report and report.passed and not report.failures
    assert [c.index for c in report.checks] == list(range(len(inputs)))
    assert all(c.max_abs_err < 1e-7 for c in report.checks), str(report)
    assert "passed" in str(report)


@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_fails_on_factor_error_and_names_the_input(fast):
    report = gradcheck(lambda x, y: MulHalfGradY.apply(x, y), [X23, Y23], fast=fast, raise_exception=False)
    assert not report
    assert [c.index for c in report.failures] == [1]
    bad = report.failures[0]
    assert bad.analytic == pytest.approx(0.5 * bad.numeric, rel=1e-6)
    assert bad.max_rel_err == pytest.approx(0.5, rel=1e-4)
    assert "input 1 (shape (2, 3)), " in str(report) and "FAILED" in str(report)


@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_fails_on_a_dropped_term(fast):
    x = np.array([[0.3, -1.2], [0.8, 2.0]])
    report = gradcheck(lambda x: XExpDropsTerm.apply(x), [x], fast=fast, raise_exception=False)
    assert not report and [c.index for c in report.failures] == [0]
    bad = report.failures[0]
    i = bad.element
    # where it fails, the numeric value is the true derivative (1 + x) e^x (times u_i in fast mode)
    true, wrong = (1 + x[i]) * np.exp(x[i]), x[i] * np.exp(x[i])
    assert bad.numeric * wrong == pytest.approx(bad.analytic * true, rel=1e-6)


@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_names_the_one_wrong_element(fast):
    fn = lambda x, y: MulOneBadElement.apply(x, y)
    report = gradcheck(fn, [X23, Y23], fast=fast, raise_exception=False)
    (bad,) = report.failures
    assert (bad.index, bad.element) == (1, (1, 2))
    assert bad.abs_err > bad.tol
    if fast:
        assert bad.projection is not None and "element (1, 2) of J^T u" in str(report)
        assert bad.analytic == pytest.approx(1.5 * bad.numeric, rel=1e-6)
    else:
        assert bad.output == "(1, 2)"
        assert (bad.analytic, bad.numeric) == pytest.approx((1.5 * X23[1, 2], X23[1, 2]), rel=1e-6)
        assert "input 1 (shape (2, 3)), element (1, 2) of output (1, 2): analytic" in str(report)


def test_report_values_for_a_known_derivative():
    report = gradcheck(lambda x: CubeWrong.apply(x), [np.array([2.0])], raise_exception=False)
    (c,) = report.checks
    assert c.element == (0,) and c.output is None  # a one-element output has no output index
    assert c.analytic == 8.0  # 2 * 2^2, the wrong rule
    assert c.numeric == pytest.approx(12.0, abs=1e-6)  # 3 * 2^2, by central differences
    assert c.abs_err == pytest.approx(4.0, abs=1e-6) and c.max_abs_err == pytest.approx(4.0, abs=1e-6)
    assert c.max_rel_err == pytest.approx(1 / 3, rel=1e-6)
    assert c.tol == pytest.approx(1e-5 + 1e-3 * 12.0, rel=1e-6)
    assert "input 0 (shape (1,)), element (0,): analytic 8, numeric 12, abs err 4 > tol 0.012" in str(report)


def test_report_is_a_table_with_one_row_per_checked_input():
    text = str(gradcheck(lambda x, w: x @ w, [X23, W34]))
    lines = text.splitlines()
    assert lines[0].startswith("gradcheck (full Jacobian; eps=1e-06, atol=1e-05, rtol=0.001): passed")
    assert re.split(r"\s{2,}", lines[1].strip()) == [
        "input", "shape", "max abs err", "max rel err", "worst element", "analytic", "numeric", "result"]
    assert lines[2].split()[:3] == ["0", "(2,", "3)"] and lines[2].endswith("ok")
    assert lines[3].split()[:3] == ["1", "(3,", "4)"] and len(lines) == 4


def test_raise_exception_carries_the_report():
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: CubeWrong.apply(x), [np.array([2.0])])
    assert isinstance(info.value, AssertionError)
    assert isinstance(info.value.report, GradcheckReport) and not info.value.report
    assert str(info.value) == str(info.value.report)
    copy = pickle.loads(pickle.dumps(info.value))  # crosses a process pool with its report
    assert str(copy) == str(info.value) and str(copy.report) == str(info.value.report)
    quiet = gradcheck(lambda x: CubeWrong.apply(x), [np.array([2.0])], raise_exception=False)
    assert not quiet and quiet.passed is False


def test_nondeterministic_fn_is_named():
    rng = np.random.default_rng(0)  # advances between calls: each call drops different elements
    report = gradcheck(lambda x: F.dropout(x, 0.5, True, rng), [X23], raise_exception=False)
    assert not report and "fn is not deterministic" in str(report)
    seeded = lambda x: F.dropout(x, 0.5, True, np.random.default_rng(7))
    assert gradcheck(seeded, [X23])


def test_grad_mode_is_left_alone():
    gradcheck(lambda x: x.tanh(), [X23])
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: CubeWrong.apply(x), [np.array([2.0])])
    assert is_grad_enabled()
    with no_grad():
        assert gradgradcheck(lambda x: x.tanh(), [X23[0]])  # works inside no_grad too
        assert not is_grad_enabled()


def test_scalar_and_tensor_outputs():
    scalar = gradcheck(lambda x: (x * x).sum(), [X23])
    assert scalar.checks[0].output is None and scalar.checks[0].analytic == pytest.approx(
        2 * X23[scalar.checks[0].element])
    assert gradcheck(lambda x: x.reshape(3, 2).T * 2.0, [X23])
    assert gradcheck(lambda x: x, Tensor(X23[0], requires_grad=True))  # a single Tensor, returned as is


def test_float32_inputs_are_checked_in_float64_and_left_untouched():
    x = Tensor(X23.astype(np.float32), requires_grad=True)
    before = x.data.copy()
    seen = []
    report = gradcheck(lambda t: seen.append(t.dtype) or (t * t).tanh(), [x])
    assert report and set(seen) == {np.dtype(np.float64)}
    assert report.checks[0].max_abs_err < 1e-7  # float32 differences with eps=1e-6 would be off by ~1e-2
    assert x.dtype == np.float32 and np.array_equal(x.data, before) and x.grad is None


def test_integer_inputs_pass_through_and_constants_are_not_checked():
    idx = np.array([2, 0, 2])
    c = Tensor(Y23)  # requires_grad=False: a constant

    def fn(x, i, const, scale):
        assert i is idx and scale == 3
        return x[:, i] * const[:, i] * scale

    report = gradcheck(fn, [X23, idx, c, 3])
    assert [ch.index for ch in report.checks] == [0]
    assert "input 1: not checked (dtype int64, passed unchanged)" in str(report)
    assert "input 2: constant" in str(report) and "input 3: not checked (int" in str(report)


def test_unused_input_needs_an_exactly_zero_gradient():
    report = gradcheck(lambda x, y: x * 2, [X23, Y23])
    assert report.checks[1].max_abs_err == 0.0
    leaky = gradcheck(lambda x, y: TwiceXLeaksIntoY.apply(x, y), [X23, Y23], raise_exception=False)
    assert [c.index for c in leaky.failures] == [1] and leaky.failures[0].numeric == 0.0


@pytest.mark.parametrize("fn, message", [
    (lambda x: x.astype(np.float32), "float64"),
    (lambda x: x.data.sum(), "must return a Tensor"),
    (lambda x: x.log(), "NaN or Inf"),
])
def test_bad_outputs_are_explained(fn, message):
    with np.errstate(invalid="ignore"):  # log of a negative number, on purpose
        report = gradcheck(fn, [X23], raise_exception=False)
    assert not report and message in str(report)


def test_nothing_to_check_fails():
    report = gradcheck(lambda c: c * 2, [Tensor(X23)], raise_exception=False)
    assert not report and "no input is checked" in str(report)


def test_fast_mode_on_a_layer_sized_input_is_cheap():
    calls = []
    x, w = RNG.normal(size=(8, 32)), RNG.normal(size=(32, 32)) / 6

    def layer(x, w):
        calls.append(1)
        return (x @ w).tanh()

    assert gradcheck(layer, [x, w], fast=True)
    assert len(calls) == 2 + 2 * 2  # two at the point (determinism), two per input


GRADGRAD = {
    "tanh exp": (lambda x: (x.tanh() * 0.5).exp(), [X23]),
    "mul": (lambda x, y: x * y * x, [X23, Y23]),
    "matmul tanh": (lambda x, w: (x @ w).tanh(), [X23, W34]),
    "softmax": (lambda x: x.softmax(axis=-1), [X23]),
}


@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
@pytest.mark.parametrize("name", list(GRADGRAD))
def test_gradgradcheck_passes(name, fast):
    fn, inputs = GRADGRAD[name]
    report = gradgradcheck(fn, inputs, fast=fast)
    assert report and report.title == "gradgradcheck"
    assert [c.index for c in report.checks] == list(range(len(inputs) + 1))  # + grad_outputs
    assert report.checks[-1].label == "v"


@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_gradgradcheck_fails_on_a_constant_backward(fast):
    x = np.array([0.5, -1.0, 2.0])
    assert gradcheck(lambda x: SquareFlatBackward.apply(x), [x])  # first order is right
    report = gradgradcheck(lambda x: SquareFlatBackward.apply(x), [x], fast=fast, raise_exception=False)
    assert [c.index for c in report.failures] == [0]  # d/dx of the gradient is wrong, d/dv is right
    bad = report.failures[0]
    assert bad.analytic == 0.0 and bad.numeric != 0.0  # the constant 2x has no derivative
    if not fast:
        v = np.random.default_rng(0).standard_normal(3)
        assert bad.numeric == pytest.approx(2 * v[bad.element[0]], rel=1e-6)  # d(2 x v)/dx = 2 v
        assert f"gradient of input 0, element {bad.element}" in str(report)


def test_gradgradcheck_uses_given_grad_outputs():
    v = np.array([1.0, -2.0, 0.5])
    report = gradgradcheck(lambda x: SquareFlatBackward.apply(x), [X23[0]], grad_outputs=v,
                           raise_exception=False)
    bad = report.failures[0]
    assert bad.numeric == pytest.approx(2 * v[bad.element[0]], rel=1e-6)
    with pytest.raises(ValueError, match="grad_outputs has shape"):
        gradgradcheck(lambda x: x * x, [X23[0]], grad_outputs=np.ones(2))
