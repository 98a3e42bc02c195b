"""PyTorch habits: the one table of torch spellings and what to write here, and the errors it feeds.

Where NumPy's meaning and PyTorch's agree, or a PyTorch spelling means nothing else here, it works as in
torch. Where they conflict, NumPy's meaning stays and the torch spelling raises an error that names the
spelling here. Every row of `HABITS` is such a torch name; `Tensor.__getattr__`, the packages'
``__getattr__`` (``ts.cat``, ``nn.Softmax``, ``optim.lr_scheduler``), the keyword checks (``dim=``) and
NumPy's functions called on a tensor that requires grad all read their message from it, and the table
on the documentation page "for PyTorch users" is generated from it (`markdown_table`), so they never
drift apart.

    >>> x.view(2, 3)  # doctest: +SKIP
    AttributeError: 'Tensor' object has no attribute 'view': PyTorch's x.view(2, 3) is x.reshape(2, 3) here
"""

from __future__ import annotations

import operator
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autograd import STATE

__all__ = ["HABITS", "KEYWORDS", "Habit", "Size", "markdown_table", "no_attribute"]


@dataclass(frozen=True)
class Habit:
    """One PyTorch spelling, how it is written here, and (when it is not only a name) why."""

    torch: str
    here: str
    why: str = ""


