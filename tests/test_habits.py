"""Habits from PyTorch and NumPy: each works as it does there, or raises an error naming the spelling here."""

from __future__ import annotations

import operator
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import Tensor, gradcheck, habits, no_grad
from tinygrad_seq import functional as F
from tinygrad_seq.autograd import ShapeError
from tinygrad_seq.nn import Linear

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
def test_in_place_in_a_graph_changes_the_tensor_for_every_name_with_the_gradient_of_a_new_one(symbol):
    # as torch: y itself becomes y op p (a new node, its old history behind it), so every alias sees the
    # new value, and the gradient is that of writing `y = y op p`
    def run(in_place: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = Tensor([1.0, 2.0, 4.0], requires_grad=True)
        y = p * 3
        holder = {"alias": y}
        if in_place:
            exec(f"y {symbol} p", {}, {"y": y, "p": p})
        else:
            y = eval(f"y {symbol[0]} p", {}, {"y": y, "p": p})
            holder["alias"] = y
        assert holder["alias"] is y and y.grad_fn is not None
        (holder["alias"] * holder["alias"]).sum().backward()
        return y.numpy(), p.grad.numpy(), holder["alias"].numpy()

    value, grad, seen = run(in_place=True)
    new_value, new_grad, _ = run(in_place=False)
    np.testing.assert_allclose(value, new_value)
    np.testing.assert_allclose(seen, new_value)  # the alias sees the new value
    np.testing.assert_allclose(grad, new_grad)


def test_in_place_in_a_graph_keeps_the_object_its_dtype_and_a_version_bump():
    p = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = p * 2
    obj, version = y, y._version
    y += Tensor(np.array([0.5, 0.5]), requires_grad=True)  # float64 operand: y stays float32, as in place
    assert y is obj and y._version == version + 1 and y.dtype == np.float32
    y += y  # reads the old y twice: y = 2 * (2p + 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), [5.0, 9.0])
    np.testing.assert_array_equal(p.grad.numpy(), [4.0, 4.0])
    with pytest.raises(ShapeError, match=r"\+=: cannot write the result \(\(2, 2\), float32\)"):
        y += Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)


def test_an_op_that_read_the_tensor_before_an_in_place_change_refuses_to_backward():
    p = Tensor([1.0, 2.0], requires_grad=True)
    y = p * 2
    earlier = y * y  # read y's old value
    y += 1
    later = (y * p).sum()
    later.backward()  # what was built after the change is fine
    np.testing.assert_array_equal(p.grad.numpy(), [5.0, 9.0])  # d(p(2p + 1))/dp = 4p + 1
    with pytest.raises(RuntimeError, match=r"op 'Mul' .*: input 0 \(shape \(2,\)\) was modified in place "
                                           r"after the forward pass \(version 0 -> 1\)"):
        earlier.sum().backward()
    h = p * 3
    h += h * 2  # the operand read h before the change: backward reaches that op and refuses, never loops
    with pytest.raises(RuntimeError, match="modified in place after the forward pass"):
        h.sum().backward()


def test_in_place_in_a_graph_keeps_a_double_backward():
    x = Tensor([0.5, -1.0], requires_grad=True)
    h = x * x
    h *= x  # x ** 3
    (g,) = ts.autograd.grad(h.sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    (gg,) = ts.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy())


def test_in_place_on_a_fresh_tensor_in_a_graph_is_recorded_as_in_pytorch():
    p = Tensor([1.0, 2.0], requires_grad=True)
    y = p * 2
    y *= p  # recorded as y * p
    assert y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [4.0, 8.0])  # d(2p^2)/dp
    c = Tensor([1.0, 1.0])  # no grad of its own, but the operand has one: recorded, never dropped
    c *= p
    assert c.requires_grad and c.grad_fn is not None

    class Holder:
        """Any object whose attribute holds the tensor."""

    holder = Holder()
    holder.h = p * 2  # an attribute is one name, as a local variable is
    holder.h += 1
    np.testing.assert_array_equal(holder.h.numpy(), [3.0, 5.0])


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


# ------------------------------------------------------------------------------ the idioms, one row each
# Every everyday PyTorch idiom, written as a PyTorch user would (with `ts` for torch): it works as in
# torch (WORKS: the check after it holds), or it raises an error naming the spelling here (RAISES: the
# pattern). None differs silently: the seven that did are marked "silent before".


