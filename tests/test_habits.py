"""Habits from PyTorch and NumPy: each works as it does there, or raises an error naming the spelling here."""

from __future__ import annotations

import operator
import re

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import Tensor, gradcheck, no_grad
from tinygrad_seq import functional as F
from tinygrad_seq.autograd import ShapeError
from tinygrad_seq.nn import (
    GRU,
    LSTM,
    Dropout,
    Embedding,
    LayerNorm,
    Linear,
    MultiheadAttention,
    TransformerEncoderLayer,
)

COMPARISONS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


# ------------------------------------------------------------------------------------------ comparisons


@pytest.mark.parametrize("op", COMPARISONS, ids=lambda op: op.__name__)
def test_comparisons_are_elementwise_boolean_tensors(op):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], dtype=np.float32)
    b = np.array([2.0, 2.0, 2.0], dtype=np.float32)
    x = Tensor(a, requires_grad=True)
    for other, expected in [(Tensor(b), op(a, b)), (b, op(a, b)), (2.0, op(a, 2.0))]:
        out = op(x, other)
        assert isinstance(out, Tensor) and out.dtype == bool and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), expected)
    reflected = op(b, x)  # ndarray on the left: NumPy hands the comparison to the Tensor
    assert isinstance(reflected, Tensor)
    np.testing.assert_array_equal(reflected.numpy(), op(b, a))


def test_tensors_hash_by_identity_so_dicts_and_sets_still_work():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert len({a, b, a}) == 2
    assert a in [a]  # the same object is found without comparing values
    with pytest.raises(TypeError, match=r"needs exactly one element.*shape \(2,\)"):
        _ = a in [b]  # a list of other tensors is compared elementwise, as in torch: ambiguous


def test_accuracy_as_in_pytorch():
    pred = Tensor(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])).argmax(axis=1)
    y = Tensor(np.array([1, 0, 0]))
    assert (pred == y).numpy().tolist() == [True, True, False]
    assert float((pred == y).astype(np.float32).mean()) == pytest.approx(2 / 3)


# ------------------------------------------------------------------------------- Python number protocols


def test_one_element_tensors_convert_and_format_like_numbers():
    loss, best = Tensor(1.23456), Tensor([[2.0]])
    assert float(loss) == pytest.approx(1.23456) and int(Tensor(7.9)) == 7
    assert f"{loss:.3f}" == "1.235" and f"{best:g}" == "2"
    assert f"{loss}" == str(loss) == repr(loss)
    assert loss < best  # `if loss < best:`
    assert bool(Tensor([0.0])) is False
    assert Tensor(3) and not Tensor(False)


@pytest.mark.parametrize("convert", [bool, float, int, lambda t: f"{t:.2f}"],
                         ids=["bool", "float", "int", "format"])
def test_several_elements_refuse_to_become_one_number(convert):
    with pytest.raises(TypeError, match=r"needs exactly one element, but this one has shape \(2, 2\)"):
        convert(Tensor(np.ones((2, 2))))