_H = Habit
# Keys: "Tensor.<name>" (a method or attribute), "Module.<name>", "ts.<name>" (torch.<name>), "nn.<name>",
# "optim.<name>", "np.<function>" (NumPy on a tensor that requires grad), "<function>(<keyword>=)" and
# "=<keyword>" (a keyword every op reads the same way).
HABITS: dict[str, Habit] = {
    # ---- keywords every op reads the same way
    **{f"={torch}": _H(f"{torch}=", f"{here}=", why) for torch, (here, why) in {
        "dim": ("axis", "array operations follow NumPy's names"), "dims": ("axis", ""),
        "keepdim": ("keepdims", ""), "unbiased": ("ddof", "unbiased=True is ddof=1"),
        "correction": ("ddof", "")}.items()},
    "CrossEntropyLoss(label_smoothing=)": _H(
        "nn.CrossEntropyLoss(label_smoothing=0.1)",
        "(1 - s) * F.cross_entropy(z, y) - s * F.log_softmax(z, axis=-1).mean(axis=-1).mean()",
        "no label smoothing option: mix the loss with the mean log-probability yourself"),
    "CrossEntropyLoss(weight=)": _H("nn.CrossEntropyLoss(weight=w)",
                                    "F.cross_entropy(z, y, reduction='none')",
                                    "no class weights: weight the per-token losses yourself"),
    # ---- creating tensors
    "ts.tensor": _H("torch.tensor([1, 2])", "Tensor([1, 2])",
                    "Python numbers and lists become float32; integer ids: Tensor(np.array([1, 2]))"),
    "ts.from_numpy": _H("torch.from_numpy(a)", "Tensor(a)", "an array keeps its dtype"),
    "ts.as_tensor": _H("torch.as_tensor(a)", "Tensor(a)"),
    "ts.empty": _H("torch.empty(3, 4)", "ts.zeros(3, 4)"),
    "ts.linspace": _H("torch.linspace(0, 1, 5)", "Tensor(np.linspace(0, 1, 5, dtype=np.float32))"),
    "ts.cat": _H("torch.cat([a, b], dim=1)", "ts.concatenate([a, b], axis=1)"),
    "ts.float32": _H("dtype=torch.float32", "dtype=np.float32", "dtypes are NumPy's"),
    "ts.float64": _H("dtype=torch.float64", "dtype=np.float64", "dtypes are NumPy's"),
    "ts.long": _H("dtype=torch.long", "dtype=np.int64", "dtypes are NumPy's"),
    "ts.device": _H("torch.device('cpu')", "(nothing)", "NumPy runs on the CPU: there are no devices"),
    "ts.cuda": _H("torch.cuda.is_available()", "(nothing)", "NumPy runs on the CPU: there are no devices"),
    "ts.save": _H("torch.save(model.state_dict(), path)", "model.save(path)", "an .npz file"),
    "ts.load": _H("model.load_state_dict(torch.load(path))", "model.load(path)"),
    "ts.optim": _H("torch.optim.Adam(...)", "ts.nn.optim.Adam(...)", "optimizers live in nn.optim"),
    "ts.allclose": _H("torch.allclose(a, b)", "np.allclose(a.numpy(), b.numpy())"),
    "ts.exp": _H("torch.exp(x)", "x.exp()", "elementwise ops are Tensor methods"),
    "ts.log": _H("torch.log(x)", "x.log()", "elementwise ops are Tensor methods"),
    "ts.tanh": _H("torch.tanh(x)", "x.tanh()", "elementwise ops are Tensor methods"),
    "ts.sigmoid": _H("torch.sigmoid(x)", "x.sigmoid()", "elementwise ops are Tensor methods"),
    "ts.relu": _H("torch.relu(x)", "x.relu()", "elementwise ops are Tensor methods"),
    "ts.softmax": _H("torch.softmax(x, dim=-1)", "F.softmax(x, axis=-1)"),
    "ts.sum": _H("torch.sum(x, dim=1)", "x.sum(axis=1)", "reductions are Tensor methods"),
    "ts.mean": _H("torch.mean(x)", "x.mean()", "reductions are Tensor methods"),
    "ts.max": _H("torch.max(x, dim=1)", "x.max(axis=1), x.argmax(axis=1)", "reductions are Tensor methods"),
    "ts.argmax": _H("torch.argmax(x, dim=1)", "x.argmax(axis=1)", "reductions are Tensor methods"),
    "ts.clamp": _H("torch.clamp(x, 0, 1)", "x.clip(0, 1)"),
    # ---- dtypes and devices
    "Tensor.float": _H("x.float()", "x.astype(np.float32)", "dtypes are NumPy's"),
    "Tensor.double": _H("x.double()", "x.astype(np.float64)", "dtypes are NumPy's"),
    "Tensor.half": _H("x.half()", "x.astype(np.float16)", "dtypes are NumPy's"),
    "Tensor.long": _H("x.long()", "x.astype(np.int64)", "dtypes are NumPy's"),
    "Tensor.int": _H("x.int()", "x.astype(np.int32)", "dtypes are NumPy's"),
    "Tensor.bool": _H("x.bool()", "x.astype(bool)", "dtypes are NumPy's"),
    "Tensor.type": _H("x.type(torch.float64)", "x.astype(np.float64)", "dtypes are NumPy's"),
    "Tensor.to": _H("x.to(torch.float64) / x.to(device)", "x.astype(np.float64)",
                    "NumPy runs on the CPU: there are no devices to move to"),
    "Tensor.cpu": _H("x.cpu()", "x", "NumPy runs on the CPU: drop .cpu()"),
    "Tensor.cuda": _H("x.cuda()", "x", "NumPy runs on the CPU: there is no GPU"),
    "Tensor.device": _H("x.device", "(nothing)", "NumPy runs on the CPU: there are no devices"),
    "Tensor.is_cuda": _H("x.is_cuda", "(nothing)", "NumPy runs on the CPU: there are no devices"),
    # ---- shapes and sizes
    "Tensor.size()": _H("x.size() / x.size(1)", "x.shape / x.shape[1]",
                        "x.size is NumPy's number of elements, an int"),
    "Tensor.numel": _H("x.numel()", "x.size", "NumPy's name for the number of elements"),
    "Tensor.dim": _H("x.dim()", "x.ndim"),
    "Tensor.view": _H("x.view(2, 3)", "x.reshape(2, 3)"),
    "Tensor.view_as": _H("x.view_as(y)", "x.reshape(y.shape)"),
    "Tensor.reshape_as": _H("x.reshape_as(y)", "x.reshape(y.shape)"),
    "Tensor.unsqueeze": _H("x.unsqueeze(0)", "x.expand_dims(0) or x[None]"),
    "Tensor.expand": _H("x.expand(3, 4)", "x.broadcast_to((3, 4))"),
    "Tensor.expand_as": _H("x.expand_as(y)", "x.broadcast_to(y.shape)"),
    "Tensor.repeat": _H("x.repeat(2, 1)", "ts.concatenate([x, x], axis=0)"),
    "Tensor.t": _H("x.t()", "x.T"),
    "Tensor.mT": _H("x.mT", "x.swapaxes(-1, -2)"),
    "Tensor.contiguous": _H("x.contiguous()", "x", "NumPy handles strides: drop .contiguous()"),
    "Tensor.chunk": _H("x.chunk(3, dim=1)", "x.split(sections=3, axis=1)"),
    "Tensor.split(int)": _H("x.split(2, dim=1)", "x.split(sections=n // 2, axis=1)",
                            "PyTorch reads a number as the length of each part, NumPy as the count of parts"),
    "Tensor.split(list)": _H("x.split([1, 3])", "x.split(indices=[1])",
                             "PyTorch reads a list as the lengths of the parts, NumPy as where to cut"),
    "Tensor.flatten(start_dim)": _H("x.flatten(1)", "x.reshape(len(x), -1)",
                                    "x.flatten() takes no axis, as in NumPy"),
    # ---- reductions and elementwise ops
    "Tensor.max(dim)": _H("v, i = x.max(1)", "v, i = x.max(axis=1), x.argmax(axis=1)",
                          "x.max(1) gives the values only, as in NumPy"),
    "Tensor.min(dim)": _H("v, i = x.min(1)", "v, i = x.min(axis=1), x.argmin(axis=1)",
                          "x.min(1) gives the values only, as in NumPy"),
    "Tensor.var()": _H("x.var()", "x.var(ddof=1)",
                       "NumPy divides by n (ddof=0), PyTorch by n - 1 (ddof=1): say which"),
    "Tensor.std()": _H("x.std()", "x.std(ddof=1)",
                       "NumPy divides by n (ddof=0), PyTorch by n - 1 (ddof=1): say which"),
    "Tensor.argmin": _H("x.argmin(1)", "(-x).argmax(axis=1)"),
    "Tensor.norm": _H("x.norm()", "(x * x).sum().sqrt()"),
    "Tensor.clamp": _H("x.clamp(0, 1) / x.clamp(min=0)", "x.clip(0, 1) / x.clip(min=0)"),
    "Tensor.pow": _H("x.pow(2)", "x ** 2"),
    "Tensor.add": _H("x.add(y)", "x + y"),
    "Tensor.sub": _H("x.sub(y)", "x - y"),
    "Tensor.mul": _H("x.mul(y)", "x * y"),
    "Tensor.div": _H("x.div(y)", "x / y"),
    "Tensor.neg": _H("x.neg()", "-x"),
    "Tensor.matmul": _H("x.matmul(y)", "x @ y"),
    "Tensor.mm": _H("x.mm(y)", "x @ y"),
    "Tensor.bmm": _H("x.bmm(y)", "x @ y"),
    "Tensor.softplus": _H("F.softplus(x)", "(1 + x.exp()).log()"),
    "Tensor.clone": _H("x.clone()", "x.copy()", "NumPy's name; the gradient flows back, as through clone"),
    "Tensor.new_zeros": _H("x.new_zeros(3)", "ts.zeros(3, dtype=x.dtype)"),
    # ---- in place
    "Tensor.add_": _H("x.add_(y)", "x += y  (under no_grad() for a parameter)"),
    "Tensor.sub_": _H("p.sub_(lr * p.grad)", "p -= lr * p.grad  (under no_grad() for a parameter)"),
    "Tensor.mul_": _H("x.mul_(y)", "x *= y  (under no_grad() for a parameter)"),
    "Tensor.div_": _H("x.div_(y)", "x /= y  (under no_grad() for a parameter)"),
    "Tensor.zero_": _H("x.grad.zero_()", "x.grad = None  (or optimizer.zero_grad())"),
    "Tensor.fill_": _H("x.fill_(0.5)", "x[...] = 0.5  (under no_grad() for a parameter)"),
    "Tensor.copy_": _H("x.copy_(y)", "x[...] = y  (under no_grad() for a parameter)"),
    "Tensor.clamp_": _H("x.clamp_(0, 1)", "x[...] = x.clip(0, 1).numpy()  (under no_grad())"),
    "Tensor.uniform_": _H("w.uniform_(-a, a)", "nn.init.uniform_(w, -a, a)"),
    "Tensor.normal_": _H("w.normal_(0, 0.02)", "nn.init.normal_(w, 0, 0.02)"),
    # ---- modules, layers, optimizers
    "Module.to": _H("model.to(device) / model.to(torch.float64)", "model.astype(np.float64)",
                    "NumPy runs on the CPU: there are no devices"),
    "Module.cuda": _H("model.cuda()", "model", "NumPy runs on the CPU: there is no GPU"),
    "Module.cpu": _H("model.cpu()", "model", "NumPy runs on the CPU: drop .cpu()"),
    "Module.double": _H("model.double()", "model.astype(np.float64)"),
    "Module.float": _H("model.float()", "model.astype(np.float32)"),
    "Module.half": _H("model.half()", "model.astype(np.float16)"),
    "Module.apply": _H("model.apply(init_fn)", "for m in model.modules(): init_fn(m)"),
    "nn.Softmax": _H("nn.Softmax(dim=-1)", "F.softmax(x, axis=-1) in forward"),
    "nn.LogSoftmax": _H("nn.LogSoftmax(dim=-1)", "F.log_softmax(x, axis=-1) in forward"),
    "nn.Flatten": _H("nn.Flatten()", "x.reshape(len(x), -1) in forward"),
    "nn.BatchNorm1d": _H("nn.BatchNorm1d(n)", "nn.LayerNorm(n)", "sequence models here normalise per token"),
    "nn.Conv1d": _H("nn.Conv1d(...)", "(nothing)", "no convolutions: recurrent and attention layers only"),
    "nn.ParameterList": _H("nn.ParameterList([...])", "setattr(self, f'w{i}', Parameter(...)) per weight"),
    "nn.ModuleDict": _H("nn.ModuleDict({...})", "setattr(self, name, module) per module"),
    "optim.lr_scheduler": _H("optim.lr_scheduler.StepLR(opt, 10)", "optim.StepLR(opt, 10)",
                             "schedules live in optim itself (StepLR, CosineWithWarmup)"),
    "optim.RMSprop": _H("optim.RMSprop(...)", "optim.Adam(...)", "the optimizers here: SGD, Adam, AdamW"),
    "optim.Adagrad": _H("optim.Adagrad(...)", "optim.Adam(...)", "the optimizers here: SGD, Adam, AdamW"),
    # ---- NumPy functions on a tensor that requires grad (they would return arrays: the graph is lost)
    "np.clip": _H("np.clip(x, 0, 1)", "x.clip(0, 1)"),
    "np.where": _H("np.where(c, x, y)", "ts.where(c, x, y)"),
    "np.dot": _H("np.dot(x, y)", "x @ y"),
    "np.sum": _H("np.sum(x, axis=1)", "x.sum(axis=1)"),
    "np.mean": _H("np.mean(x)", "x.mean()"),
    "np.max": _H("np.max(x, axis=1)", "x.max(axis=1)"),
    "np.var": _H("np.var(x)", "x.var(ddof=0)"),
    "np.concatenate": _H("np.concatenate([x, y])", "ts.concatenate([x, y])"),
    "np.stack": _H("np.stack([x, y])", "ts.stack([x, y])"),
    "np.reshape": _H("np.reshape(x, (2, 3))", "x.reshape(2, 3)"),
    "np.transpose": _H("np.transpose(x)", "x.T"),
    "np.outer": _H("np.outer(x, y)", "x[:, None] * y[None, :]"),
    "np.ufunc": _H("np.sin(x)", "(nothing)",
                   "NumPy's ufuncs with an op here (np.exp, np.log, np.tanh, np.maximum, +, *, ...) "
                   "return Tensors that keep the graph; others would lose it, and raise"),
}