def habitat() -> dict:
    """The names an idiom may use: a tensor that requires grad, one that does not, a model, an optimizer."""
    ts.manual_seed(0)
    from tinygrad_seq import nn

    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    logits = Tensor(np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32), requires_grad=True)
    return {"ts": ts, "np": np, "nn": nn, "F": F, "Tensor": Tensor, "optim": nn.optim,
            "x": Tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True),
            "a": Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)),
            "w": Tensor(np.ones((4, 2), dtype=np.float32)), "logits": logits,
            "y": Tensor(np.array([0, 2, 1, 4])),
            "model": model, "opt": nn.optim.SGD(model.parameters(), lr=0.1), "Module": nn.Module}


WORKS = [  # (the idiom, the code here, what must hold afterwards)
    ("torch.zeros(3, 4)", "t = ts.zeros(3, 4)", "t.shape == (3, 4) and t.dtype == np.float32"),
    ("torch.zeros((3, 4))", "t = ts.zeros((3, 4))", "t.shape == (3, 4)"),
    ("torch.ones_like(x)", "t = ts.ones_like(x)", "t.shape == x.shape and not t.requires_grad"),
    ("torch.randn(2, 3)", "t = ts.randn(2, 3)", "t.shape == (2, 3) and t.dtype == np.float32"),
    ("torch.rand(2, 3)", "t = ts.rand(2, 3)", "t.shape == (2, 3) and 0 <= t.numpy().min()"),
    ("torch.arange(5) (integers)", "t = ts.arange(5)",
     "t.dtype == np.int64 and t.tolist() == [0, 1, 2, 3, 4]"),
    ("torch.arange(0, 1, 0.25)", "t = ts.arange(0, 1, 0.25)", "t.dtype == np.float32 and len(t) == 4"),
    ("torch.eye(3)", "t = ts.eye(3)", "t.numpy().trace() == 3"),
    ("torch.full((2, 2), 7.0)", "t = ts.full((2, 2), 7.0)", "t.tolist() == [[7, 7], [7, 7]]"),
    ("torch.manual_seed(0)", "ts.manual_seed(0); t = ts.randn(2); ts.manual_seed(0)",
     "np.array_equal(t.numpy(), ts.randn(2).numpy())"),
    ("torch.stack([a, a])", "t = ts.stack([a, a])", "t.shape == (2, 2, 3)"),
    ("torch.where(x > 5, x, 0.0)", "t = ts.where(x > 5, x, 0.0)", "t.requires_grad and t.numpy()[0, 0] == 0"),
    ("torch.matmul(a, a.T)", "t = ts.matmul(a, a.T)", "t.shape == (2, 2)"),
    ("x.shape", "s = x.shape", "s == (3, 4)"),
    ("x.ndim", "n = x.ndim", "n == 2"),
    ("x.dtype", "d = x.dtype", "d == np.float32"),
    ("len(x)", "n = len(x)", "n == 3"),
    ("x.sum().item()", "v = x.sum().item()", "v == 66"),
    ("x.tolist()", "v = a.tolist()", "v == [[0, 1, 2], [3, 4, 5]]"),
    ("x.detach().numpy()", "v = x.detach().numpy()", "isinstance(v, np.ndarray) and v.shape == (3, 4)"),
    ("x.detach()", "t = x.detach()", "not t.requires_grad and t.grad_fn is None"),
    ("x.reshape(4, 3)", "t = x.reshape(4, 3)", "t.shape == (4, 3) and t.requires_grad"),
    ("x.reshape(-1)", "t = x.reshape(-1)", "t.shape == (12,)"),
    ("x.flatten()", "t = x.flatten()", "t.shape == (12,) and t.requires_grad"),
    ("x.squeeze()", "t = a[None].squeeze()", "t.shape == (2, 3)"),
    ("x.permute(1, 0)", "t = x.permute(1, 0)", "t.shape == (4, 3)"),
    ("x.T", "t = x.T", "t.shape == (4, 3)"),
    ("x.transpose(1, 0) on 2-D", "t = x.transpose(1, 0)", "t.shape == (4, 3)"),
    ("x[None]", "t = x[None]", "t.shape == (1, 3, 4)"),
    ("x[:, 0]", "t = x[:, 0]", "t.tolist() == [0, 4, 8]"),
    ("x[x > 5]", "t = x[x > 5]", "t.shape == (6,) and t.requires_grad"),
    ("logp[torch.arange(N), y]", "t = F.log_softmax(logits, axis=-1)[ts.arange(4), y]",
     "t.shape == (4,) and t.requires_grad"),
    ("x.sum()", "t = x.sum()", "t.item() == 66"),
    ("x.sum(1)", "t = x.sum(1)", "t.tolist() == [6, 22, 38]"),
    ("x.mean(0)", "t = x.mean(0)", "t.tolist() == [4, 5, 6, 7]"),
    ("x.max()", "t = x.max()", "t.item() == 11"),
    ("x.max(1) (values)", "t = x.max(1)", "t.tolist() == [3, 7, 11]"),
    ("x.argmax(1)", "t = x.argmax(1)", "t.tolist() == [3, 3, 3]"),
    ("x.min(0)", "t = x.min(0)", "t.tolist() == [0, 1, 2, 3]"),
    ("x.logsumexp(1)", "t = x.logsumexp(1)", "t.shape == (3,)"),
    ("x.softmax(-1)", "t = x.softmax(-1)", "np.allclose(t.numpy().sum(-1), 1)"),
    ("x.abs().exp().log()", "t = x.abs().exp().log()", "np.allclose(t.numpy(), x.numpy())"),
    ("x.relu(), x.sigmoid(), x.tanh()", "t = x.relu() + x.sigmoid() + x.tanh()", "t.requires_grad"),
    ("x.clip(0, 1)", "t = x.clip(0, 1)", "t.numpy().max() == 1"),
    ("x.masked_fill(mask, 0)", "t = x.masked_fill(x > 5, 0.0)", "t.numpy().max() == 5"),
    ("x.maximum(y)", "t = x.maximum(Tensor(5.0))", "t.numpy().min() == 5"),
    ("x ** 2, x @ w", "t = (x ** 2) @ w", "t.shape == (3, 2)"),
    ("x.std(ddof=1) (say which)", "t = x.std(ddof=1)", "np.isclose(t.item(), np.std(x.numpy(), ddof=1))"),
    ("x.var(ddof=0) (say which)", "t = x.var(ddof=0)", "np.isclose(t.item(), np.var(x.numpy()))"),
    ("x.split(sections=2) (NumPy's meaning, by keyword)", "parts = x.split(sections=2, axis=1)",
     "[p.shape for p in parts] == [(3, 2), (3, 2)]"),
    ("x.copy() (torch's clone)", "t = x.copy(); t.sum().backward()",
     "t is not x and np.array_equal(x.grad.numpy(), np.ones((3, 4)))"),
    ("loss.backward(); x.grad", "(x * x).sum().backward()", "np.array_equal(x.grad.numpy(), 2 * x.numpy())"),
    ("x.requires_grad_()", "t = a.requires_grad_()", "t is a and a.requires_grad"),
    ("with torch.no_grad():", "with ts.no_grad():\n    t = x * 2", "not t.requires_grad"),
    ("@torch.no_grad()", "@ts.no_grad()\ndef f(v):\n    return v * 2\nt = f(x)", "not t.requires_grad"),
    ("@torch.no_grad (no parentheses)", "@ts.no_grad\ndef f(v):\n    return v * 2\nt = f(x)",
     "not t.requires_grad and ts.is_grad_enabled()"),
    ("torch.enable_grad()", "with ts.no_grad():\n    with ts.enable_grad():\n        t = x * 2",
     "t.requires_grad"),
    ("x.is_leaf, x.grad_fn", "t = x * 2", "x.is_leaf and not t.is_leaf and t.grad_fn is not None"),
    ("x.retain_grad()", "t = (x * 2).retain_grad(); t.sum().backward()", "t.grad is not None"),
    ("torch.autograd.grad(y, [x])", "(g,) = ts.autograd.grad((x * x).sum(), [x])",
     "np.array_equal(g.numpy(), 2 * x.numpy())"),
    ("with no_grad(): p -= lr * p.grad",
     "(x * x).sum().backward()\nwith ts.no_grad():\n    x -= 0.5 * x.grad",
     "np.array_equal(x.numpy(), np.zeros((3, 4)))"),
    ("p.data", "d = x.data", "d is x.numpy()"),
    ("h = x @ w; h += 1", "h = x @ w\nh += 1",
     "h.requires_grad and h.numpy()[0, 0] == 7"),
    ("h += x in a graph, h held by another name (silent before)", "h = x * 2\nalias = h\nh += 1",
     "alias is h and alias.numpy()[0, 0] == 1 and alias.grad_fn is not None"),
    ("np.exp(x) (a ufunc with an op here)", "t = np.exp(x)", "isinstance(t, Tensor) and t.requires_grad"),
    ("ndarray + x", "t = np.ones(4) + x", "isinstance(t, Tensor) and t.requires_grad"),
    ("np.asarray(x)", "v = np.asarray(x)", "v is x.numpy()"),
    ("np.mean(t) without grad", "v = np.mean(a)", "v == 2.5"),
    ("float(loss), f'{loss:.3f}'", "v = f'{x.sum():.1f}'", "v == '66.0'"),
    ("nn.Linear(4, 3)", "m = nn.Linear(4, 3)", "m(x).shape == (3, 3)"),
    ("nn.Sequential(nn.Linear, nn.ReLU(), nn.Linear)", "t = model(x)",
     "t.shape == (3, 2) and t.requires_grad"),
    ("nn.Tanh(), nn.Sigmoid()", "t = nn.Sequential(nn.Tanh(), nn.Sigmoid())(x)", "0 < t.numpy().min()"),
    ("nn.GELU(approximate='tanh')", "t = nn.GELU(approximate='tanh')(x)",
     "np.allclose(t.numpy(), F.gelu(x).numpy())"),
    ("model.parameters()", "ps = list(model.parameters())", "len(ps) == 4"),
    ("model.train(), model.eval()", "m = model.eval()", "m is model and not model.training"),
    ("model.state_dict() (silent before: copies)", "sd = model.state_dict()",
     "sd['0.bias'] is model[0].bias.numpy()"),
    ("state_dict() sees an optimizer step", "sd = model.state_dict(); before = sd['0.bias'].copy()\n"
     "model(x).sum().backward(); opt.step()", "not np.array_equal(sd['0.bias'], before)"),
    ("model.load_state_dict(sd)", "sd = {k: v + 1 for k, v in model.state_dict().items()}\n"
     "model.load_state_dict(sd)", "np.array_equal(model.state_dict()['0.bias'], sd['0.bias'])"),
    ("nn.CrossEntropyLoss()(logits, y)", "t = nn.CrossEntropyLoss()(logits, y)",
     "t.shape == () and t.requires_grad"),
    ("F.cross_entropy(logits, y)", "t = ts.nn.functional.cross_entropy(logits, y)", "t.requires_grad"),
    ("nn.MSELoss()", "t = nn.MSELoss()(x, ts.zeros(3, 4))", "t.requires_grad"),
    ("nn.Dropout(0.1)", "t = nn.Dropout(0.1).eval()(x)", "np.array_equal(t.numpy(), x.numpy())"),
    ("nn.LSTM(4, 8, batch_first=True)", "out, (h, c) = nn.LSTM(4, 8, batch_first=True)(x[None])",
     "out.shape == (1, 3, 8) and h.shape == (1, 1, 8)"),
    ("nn.Embedding(10, 4)", "t = nn.Embedding(10, 4)(y)", "t.shape == (4, 4)"),
    ("nn.LayerNorm(4)", "t = nn.LayerNorm(4)(x)", "np.allclose(t.numpy().mean(-1), 0, atol=1e-5)"),
    ("nn.utils.clip_grad_norm_(params, 1.0)", "model(x).sum().backward()\n"
     "n = nn.utils.clip_grad_norm_(model.parameters(), 1.0)", "n > 0"),
    ("nn.init.xavier_uniform_(w)", "t = nn.init.xavier_uniform_(ts.zeros(4, 4))", "t.numpy().std() > 0"),
    ("opt.zero_grad(); loss.backward(); opt.step()",
     "opt.zero_grad(); model(x).sum().backward(); opt.step()", "model[0].weight.grad is not None"),
    ("optim.Adam(model.parameters(), lr=1e-3)", "o = optim.Adam(model.parameters(), lr=1e-3)",
     "o.lr == 1e-3"),
    ("optim.StepLR (torch: optim.lr_scheduler.StepLR)", "s = optim.StepLR(opt, 10)", "s.get_lr() == 0.1"),
]

