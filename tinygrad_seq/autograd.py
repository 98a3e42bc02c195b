"""The autograd engine: graph nodes, the backward pass, grad mode, scopes and anomaly mode.

A forward op creates one `Function` node that remembers its input Tensors. `grad()` walks those
nodes once in reverse topological order (an iterative sort, so a 100,000-step chain is fine),
asks each node for the gradients of its inputs, reduces broadcast gradients to the input's shape
(the one place this happens), and accumulates them.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import sys
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:
    from .tensor import Tensor

# The engine makes Tensors (op results, gradients) but never imports tensor.py, which is built on this
# module: tensor.py hands its class over with `set_tensor_type` right after defining it.
_tensor_type: type[Tensor] = None  # type: ignore[assignment]  # set by set_tensor_type


def set_tensor_type(cls: type[Tensor]) -> None:
    """Tell the engine which class its Tensors are (called once, by tensor.py)."""
    global _tensor_type
    _tensor_type = cls


def constant(array: np.ndarray) -> Tensor:
    """A Tensor holding `array` (no copy) that needs no gradient: for arrays a backward rule saved."""
    return _tensor_type._wrap(array, False)


class _State:
    """Process-wide switches, read on every op; kept in one object so the hot path is one lookup."""

    __slots__ = ("grad_enabled", "scope", "anomaly", "sites")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.scope: tuple[str, ...] = ()
        self.anomaly = False
        self.sites = False  # record where each node is created (anomaly mode, gradcheck localisation)


STATE = _State()
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# grad mode, scopes, anomaly mode
# ---------------------------------------------------------------------------------------------


class _GradMode(contextlib.ContextDecorator):
    """Sets grad mode inside a `with` block or a decorated function, and restores it after."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        self._saved.append(STATE.grad_enabled)
        STATE.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        STATE.grad_enabled = self._saved.pop()


def no_grad() -> _GradMode:
    """Turn graph recording off: `with no_grad(): ...` or `@no_grad()`."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Turn graph recording back on inside a `no_grad` block."""
    return _GradMode(True)


def is_grad_enabled() -> bool:
    """True when new ops record graph nodes."""
    return STATE.grad_enabled


@contextlib.contextmanager
def scope(name: str) -> Iterator[None]:
    """Label every node created inside the block with `name` (scopes nest).

    Example: ``with scope("t=3"): h = cell(x[3], h)``; the renderer groups nodes by these labels.
    """
    saved = STATE.scope
    STATE.scope = saved + (str(name),)
    try:
        yield
    finally:
        STATE.scope = saved


def current_scope() -> tuple[str, ...]:
    """The tuple of scope names active now, outermost first."""
    return STATE.scope


class ShapeError(ValueError):
    """Shapes that do not fit an op; the message names the op and the shapes."""


class AnomalyError(FloatingPointError):
    """A forward or backward result holds NaN or Inf (raised only inside `detect_anomaly()`)."""


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Check each forward and backward result for NaN/Inf and raise naming the op, scope and line.

    Inside the block every node records the line of user code that created it; outside it
    nothing is recorded, so normal runs pay nothing.
    """
    saved = STATE.anomaly
    STATE.anomaly = True
    try:
        with record_sites():
            yield
    finally:
        STATE.anomaly = saved


@contextlib.contextmanager
def record_sites() -> Iterator[None]:
    """Inside the block every new node keeps in ``.created_at`` the line of user code that created it.

    `detect_anomaly` and ``gradcheck(..., localize=True)`` use it to name that line in their messages.
    """
    saved = STATE.sites
    STATE.sites = True
    try:
        yield
    finally:
        STATE.sites = saved


def _user_frame() -> str:
    """'file:line: source' of the innermost frame outside this package."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    source = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: {source}"


# ---------------------------------------------------------------------------------------------
# the graph node
# ---------------------------------------------------------------------------------------------


