"""tinygrad_seq.localization, behind gradcheck(..., localize=True): a wrong backward hidden deep in a
model is named exactly (op, scope and time step, line of code, input, element); correct models name
nothing; kinks are skipped, not failed; graph pictures mark the named nodes."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import CubeWrong

from tinygrad_seq import Function, Tensor, gradcheck, graph
from tinygrad_seq import functional as F
from tinygrad_seq.localization import localize
from tinygrad_seq.nn import LSTM, Module, ModuleList, Parameter, TransformerEncoderLayer, functional_call
from tinygrad_seq.nn.recurrent import project, scan

# Three wrong backwards, each with its correct composed counterpart: a constant factor (2 instead of 3:
# helpers.CubeWrong), a missing transpose (right only for a symmetric matrix) and a broadcast gradient
# summed over the wrong axis (shape-valid because the test's matrices are square).


class MatMulSquare(Function):
    """out = x @ w; dx should be grad @ w^T, is grad @ w."""

    def forward(self, x, w):
        self.save_for_backward(x, w)
        return x @ w

    def backward(self, grad):
        x, w = self.saved_tensors
        return grad @ w, x.T @ grad


class ColumnScale(Function):
    """out = x * s, s (n,) scaling columns; ds should sum grad * x over rows (axis 0), sums over axis 1."""

    def forward(self, x, s):
        self.save_for_backward(x, s)
        return x * s

    def backward(self, grad):
        x, s = self.saved_tensors
        return grad * s, (grad * x).sum(axis=1)


PLANTED = {  # bug -> (op, the input whose gradient is wrong, the correct composed op)
    "factor": (CubeWrong, 0, lambda x, p: x**3),
    "transpose": (MatMulSquare, 0, lambda x, p: x @ p),
    "broadcast": (ColumnScale, 1, lambda x, p: x * p),
}


class Planted(Module):
    """x -> op(x, weight), n x n: the planted op when `buggy`, its correct composed counterpart otherwise."""

    def __init__(self, bug: str, n: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.bug = bug
        self.weight = Parameter(rng.normal(size=(n, n)) / n if bug == "transpose" else rng.normal(size=n))

    def forward(self, x: Tensor, buggy: bool = True) -> Tensor:
        op, _, correct = PLANTED[self.bug]
        if not buggy:
            return correct(x, self.weight)
        return op.apply(x) if self.bug == "factor" else op.apply(x, self.weight)  # the planted line


PLANTED_LINE = "return op.apply(x) if self.bug"


class PlantedRNN(Module):
    """h_t = tanh(mix(x_t W_ih^T + b + h_{t-1} W_hh)), run by `scan`; mix is the planted op at step `at`."""

    def __init__(self, bug: str, at: int | None, n: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.weight_ih = Parameter(rng.normal(size=(n, 3)) / 2)
        self.weight_hh = Parameter(rng.normal(size=(n, n)) / n)
        self.bias = Parameter(rng.normal(size=n) / 2)
        self.mix = Planted(bug, n, rng)
        self.at = at

    def forward(self, x: Tensor) -> Tensor:
        steps = iter(range(x.shape[0]))

        def step(gi, state, w_hh, b_hh):
            (h,) = state
            return (self.mix(gi + h @ w_hh, buggy=next(steps) == self.at).tanh(),)

        h0 = Tensor(np.zeros((x.shape[1], self.weight_hh.shape[0])))
        out, _ = scan(step, project(x, self.weight_ih, self.bias), (h0,), self.weight_hh)
        return out


class Model(Module):
    """Holds the network under `self.net`, so its scopes start with "net"."""

    def __init__(self, net: Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Encoder(Module):
    """Two Transformer encoder layers; layer 1's feed-forward activation is gelu(planted(x))."""

    def __init__(self, bug: str | None, rng: np.random.Generator) -> None:
        super().__init__()
        d, f = 8, 8
        planted = Planted(bug or "factor", f, rng)

        def activation(x: Tensor) -> Tensor:
            return F.gelu(planted(x.reshape(-1, f), buggy=bug is not None).reshape(*x.shape))  # (B, S, F)

        self.layers = ModuleList([
            TransformerEncoderLayer(d, 2, f, dropout=0.0, activation="gelu", batch_first=True, rng=rng),
            TransformerEncoderLayer(d, 2, f, dropout=0.0, activation=activation, batch_first=True, rng=rng),
        ])
        self.layers[1].planted = planted
        self.astype(np.float64)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x, is_causal=True)
        return x


def checked(model: Module, x: np.ndarray, names: list[str] | None = None) -> tuple:
    """(fn, inputs) checking the input and the parameters `names` (default: all), with a scalar output (a
    fixed projection); the other parameters are constants."""
    params = dict(model.named_parameters())
    names = list(params) if names is None else names
    weights = np.random.default_rng(7).normal(size=model(Tensor(x)).shape)

    def fn(x_: Tensor, *ps: Tensor) -> Tensor:
        return (functional_call(model, dict(zip(names, ps)), x_) * weights).sum()

    return fn, [x, *[params[name].numpy().astype(np.float64) for name in names]]