RAISES = [  # (the idiom, the code here, the error's pattern naming the spelling here)
    ("torch.tensor([1, 2])", "ts.tensor([1, 2])", r"is a module.*Tensor\(\[1, 2\]\) here"),
    ("torch.from_numpy(a)", "ts.from_numpy(np.ones(2))", r"Tensor\(a\) here"),
    ("torch.cat([a, b], dim=1)", "ts.cat([a, a], dim=1)", r"ts\.concatenate\(\[a, b\], axis=1\)"),
    ("torch.empty(3, 4)", "ts.empty(3, 4)", r"ts\.zeros\(3, 4\)"),
    ("torch.linspace(0, 1, 5)", "ts.linspace(0, 1, 5)", r"np\.linspace"),
    ("x.float()", "x.float()", r"x\.astype\(np\.float32\)"),
    ("x.double()", "x.double()", r"x\.astype\(np\.float64\)"),
    ("x.long()", "y.long()", r"x\.astype\(np\.int64\)"),
    ("x.to(device)", "x.to('cpu')", r"x\.astype\(np\.float64\).*no devices"),
    ("x.cuda()", "x.cuda()", r"no GPU"),
    ("x.cpu()", "x.cpu()", r"drop \.cpu\(\)"),
    ("x.device", "x.device", r"no devices"),
    ("x.size() (misleading before)", "x.size()", r"x\.size is an int here \(12.*x\.shape"),
    ("x.size(1)", "x.size(1)", r"x\.shape\[1\]"),
    ("x.size == (3, 4) (silent before)", "x.size == (3, 4)", r"compare x\.shape"),
    ("x.numel()", "x.numel()", r"x\.size here"),
    ("x.dim()", "x.dim()", r"x\.ndim here"),
    ("x.view(2, 3)", "x.view(4, 3)", r"x\.reshape\(2, 3\) here"),
    ("x.unsqueeze(0)", "x.unsqueeze(0)", r"x\.expand_dims\(0\) or x\[None\]"),
    ("x.expand(3, 4)", "x[0].expand(3, 4)", r"x\.broadcast_to\(\(3, 4\)\)"),
    ("x.repeat(2, 1)", "x.repeat(2, 1)", r"ts\.concatenate\(\[x, x\], axis=0\)"),
    ("x.t()", "x.t()", r"x\.T here"),
    ("x.contiguous()", "x.contiguous()", r"drop \.contiguous\(\)"),
    ("x.flatten(1)", "x[None].flatten(1)", r"x\.reshape\(len\(x\), -1\)"),
    ("x.chunk(3, dim=1)", "x.chunk(2, 1)", r"x\.split\(sections=3, axis=1\)"),
    ("x.transpose(0, 1) on 3-D", "x[None].transpose(0, 1)", r"x\.swapaxes\(0, 1\)"),
    ("v, i = x.max(1) (silent before)", "v, i = x.max(1)", r"x\.argmax\(axis=1\)"),
    ("v, i = x.max(1) on a batch of 2 (silent before)", "v, i = a.max(1)", r"x\.argmax\(axis=1\)"),
    ("v, i = x.min(1)", "v, i = x[:2].min(1)", r"x\.argmin|argmax"),
    ("x.split(2, dim=1) positional (silent before)", "x.split(2, axis=1)",
     r"length of each part.*x\.split\(sections=2, axis=1\) for 2 parts, or x\.split\(sections=2, axis=1\)"),
    ("x.split(2) on a width of 6 (silent before)", "ts.zeros(2, 6).split(2, axis=1)",
     r"x\.split\(sections=2, axis=1\) for 2 parts, or x\.split\(sections=3, axis=1\) for parts of length 2"),
    ("x.split(2, 1) (PyTorch's split_size, dim)", "ts.zeros(2, 6).split(2, 1)",
     r"on axis 1 of length 6.*x\.split\(sections=3, axis=1\) for parts of length 2"),
    ("x.split([1, 3]) (silent before)", "x.split([1, 3], axis=1)",
     r"x\.split\(indices=\[1\], axis=1\) for parts of lengths \[1, 3\]"),
    ("x.var() (silent before)", "x.var()", r"x\.var\(ddof=1\) here \(NumPy divides by n \(ddof=0\)"),
    ("x.var(unbiased=False)",
     "x.var(unbiased=False)", r"unbiased= is PyTorch's name; here it is NumPy's ddof="),
    ("x.std()", "x.std()", r"x\.std\(ddof=1\)"),
    ("x.sum(dim=1)", "x.sum(dim=1)", r"dim= is PyTorch's name; here it is NumPy's axis="),
    ("x.sum(1, keepdim=True)", "x.sum(1, keepdim=True)", r"keepdims="),
    ("F.softmax(x, dim=-1)", "F.softmax(x, dim=-1)", r"axis="),
    ("x.clamp(0, 1)", "x.clamp(0, 1)", r"x\.clip\(0, 1\)"),
    ("x.pow(2)", "x.pow(2)", r"x \*\* 2"),
    ("x.add(y), x.mul(y)", "x.add(x)", r"x \+ y"),
    ("x.matmul(w)", "x.matmul(w)", r"x @ y"),
    ("x.mm(w)", "x.mm(w)", r"x @ y"),
    ("x.norm()", "x.norm()", r"\(x \* x\)\.sum\(\)\.sqrt\(\)"),
    ("x.clone()", "x.clone()", r"x\.copy\(\)"),
    ("x.argmin(1)", "x.argmin(1)", r"\(-x\)\.argmax\(axis=1\)"),
    ("p.sub_(lr * p.grad)", "x.sub_(1)", r"p -= lr \* p\.grad"),
    ("x.grad.zero_()", "x.zero_()", r"x\.grad = None"),
    ("x.fill_(0.5)", "x.fill_(0.5)", r"x\[\.\.\.\] = 0\.5"),
    ("x.copy_(y)", "x.copy_(a)", r"x\[\.\.\.\] = y"),
    ("w.uniform_(-a, a)", "w.uniform_(-1, 1)", r"nn\.init\.uniform_"),
    ("torch.sigmoid(x)", "ts.sigmoid(x)", r"x\.sigmoid\(\) here"),
    ("torch.exp(x)", "ts.exp(x)", r"x\.exp\(\) here"),
    ("torch.softmax(x, dim=-1)", "ts.softmax(x, -1)", r"F\.softmax\(x, axis=-1\)"),
    ("torch.sum(x, dim=1)", "ts.sum(x, 1)", r"x\.sum\(axis=1\)"),
    ("torch.max(x, dim=1)", "ts.max(x, 1)", r"x\.max\(axis=1\), x\.argmax\(axis=1\)"),
    ("torch.clamp(x, 0, 1)", "ts.clamp(x, 0, 1)", r"x\.clip\(0, 1\)"),
    ("dtype=torch.float32", "ts.zeros(2, dtype=ts.float32)", r"dtype=np\.float32"),
    ("dtype=torch.long", "ts.long", r"dtype=np\.int64"),
    ("torch.device('cpu')", "ts.device('cpu')", r"no devices"),
    ("torch.cuda.is_available()", "ts.cuda.is_available()", r"no devices"),
    ("torch.save(model.state_dict(), path)", "ts.save(model.state_dict(), 'm.pt')", r"model\.save\(path\)"),
    ("model.load_state_dict(torch.load(path))", "ts.load('m.pt')", r"model\.load\(path\)"),
    ("torch.optim.Adam(...)", "ts.optim.Adam(model.parameters())", r"ts\.nn\.optim\.Adam"),
    ("torch.allclose(a, b)", "ts.allclose(a, a)", r"np\.allclose\(a\.numpy\(\), b\.numpy\(\)\)"),
    ("np.clip(x, 0, 1) on a grad tensor (silent before)", "np.clip(x, 0, 1)",
     r"would return a plain array and drop the graph.*write x\.clip\(0, 1\)"),
    ("np.where(c, x, y) on a grad tensor (silent before)",
     "np.where(x > 1, x, 0)", r"write ts\.where\(c, x, y\)"),
    ("np.dot(x, y) on a grad tensor (silent before)", "np.dot(x, w)", r"write x @ y"),
    ("np.mean(x) on a grad tensor", "np.mean(x)", r"write x\.mean\(\)"),
    ("np.sin(x) (bare before)", "np.sin(x)", r"np\.sin on a tensor that requires grad.*no sin op here"),
    ("nn.Softmax(dim=-1)", "nn.Softmax(dim=-1)", r"F\.softmax\(x, axis=-1\) in forward"),
    ("nn.Flatten()", "nn.Flatten()", r"x\.reshape\(len\(x\), -1\)"),
    ("nn.BatchNorm1d(n)", "nn.BatchNorm1d(4)", r"nn\.LayerNorm\(n\)"),
    ("nn.Conv1d", "nn.Conv1d(1, 1, 3)", r"no convolutions"),
    ("nn.GELU() (the erf form)", "nn.GELU()", r"approximate='tanh'"),
    ("nn.CrossEntropyLoss(label_smoothing=0.1)", "nn.CrossEntropyLoss(label_smoothing=0.1)",
     r"label_smoothing.*F\.log_softmax\(z, axis=-1\)"),
    ("nn.CrossEntropyLoss(weight=w)", "nn.CrossEntropyLoss(weight=ts.ones(5))", r"reduction='none'"),
    ("optim.lr_scheduler.StepLR(opt, 10)", "optim.lr_scheduler.StepLR(opt, 10)", r"optim\.StepLR\(opt, 10\)"),
    ("optim.RMSprop(...)", "optim.RMSprop(model.parameters())", r"SGD, Adam, AdamW"),
    ("model.to(device)", "model.to('cpu')", r"model\.astype\(np\.float64\)"),
    ("model.cuda()", "model.cuda()", r"no GPU"),
    ("model.double()", "model.double()", r"model\.astype\(np\.float64\)"),
]