# the keywords every op reads the same way: PyTorch's name -> NumPy's
KEYWORDS = {key[1:]: HABITS[key].here[:-1] for key in HABITS if key.startswith("=")}


def explain(key: str) -> str:
    """"PyTorch's <torch> is <here> here (<why>)" for the row `key` of HABITS."""
    habit = HABITS[key]
    here = "not available here" if habit.here == "(nothing)" else f"{habit.here} here"
    whose = "" if key.startswith("np.") else "PyTorch's "
    return f"{whose}{habit.torch} is {here}" + (f" ({habit.why})" if habit.why else "")


def no_attribute(owner: str, name: str, kind: str) -> AttributeError:
    """The AttributeError for `owner.name`, naming the spelling here when `kind.name` is a torch habit."""
    text = f"{owner!r} object has no attribute {name!r}" if kind in ("Tensor", "Module") else \
        f"module {owner!r} has no attribute {name!r}"
    key = f"{kind}.{name}"
    return AttributeError(f"{text}: {explain(key)}" if key in HABITS else text, name=name)


def refuse_keywords(op: str, given: dict[str, Any]) -> None:
    """Raise TypeError for keywords `op` does not take, naming the spelling here of a torch keyword."""
    name = next(iter(given))
    if name in KEYWORDS:
        raise TypeError(f"{op}: {name}= is PyTorch's name; here it is NumPy's {KEYWORDS[name]}=")
    key = f"{op}({name}=)"
    if key in HABITS:
        raise TypeError(f"{op}() got an unexpected keyword argument {name!r}: {explain(key)}")
    raise TypeError(f"{op}() got an unexpected keyword argument {name!r}")