def rnn_case(bug: str | None, at: int = 6) -> tuple:
    rng = np.random.default_rng(0)
    model = Model(PlantedRNN(bug or "factor", at if bug else None, 4, rng))
    return checked(model, rng.normal(size=(10, 4, 3)))  # (T, B, I), B = H so that ColumnScale's bug fits


def transformer_case(bug: str | None) -> tuple:
    rng = np.random.default_rng(1)
    # (B, S, E): B*S = F rows; the planted weight and the input are checked, the other weights are constants
    return checked(Encoder(bug, rng), rng.normal(size=(2, 4, 8)), ["layers.1.planted.weight"])


@pytest.mark.parametrize("bug", list(PLANTED))
@pytest.mark.parametrize("at", [3, 8])
def test_a_wrong_backward_in_a_10_step_rnn_is_named_with_its_time_step(bug: str, at: int) -> None:
    fn, inputs = rnn_case(bug, at)
    report = gradcheck(fn, inputs, localize=True, raise_exception=False)
    assert not report
    found = report.localized
    assert [n.op for n in found.failed] == [PLANTED[bug][0].__name__]
    node = found.failed[0]
    assert node.scope == ("Model", "net", f"t={at}", "mix")
    assert "test_localization.py" in node.created_at and PLANTED_LINE in node.created_at
    assert node.check.index == PLANTED[bug][1]
    assert abs(node.check.analytic - node.check.numeric) > node.check.tol
    text = str(report)
    head = f"FAILED node {node.position} of {found.nodes}: op '{node.op}' in scope 'Model/net/t={at}/mix'"
    assert head in text
    assert PLANTED_LINE in text and f"look at {node.op}.backward" in text


def test_the_factor_bug_reports_the_ratio_and_the_element() -> None:
    fn, inputs = rnn_case("factor", 5)
    node = gradcheck(fn, inputs, localize=True, raise_exception=False).localized.failed[0]
    assert node.check.analytic / node.check.numeric == pytest.approx(2 / 3, rel=1e-4)
    assert len(node.check.element) == 2  # an element of the (B, H) input the node saw
    assert "(backward / differences = 0.6667 there)" in "\n".join(node.describe(10))


@pytest.mark.parametrize("bug", list(PLANTED))
def test_a_wrong_backward_in_a_2_layer_transformer_is_named_with_its_layer(bug: str) -> None:
    fn, inputs = transformer_case(bug)
    report = gradcheck(fn, inputs, fast=True, localize=True, raise_exception=False)
    assert not report
    assert [n.op for n in report.localized.failed] == [PLANTED[bug][0].__name__]
    node = report.localized.failed[0]
    assert node.scope == ("Encoder", "layers.1", "feedforward", "planted")
    assert PLANTED_LINE in node.created_at and node.check.index == PLANTED[bug][1]


@pytest.mark.parametrize("case", [lambda: rnn_case(None), lambda: transformer_case(None)],
                         ids=["rnn", "transformer"])
def test_correct_models_report_nothing(case) -> None:
    fn, inputs = case()
    report = gradcheck(fn, inputs, fast=True, localize=True)
    assert report and report.localized is None and "localization" not in str(report)
    found = localize(fn, inputs)  # every node checked anyway: no false alarm on any op
    assert found.nodes > 50 and found.failed == [] and found.skipped == []


def test_an_lstm_layer_passes_node_by_node() -> None:
    rng = np.random.default_rng(2)
    lstm = LSTM(3, 4, num_layers=2, rng=rng).astype(np.float64)
    found = localize(lambda x: lstm(x)[0].sum(), [rng.normal(size=(5, 2, 3))])
    assert found.failed == [] and found.skipped == [] and found.projected > 0


@pytest.mark.parametrize("op, x, skipped", [
    (lambda x: x.relu(), [0.0, 1.5, -2.0], "Relu"),
    (lambda x: x.max(), [1.0, 3.0, 3.0], "Max"),
    (lambda x: x.abs(), [0.0, -1.0, 2.0], "Abs"),
    (lambda x: x.clip(-1.0, 1.0), [1.0, 0.5, -3.0], "Clip"),
    (lambda x: x.maximum(Tensor(np.array([0.0, 2.0, 1.0]))), [0.0, 1.0, 1.0], "Maximum"),
], ids=["relu-at-0", "max-tie", "abs-at-0", "clip-at-bound", "maximum-tie"])
def test_kinks_are_skipped_not_failed(op, x, skipped: str) -> None:
    def fn(x_: Tensor) -> Tensor:
        return (op(x_) * 1.5).sum() + (x_ * x_).sum()  # the kinked op sees the input exactly

    found = localize(fn, [np.array(x)])
    assert found.failed == []
    assert [n.op for n in found.skipped] == [skipped]
    node = found.skipped[0]
    assert node.status == "skipped" and "not differentiable at the point it saw" in node.reason
    assert node.check.slopes[0] != pytest.approx(node.check.slopes[1], abs=0.1)