@pytest.mark.parametrize("idiom, code, check", WORKS, ids=[w[0] for w in WORKS])
def test_idioms_that_work_as_in_pytorch(idiom, code, check):
    names = habitat()
    exec(code, names)
    assert eval(check, names), (idiom, check)


@pytest.mark.parametrize("idiom, code, pattern", RAISES, ids=[r[0] for r in RAISES])
def test_idioms_that_differ_raise_naming_the_spelling_here(idiom, code, pattern):
    names = habitat()
    with pytest.raises((AttributeError, TypeError, ValueError, RuntimeError)) as info:
        exec(code, names)
    assert re.search(pattern, str(info.value)), f"{idiom}: {info.value}"
    assert "object is not callable" not in str(info.value)


def test_there_are_about_eighty_idioms_or_more():
    assert len(WORKS) + len(RAISES) >= 80
    assert sum("silent before" in idiom for idiom, _, _ in WORKS + RAISES) >= 10  # the seven, some twice


# ------------------------------------------------------------------------- the table behind the errors

ATTRIBUTE_ROWS = [key for key in habits.HABITS if re.fullmatch(r"(Tensor|Module|ts|nn|optim)\.\w+", key)]


@pytest.mark.parametrize("key", ATTRIBUTE_ROWS)
def test_every_row_for_a_missing_name_is_the_error_that_name_raises(key):
    from tinygrad_seq import nn

    kind, name = key.split(".")
    owner = {"Tensor": Tensor([1.0]), "Module": nn.Linear(2, 2), "ts": ts, "nn": nn, "optim": nn.optim}[kind]
    if key == "ts.tensor":  # the module tensor.py: calling it is the habit
        with pytest.raises(TypeError, match=re.escape(habits.explain(key))):
            owner.tensor([1, 2])
        return
    with pytest.raises(AttributeError, match=re.escape(habits.explain(key))) as info:
        getattr(owner, name)
    assert info.value.name == name
    assert not hasattr(owner, name)  # hasattr still answers False, as for any missing attribute


def test_a_name_in_no_row_raises_the_plain_attribute_error():
    with pytest.raises(AttributeError, match=r"^'Tensor' object has no attribute 'nope'$"):
        Tensor([1.0]).nope
    with pytest.raises(AttributeError, match=r"^module 'tinygrad_seq' has no attribute 'nope'$"):
        ts.nope


def test_the_docs_page_holds_the_table_generated_from_the_habits():
    page = (Path(__file__).resolve().parents[1] / "docs" / "pytorch.md").read_text()
    start, end = "<!-- the table: generated from tinygrad_seq/habits.py -->\n", "<!-- end of the table -->"
    assert start in page and end in page
    table = page.split(start, 1)[1].split(end, 1)[0]
    assert table == habits.markdown_table(), (
        "docs/pytorch.md is out of date with tinygrad_seq/habits.py; paste the output of\n"
        "python -c 'from tinygrad_seq.habits import markdown_table; print(markdown_table(), end=\"\")'")
    assert table.count("\n") == len(habits.HABITS) + 2