class Function:
    """A node of the graph: one op applied to some Tensors.

    Subclass it to define an op: ``forward(self, *arrays, **params) -> ndarray`` works on NumPy
    arrays and keeps what backward needs on ``self``; ``backward(self, grad) -> Tensor | tuple``
    returns one gradient per positional input, written with Tensor ops so that it can itself be
    differentiated. Use it with ``MyOp.apply(x, y, param=...)``.

    Example::

        class Cube(Function):
            def forward(self, x):
                self.x = x
                return x ** 3
            def backward(self, grad):
                return grad * 3 * Tensor(self.x) ** 2
    """

    __slots__ = ("inputs", "params", "scope", "versions", "created_at", "released")
    # set by apply when the node is recorded (a node made under no_grad has none of them but `created_at`)
    inputs: tuple[Tensor, ...]
    params: dict[str, Any]
    scope: tuple[str, ...]
    versions: tuple[int, ...]
    created_at: str | None
    released: bool

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def backward(self, grad: Tensor) -> Tensor | tuple[Tensor | None, ...]:
        raise NotImplementedError(f"{type(self).__name__}.backward is not written")

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op forward on Tensors (or arrays) and record a node when a gradient is needed."""
        tensor_type = _tensor_type
        for x in inputs:
            if not isinstance(x, tensor_type):
                inputs = tuple(x if isinstance(x, tensor_type) else tensor_type(x) for x in inputs)
                break
        return run_op(cls, inputs, params)

    scatter_into: Any = None  # an indexing op's in-place first-order backward (see ops.GetItem)
    # NOTE: speed. True: in a first-order pass backward gets `grad` as an array and returns arrays, its
    # rule written with what arrays and Tensors share (operators, reshape, transpose, sum, astype), so
    # the one rule also builds a graph when create_graph gives it Tensors (the primitives in ops.py).
    backward_on_arrays = False

    def _describe(self) -> str:
        created = f" created at {self.created_at}" if getattr(self, "created_at", None) else ""
        scope = "/".join(getattr(self, "scope", ())) or "<top level>"
        return f"op '{self.name}' in scope '{scope}'{created}"


_new = object.__new__
_ndarray = np.ndarray
_NO_PARAMS: dict[str, Any] = {}  # never written to


def run_op(cls: type[Function], tensors: tuple, params: dict[str, Any] = _NO_PARAMS) -> Tensor:
    """`cls.apply(*tensors, **params)` for inputs that are all Tensors already: the operators' path.

    NOTE: speed. One plain call (no argument packing), the forward called with its arrays spelled out
    for one or two inputs, and the result Tensor made in place: per op this is most of the engine's cost
    when arrays are small (a (1, 100) add).
    """
    fn = _new(cls)
    try:
        if params:
            out = fn.forward(*[t._data for t in tensors], **params)
        elif len(tensors) == 2:
            out = fn.forward(tensors[0]._data, tensors[1]._data)
        elif len(tensors) == 1:
            out = fn.forward(tensors[0]._data)
        else:
            out = fn.forward(*[t._data for t in tensors])
    except ShapeError:
        raise
    except (ValueError, IndexError, TypeError) as err:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise type(err)(f"{fn.name.lower()}: {err} (input shapes: {shapes})") from None
    if type(out) is not _ndarray:
        out = np.asarray(out)
    result = _new(_tensor_type)
    result._data = out
    state = STATE
    if state.grad_enabled and out.dtype.kind == "f":
        for t in tensors:
            if t.requires_grad:
                result.requires_grad = True
                result.grad_fn = fn
                fn.inputs = tensors
                fn.params = params  # the keyword arguments of forward: it can be run again alone
                fn.scope = state.scope
                fn.versions = tuple([t._version for t in tensors])
                fn.released = False
                fn.created_at = None
                break
    if state.sites:
        fn.created_at = _user_frame()
        if state.anomaly:
            _check_finite(out, fn, "forward")
    return result


def _check_finite(array: np.ndarray, fn: Function, phase: str) -> None:
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "Inf"
        raise AnomalyError(f"{phase} of {fn._describe()} produced {bad} (output shape {array.shape})")


# ---------------------------------------------------------------------------------------------
# the backward pass
# ---------------------------------------------------------------------------------------------


def toposort(roots: Sequence[Tensor]) -> list[Function]:
    """Every node reachable from `roots`, each after all nodes it depends on (iterative DFS).

    A stack of (node, iterator over its inputs, last first): a node is emitted when its iterator is
    exhausted, so each node is pushed once (nodes hash by identity).
    """
    order: list[Function] = []
    seen: set[Function] = set()
    for root in roots:
        fn = root.grad_fn
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack = [(fn, reversed(fn.inputs))]
        while stack:
            fn, pending = stack[-1]
            for x in pending:
                child = x.grad_fn
                if child is not None and child not in seen:
                    seen.add(child)
                    stack.append((child, reversed(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(fn)
    return order


def sum_to(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum a broadcast gradient back down to `shape` (NumPy broadcasting in reverse)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != grad.shape[i + lead] for i, n in enumerate(shape)):
        # not a broadcast of `shape`: a backward rule is wrong (reshaping would hide it)
        raise RuntimeError(f"backward: a gradient of shape {grad.shape} cannot be summed to the input's "
                           f"shape {shape}; the op's backward returned a gradient of the wrong shape")
    stretched = tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    if lead:
        grad = grad.sum(axis=tuple(range(lead)))
    return grad


def _raise_modified(fn: Function) -> None:
    for i, (x, version) in enumerate(zip(fn.inputs, fn.versions, strict=True)):
        if x._version != version:
            raise RuntimeError(
                f"{fn._describe()}: input {i} (shape {x.shape}) was modified in place after the forward "
                f"pass (version {version} -> {x._version}), but backward needs its old value. "
                "Change a copy instead, or make the change before building the graph."
            )


def _raise_released(fn: Function) -> None:
    raise RuntimeError(
        f"{fn._describe()}: trying to backward through the graph a second time, but its saved arrays were "
        "released after the first backward. Pass retain_graph=True to the first backward() (or grad()) "
        "call if you need to go through it again."
    )


class _BackwardPass:
    """One backward pass: the gradient reaching each tensor so far, and the steps that move it on.

    Gradients are kept by node for a tensor an op made (one output per node) and by tensor for a leaf
    (both hash by identity). NOTE: speed: in a first-order pass they are plain arrays (a Function whose
    class sets ``backward_on_arrays`` gets and returns arrays; any other gets Tensors, as documented),
    and an array this pass allocated itself, that nothing else refers to yet, is `owned` (by id):
    further contributions are added into it in place instead of allocating a new sum. With
    ``create_graph`` they are Tensors throughout, so that every step is recorded.
    """

    __slots__ = ("grads", "leaves", "watched", "wanted_leaves", "owned", "create_graph", "retain_graph",
                 "report_retained")

    def __init__(self, wanted: Sequence[Tensor] | None, retain_graph: bool, create_graph: bool) -> None:
        self.grads: dict[Function | Tensor, Any] = {}
        self.leaves: dict[Tensor, None] = {}  # the leaves reached, in the order reached
        self.watched: dict[Function, Tensor] = {}  # non-leaf tensors whose gradient is reported, by node
        self.wanted_leaves: set[Tensor] | None = None
        if wanted is not None:
            self.watched = {t.grad_fn: t for t in wanted if t.grad_fn is not None}
            self.wanted_leaves = {t for t in wanted if t.grad_fn is None}
        self.report_retained = wanted is None  # backward() also reports tensors marked retain_grad()
        self.owned: set[int] = set()
        self.retain_graph, self.create_graph = retain_graph, create_graph

    def value(self, g: Any) -> Any:
        """A gradient as this pass keeps it: an array in a first-order pass, a Tensor with create_graph."""
        if self.create_graph:
            return g if isinstance(g, _tensor_type) else _tensor_type(g)
        return g._data if isinstance(g, _tensor_type) else np.asarray(g)

    def tensor(self, g: Any) -> Tensor:
        """A kept gradient as a Tensor (to report it, or for a backward rule that takes Tensors)."""
        return g if isinstance(g, _tensor_type) else _tensor_type._wrap(g, False)

    def _key(self, x: Tensor) -> Function | Tensor | None:
        """Where x's gradient is kept, or None when nobody asked for it (a constant, an unwanted leaf)."""
        fn = x.grad_fn
        if fn is not None:
            if self.report_retained and x._retains_grad:
                self.watched[fn] = x
            return fn
        if not x.requires_grad or (self.wanted_leaves is not None and x not in self.wanted_leaves):
            return None
        self.leaves[x] = None
        return x

    def deposit(self, x: Tensor, g: Any) -> None:
        """Add g (kept form) to the gradient reaching x."""
        key = self._key(x)
        if key is None:
            return
        old = self.grads.get(key)
        if old is None:
            self.grads[key] = g
        elif id(old) in self.owned:
            old += g  # an array this pass owns: in place
        elif self.create_graph:
            self.grads[key] = old + g
        else:
            total = np.asarray(old + g)  # (0-d arrays add up to a NumPy scalar)
            self.owned.add(id(total))
            self.grads[key] = total

    def deposit_scatter(self, x: Tensor, fn: Function, grad: np.ndarray) -> None:
        """NOTE: speed. x[index]'s gradient is added into x's buffer in place, instead of a full-size
        array of zeros per indexing op (a loop over x[t] would otherwise cost O(T^2))."""
        key = self._key(x)
        if key is None:
            return
        old = self.grads.get(key)
        if old is None or id(old) not in self.owned:
            old = np.zeros(x.shape, dtype=x.dtype) if old is None else old.astype(x.dtype, copy=True)
            self.owned.add(id(old))
            self.grads[key] = old
        fn.scatter_into(old, grad)

    def step(self, fn: Function, grad: Any, anomaly: bool) -> None:
        """Run fn's backward rule on the gradient of its output and deposit what its inputs receive."""
        if fn.released:
            _raise_released(fn)
        for x, version in zip(fn.inputs, fn.versions):
            if x._version != version:
                _raise_modified(fn)
        first_order = not self.create_graph
        if first_order and fn.scatter_into is not None:
            self.deposit_scatter(fn.inputs[0], fn, grad)
            if not self.retain_graph:
                _release(fn)
            return
        grads: Any  # what backward returned: one gradient or a tuple, made a tuple below
        if first_order and not fn.backward_on_arrays:
            grad = _tensor_type._wrap(grad, False)
        if anomaly:
            # the ops inside a backward rule are not checked one by one: a NaN there is reported
            # below as this node's gradient, naming the op the user wrote rather than a helper
            STATE.anomaly = False
            try:
                grads = fn.backward(grad)
            finally:
                STATE.anomaly = True
        else:
            grads = fn.backward(grad)
        if type(grads) is not tuple:
            grads = (grads,)
        n = len(fn.inputs)
        if len(grads) != n:
            raise RuntimeError(f"{fn.name}.backward returned {len(grads)} gradients for {n} inputs")
        if not self.retain_graph:
            _release(fn)
        for i, (x, g) in enumerate(zip(fn.inputs, grads)):
            if g is None or not x.requires_grad:
                continue
            if type(g) is not _ndarray or not first_order:
                g = self.value(g)
            data = x._data
            if g.shape != data.shape:
                g = sum_to(g, data.shape)
                if first_order:
                    g = np.asarray(g)  # a sum over every axis is a NumPy scalar
            if g.dtype is not data.dtype and g.dtype != data.dtype:
                g = g.astype(data.dtype)
            if anomaly:
                _check_finite(self.tensor(g)._data, fn, f"backward (gradient of input {i})")
            self.deposit(x, g)


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    *,
    retain_graph: bool,
    create_graph: bool,
    wanted: Sequence[Tensor] | None = None,
) -> list[tuple[Tensor, Tensor]]:
    """Propagate `root_grads` from `roots` back through the graph.

    Returns (tensor, gradient) pairs: for the `wanted` tensors when they are given, otherwise for
    every leaf that requires grad and every tensor marked with ``retain_grad()``.
    """
    state = _BackwardPass(wanted, retain_graph, create_graph)
    grads, watched, owned = state.grads, state.watched, state.owned
    result: list[tuple[Tensor, Tensor]] = []
    anomaly = STATE.anomaly
    with _GradMode(create_graph):
        for root, g in zip(roots, root_grads, strict=True):
            state.deposit(root, state.value(g))
        for fn in reversed(toposort(roots)):
            grad = grads.pop(fn, None)
            if grad is None:
                continue
            owned.discard(id(grad))  # from here on it may be shared (e.g. Add passes it on twice)
            if watched and fn in watched:
                result.append((watched[fn], state.tensor(grad)))
            state.step(fn, grad, anomaly)
            grad = None  # NOTE: memory: hold no gradient past its node (the next may be large)
    result.extend((x, state.tensor(grads[x])) for x in state.leaves)
    return result