def test_a_whole_function_kink_is_explained_and_its_node_skipped() -> None:
    report = gradcheck(lambda x: (x.relu() * 3.0).sum(), [np.array([0.0, 1.0])], localize=True,
                       raise_exception=False)
    assert not report and report.checks[0].kink == (0,)
    text = str(report)
    assert "not differentiable at this point (element (0,): one-sided differences 0 from the left, 3" in text
    assert report.localized.failed == [] and [n.op for n in report.localized.skipped] == ["Relu"]
    assert "SKIPPED node" in text and "check fn at another point" in text


def test_a_backward_that_raises_fails_its_node() -> None:
    class WrongShape(Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return grad.sum(axis=0)  # (2, 3) -> (3,): not the input's shape, and not a broadcast of it

    found = localize(lambda x: WrongShape.apply(x.T).sum(), [np.ones((3, 2))])
    assert [n.op for n in found.failed] == ["WrongShape"]
    assert "raised RuntimeError" in found.failed[0].reason and "cannot be summed" in found.failed[0].reason


def test_a_detach_that_cuts_the_gradient_is_explained_when_no_node_fails() -> None:
    report = gradcheck(lambda x: (x * x.detach()).sum(), [np.array([1.0, 2.0])], localize=True,
                       raise_exception=False)
    assert not report and report.localized.failed == []
    assert "where the value flows but the gradient does not (.detach()" in str(report)


def test_render_marks_the_guilty_node_of_another_run_of_the_same_model() -> None:
    fn, inputs = rnn_case("transpose", 4)
    report = gradcheck(fn, inputs, localize=True, raise_exception=False)
    loss = fn(*[Tensor(a, requires_grad=True) for a in inputs])  # the user's own run, drawn
    dot = graph.to_dot(loss, highlight=report)
    marked = [line for line in dot.splitlines() if "backward wrong" in line and "penwidth=4" in line]
    assert len(marked) == 1 and "MatMulSquare" in marked[0]  # the node itself, op by op
    assert "its backward disagrees with its own forward (gradcheck localize)" in dot
    boxed = graph.to_dot(loss, highlight=report, collapse=["*.t=*"])
    assert [line.split("\\n")[0].split('"')[-1] for line in boxed.splitlines() if "backward wrong" in line
            and "penwidth=4" in line] == ["t=4"]  # the collapsed time step that holds it
    assert "backward wrong" not in graph.to_dot(loss)


def test_render_marks_skipped_nodes_in_orange() -> None:
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    report = gradcheck(lambda x: (x.relu() * 3.0).sum(), [x.numpy()], localize=True, raise_exception=False)
    dot = graph.to_dot((x.relu() * 3.0).sum(), highlight=report)
    marked = [line for line in dot.splitlines() if 'color="#ff7f0e", penwidth=4' in line]
    assert len(marked) == 1 and "Relu" in marked[0] and "skipped: kink" in marked[0]
    assert "skipped: not differentiable at the point it saw" in dot


def test_the_demo_names_the_planted_cube_and_draws_it(tmp_path) -> None:
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "demos"))
    try:
        result = importlib.import_module("localize_bug").main(["--out", str(tmp_path)])
    finally:
        sys.path.pop(0)
    assert not result["passed"] and result["op"] == "Cube" and result["scope"] == ("rnn", "t=0")
    assert result["failed"] == 3 and result["ratio"] == pytest.approx(2 / 3, rel=1e-4)
    with open(result["path"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_command_checks_a_model_and_passes_when_it_is_right(capsys) -> None:
    from tinygrad_seq.nn.lm.cli import main

    assert main(["gradcheck", "--model", "gru", "--steps", "4", "--localize"]) == 0
    out = capsys.readouterr().out
    assert "an untrained gru model (hidden 8): gradcheck of the loss on 4 tokens" in out and "passed" in out
    assert "localization" not in out


def test_the_command_names_a_wrong_backward_in_a_model(capsys, monkeypatch) -> None:
    from tinygrad_seq import ops
    from tinygrad_seq.nn.lm.cli import main

    right = ops.MatMul.backward
    monkeypatch.setattr(ops.MatMul, "backward",  # (None for an input that needs no gradient stays None)
                        lambda self, grad: tuple(None if g is None else 2 * g for g in right(self, grad)))
    assert main(["gradcheck", "--model", "lstm", "--unfused", "--steps", "3", "--localize"]) == 1
    out = capsys.readouterr().out
    assert "FAILED node" in out and "op 'MatMul' in scope 'RecurrentLM/rnn/l0'" in out
    assert "look at MatMul.backward" in out
    assert "(backward / differences = 2 there)" in out
    assert main(["gradcheck", "--model", "lstm", "--unfused", "--steps", "3"]) == 1  # no --localize: no names
    assert "FAILED node" not in capsys.readouterr().out