class Size(int):
    """`x.size`: NumPy's number of elements, an int; torch's ``x.size()`` and ``x.size == shape`` raise."""

    def __call__(self, *axis: int) -> Any:
        raise TypeError(f"x.size is an int here ({int(self)}, the number of elements, as in NumPy): "
                        f"{explain('Tensor.size()')}")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, tuple | list):
            raise TypeError(f"x.size == {tuple(other)}: x.size is the number of elements ({int(self)}), as in"
                            " "
                            "NumPy; compare x.shape with a shape")
        return int(self) == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = int.__hash__


class TorchLikeModule(types.ModuleType):
    """A module that, called like torch's function of the same name (`ts.tensor(...)`), says what to write."""

    habit_key = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{self.__name__} is a module, not a function: {explain(self.habit_key)}")


def callable_like_torch(module: types.ModuleType, key: str) -> None:
    """Make calling `module` raise the habit `key` (``ts.tensor([1, 2])`` -> "write Tensor([1, 2])")."""
    module.__class__ = type("TorchLikeModule", (TorchLikeModule,), {"habit_key": key})


# ------------------------------------------------------------------------------ NumPy called on tensors

# NumPy ufuncs with an op here: they return Tensors and keep the graph (``ndarray + tensor`` is np.add)
UFUNCS: dict[np.ufunc, Callable[..., Any]] = {
    np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul,
    np.true_divide: operator.truediv,
    np.power: operator.pow, np.matmul: operator.matmul, np.negative: operator.neg,
    np.less: operator.lt, np.less_equal: operator.le, np.greater: operator.gt, np.greater_equal: operator.ge,
    np.equal: operator.eq, np.not_equal: operator.ne,
    np.exp: lambda x: x.exp(), np.log: lambda x: x.log(), np.sqrt: lambda x: x.sqrt(),
    np.absolute: lambda x: x.abs(), np.tanh: lambda x: x.tanh(),
    np.maximum: lambda x, y: x.maximum(y), np.minimum: lambda x, y: x.minimum(y),
}