def test_numpy_and_matplotlib_read_tensors_through_array():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(np.asarray(t), t.numpy())
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    copied = np.array(t, copy=True)
    copied[0, 0] = 99
    assert t.numpy()[0, 0] == 0
    assert np.asarray(t).mean() == pytest.approx(2.5)
    figure = pytest.importorskip("matplotlib.figure")
    ax = figure.Figure().subplots()
    (line,) = ax.plot(Tensor([1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(line.get_ydata(), [1.0, 3.0, 2.0])


# ----------------------------------------------------------------------------------------- in place


@pytest.mark.parametrize("symbol, op", [("+=", np.add), ("-=", np.subtract), ("*=", np.multiply),
                                        ("/=", np.true_divide)])
def test_in_place_under_no_grad_writes_into_the_weights(symbol, op):
    p = Tensor(np.array([1.0, 2.0, 4.0]), requires_grad=True)
    (p * p).sum().backward()
    array, version, expected = p.numpy(), p._version, op(p.numpy(), 0.5 * p.grad.numpy())
    name = p
    with no_grad():
        exec(f"p {symbol} 0.5 * p.grad", {}, scope := {"p": p})
    p = scope["p"]
    assert p is name and p.numpy() is array  # the same tensor and array: written, not rebound
    np.testing.assert_allclose(p.numpy(), expected)
    assert p._version == version + 1 and p.requires_grad


def test_in_place_on_a_tensor_without_grad_needs_no_no_grad():
    x = Tensor(np.zeros(3, dtype=np.float32))
    x += 1
    x *= Tensor([1.0, 2.0, 3.0])
    x -= np.array([0.5, 0.5, 0.5])
    x /= 2
    np.testing.assert_allclose(x.numpy(), [0.25, 0.75, 1.25])
    assert x.dtype == np.float32 and x._version == 4


def test_in_place_on_a_leaf_that_requires_grad_raises_as_in_torch():
    p = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"-=: a leaf Variable that requires grad is being used in an "
                                           r"in-place operation.*with no_grad\(\):"):
        p -= 0.1
    np.testing.assert_array_equal(p.numpy(), [1.0, 2.0])


@pytest.mark.parametrize("symbol", ["+=", "-=", "*=", "/="])
def test_in_place_on_a_tensor_inside_a_graph_raises_naming_the_rebinding(symbol):
    # PyTorch writes into y (every name for y sees it); here that would lose the graph, and a new tensor
    # would leave other names with the old values: so it raises instead of differing silently
    p = Tensor([1.0, 2.0], requires_grad=True)
    y = p * 2
    alias = y
    with pytest.raises(RuntimeError, match=rf"{re.escape(symbol)} on a tensor inside a graph: write "
                                           rf"`x = x {re.escape(symbol[0])} y`"):
        exec(f"y {symbol} p", {}, {"y": y, "p": p})
    np.testing.assert_array_equal(alias.numpy(), [2.0, 4.0])
    c = Tensor([1.0, 1.0])  # no grad of its own, but the operand has one
    with pytest.raises(RuntimeError, match="inside a graph"):
        c *= p
    y = y * p  # what to write: recorded, the gradient right
    y.sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [4.0, 8.0])  # d(2p^2)/dp


def test_in_place_after_the_forward_pass_is_caught_by_backward():
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with no_grad():
        w -= 1.0
    with pytest.raises(RuntimeError, match="modified in place after the forward pass"):
        loss.backward()


def test_in_place_that_cannot_fit_names_the_shapes():
    x = Tensor(np.zeros(3))
    with pytest.raises(ShapeError, match=r"\+=: cannot write the result for shapes \(3,\) and \(2, 3\)"):
        x += np.ones((2, 3))
    ids = Tensor(np.array([1, 2, 3]))
    with pytest.raises(ShapeError, match="/="):
        ids /= 2


# ----------------------------------------------------------------------------------------- transpose


def test_transpose_with_two_axes_raises_where_numpy_and_torch_differ():
    x2, x3 = Tensor(np.arange(6.0).reshape(2, 3)), Tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(x2.transpose(1, 0).numpy(), x2.numpy().T)  # both mean "swap"
    np.testing.assert_array_equal(x2.transpose(-1, -2).numpy(), x2.numpy().T)
    for x, axes in [(x2, (0, 1)), (x2, (-2, -1)), (x3, (0, 1)), (x3, (1, 2)), (x2, (0, 0))]:
        with pytest.raises(ValueError, match=r"swapaxes\(.*x\.T.*permute") as info:
            x.transpose(*axes)
        assert f"transpose({axes[0]}, {axes[1]}) on a {x.ndim}-D tensor" in str(info.value)
    np.testing.assert_array_equal(x2.permute(0, 1).numpy(), x2.numpy())  # permute lists every axis
    np.testing.assert_array_equal(x3.transpose(0, 2, 1).numpy(), x3.numpy().transpose(0, 2, 1))
    np.testing.assert_array_equal(x3.transpose((1, 0, 2)).numpy(), x3.numpy().transpose(1, 0, 2))
    np.testing.assert_array_equal(x3.swapaxes(0, 1).numpy(), np.swapaxes(x3.numpy(), 0, 1))
    np.testing.assert_array_equal(x3.T.numpy(), x3.numpy().T)
    assert gradcheck(lambda t: t.swapaxes(0, 2) * Tensor(np.arange(24.0).reshape(4, 3, 2)),
                     [np.random.default_rng(0).normal(size=(2, 3, 4))])


# --------------------------------------------------------------------------------------- dim, keepdim

REDUCING = ["sum", "mean", "var", "max", "min", "logsumexp", "softmax", "log_softmax", "argmax", "squeeze",
            "expand_dims", "flip"]


@pytest.mark.parametrize("method", REDUCING)
def test_dim_and_keepdim_raise_naming_axis_and_keepdims(method):
    x = Tensor(np.ones((2, 1, 3)))
    with pytest.raises(TypeError, match=rf"{method}: dim= is PyTorch's name; here it is NumPy's axis="):
        getattr(x, method)(dim=1)
    if method in ("sum", "mean", "var", "max", "min", "logsumexp"):
        with pytest.raises(TypeError, match=rf"{method}: keepdim= is PyTorch's name; here it is NumPy's "
                                            r"keepdims="):
            getattr(x, method)(axis=1, keepdim=True)
        ddof = {"ddof": 0} if method == "var" else {}
        assert getattr(x, method)(axis=1, keepdims=True, **ddof).shape == (2, 1, 3)
    with pytest.raises(TypeError, match=rf"{method}\(\) got an unexpected keyword argument 'axes'"):
        getattr(x, method)(axes=1)


def test_dim_raises_in_functions_too():
    x = Tensor(np.ones((2, 3)))
    for call in (lambda: F.softmax(x, dim=-1), lambda: F.log_softmax(x, dim=-1),
                 lambda: ts.concatenate([x, x], dim=0), lambda: ts.stack([x, x], dim=0),
                 lambda: x.split(3, dim=1)):
        with pytest.raises(TypeError, match="dim= is PyTorch's name; here it is NumPy's axis="):
            call()


# ----------------------------------------------------------------------------------------- seeding


@pytest.mark.parametrize("build", [
    lambda: Linear(4, 3), lambda: Embedding(5, 4), lambda: LSTM(3, 4, num_layers=2), lambda: GRU(3, 4),
    lambda: MultiheadAttention(4, 2), lambda: TransformerEncoderLayer(4, 2, 8), lambda: LayerNorm(4),
], ids=["Linear", "Embedding", "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer", "LayerNorm"])
def test_manual_seed_seeds_every_layer_built_without_rng(build):
    ts.manual_seed(0)
    first = [p.numpy().copy() for p in build().parameters()]
    ts.manual_seed(0)
    again = [p.numpy().copy() for p in build().parameters()]
    other = [p.numpy().copy() for p in build().parameters()]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    if any(a.std() > 0 for a in first):  # LayerNorm starts at ones and zeros: nothing random to differ
        assert any(not np.array_equal(a, c) for a, c in zip(first, other, strict=True))


def test_manual_seed_repeats_randn_and_the_masks_of_a_dropout_built_earlier():
    drop = Dropout(0.5)
    x = Tensor(np.ones((4, 8)))
    ts.manual_seed(3)
    masks, noise = drop(x).numpy().copy(), ts.randn(3).numpy().copy()
    ts.manual_seed(3)
    np.testing.assert_array_equal(drop(x).numpy(), masks)
    np.testing.assert_array_equal(ts.randn(3).numpy(), noise)
    seeded = Linear(4, 3, rng=np.random.default_rng(1)).weight.numpy()  # an explicit rng still wins
    np.testing.assert_array_equal(seeded, Linear(4, 3, rng=1).weight.numpy())


# ----------------------------------------------------------------------------------------- submodules


def test_nn_graph_and_testing_are_reachable_from_the_package():
    assert ts.nn.Linear is Linear
    assert callable(ts.graph.to_dot) and callable(ts.testing.tensors)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ts.nope


def test_every_public_tensor_method_and_property_has_a_one_line_docstring():
    missing = []
    for name, value in vars(Tensor).items():
        if name.startswith("_") and name not in ("__getitem__", "__eq__", "__ne__", "__lt__", "__add__"):
            continue
        doc = value.__doc__ if isinstance(value, property) or callable(value) else "not a method"
        if not doc or not doc.strip().splitlines()[0].strip():
            missing.append(name)
    assert missing == []