def _release(fn: Function) -> None:
    """Free what forward saved for backward; the graph's structure (inputs, scope) stays."""
    fn.released = True
    fn.params = _NO_PARAMS
    saved = getattr(fn, "__dict__", None)
    if saved:
        saved.clear()


def _seed_grads(outputs: Sequence[Tensor], grad_outputs: Sequence[Any] | None) -> list[Tensor]:
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    seeds = []
    for out, g in zip(outputs, grad_outputs, strict=True):
        if g is None:
            if out.size != 1:
                raise RuntimeError(
                    f"backward: the output has shape {out.shape}, not a single number, so its gradient "
                    "must be given: pass grad= (an array of the same shape, the gradient of some scalar "
                    "with respect to this output), or reduce it first, e.g. out.sum().backward()."
                )
            g = _tensor_type(np.ones(out.shape, dtype=out.dtype))
        elif not isinstance(g, _tensor_type):
            g = _tensor_type(np.asarray(g, dtype=out.dtype))
        if g.shape != out.shape:
            raise ValueError(f"backward: grad has shape {g.shape} but the output has shape {out.shape}")
        seeds.append(g)
    return seeds


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> tuple[Tensor, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned rather than stored in `.grad`.

    An input that `outputs` do not depend on gets a zero gradient. With ``create_graph=True``
    the gradients are themselves differentiable (Hessian-vector products, gradgradcheck).

    Example: ``(dx,) = grad((x ** 3).sum(), [x], create_graph=True)`` gives ``3 x**2``.
    """
    outputs = [outputs] if isinstance(outputs, _tensor_type) else list(cast("Sequence[Tensor]", outputs))
    inputs = [inputs] if isinstance(inputs, _tensor_type) else list(cast("Sequence[Tensor]", inputs))
    if isinstance(grad_outputs, _tensor_type | np.ndarray):
        grad_outputs = [grad_outputs]
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError(f"grad: an input of shape {x.shape} does not require grad")
    retain = create_graph if retain_graph is None else retain_graph
    seeds = _seed_grads(outputs, grad_outputs)
    found = run_backward(outputs, seeds, retain_graph=retain, create_graph=create_graph, wanted=inputs)
    by_id = {id(x): g for x, g in found}
    return tuple(by_id.get(id(x), _tensor_type(np.zeros(x.shape, dtype=x.dtype))) for x in inputs)


def backward(
    tensor: Tensor, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
) -> None:
    """Accumulate d(tensor)/d(leaf) into `.grad` of every leaf that requires grad."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn, so there is no gradient to "
            "compute: none of its inputs has requires_grad=True, or it was computed under no_grad()")
    seeds = _seed_grads([tensor], None if grad is None else [grad])
    found = run_backward(
        [tensor], seeds, retain_graph=retain_graph or create_graph, create_graph=create_graph
    )
    for t, g in found:
        if not create_graph:  # a fresh array: one gradient may reach several leaves as one object
            g = type(g)(g._data.copy())
        t.grad = g if t.grad is None else t.grad + g