def _plain(value: Any, cls: Any) -> Any:
    if isinstance(value, cls):
        return value._data
    if isinstance(value, list | tuple) and any(isinstance(v, cls) for v in value):
        return type(value)(_plain(v, cls) for v in value)
    return value


def _needs_graph(values: Any, cls: Any) -> bool:
    """True when a tensor among `values` (or in a list of them) requires grad while grad mode is on."""
    if not STATE.grad_enabled:
        return False
    for v in values:
        if isinstance(v, cls) and v.requires_grad:
            return True
        if isinstance(v, list | tuple) and _needs_graph(v, cls):
            return True
    return False


def _has_floats(result: Any) -> bool:
    if isinstance(result, tuple | list):
        return any(_has_floats(r) for r in result)
    return isinstance(result, np.ndarray | np.generic | float) and np.asarray(result).dtype.kind in "fc"


def _lost_graph(name: str) -> TypeError:
    key = f"np.{name}"
    instead = f"write {HABITS[key].here}" if key in HABITS else f"there is no {name} op here"
    return TypeError(f"np.{name} on a tensor that requires grad would return a plain array and drop the "
                     f"graph (PyTorch raises too): {instead}; np.{name}(x.detach().numpy(), ...) gives "
                     "values without a gradient")


def array_ufunc(cls: Any, ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict[str, Any]) -> Any:
    """NumPy's ufunc protocol for Tensor: ops that exist here give Tensors, others plain arrays, or raise
    when a tensor that requires grad would lose its graph."""
    if method == "__call__" and not kwargs and ufunc in UFUNCS:
        first = next(x for x in inputs if isinstance(x, cls))
        return UFUNCS[ufunc](*(x if isinstance(x, cls) else first._other(x) for x in inputs))
    result = getattr(ufunc, method)(*_plain(inputs, cls), **{k: _plain(v, cls) for k, v in kwargs.items()})
    if _has_floats(result) and _needs_graph((*inputs, *kwargs.values()), cls):
        raise _lost_graph(ufunc.__name__)
    return result


def array_function(cls: Any, func: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
    """NumPy's function protocol for Tensor: the function runs on the arrays, and a floating result from a
    tensor that requires grad raises (it would drop the graph) naming the op here."""
    result = func(*_plain(args, cls), **{k: _plain(v, cls) for k, v in kwargs.items()})
    if _has_floats(result) and _needs_graph((*args, *kwargs.values()), cls):
        raise _lost_graph(getattr(func, "__name__", str(func)))
    return result


# ------------------------------------------------------------------------------------------- the docs


def markdown_table() -> str:
    """The table of the documentation page "for PyTorch users": one row per habit, in the table's order."""
    rows = ["| PyTorch | here | why |", "|---|---|---|"]
    for habit in HABITS.values():
        cells = [f"`{habit.torch}`", "-" if habit.here == "(nothing)" else f"`{habit.here}`", habit.why]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
