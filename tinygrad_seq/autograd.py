"""The autograd engine: graph nodes, the backward pass, grad mode, scopes and anomaly mode.

A forward op creates one `Function` node that remembers its input Tensors and makes one or several
output Tensors (``output_index`` says which). `grad()` walks those nodes once in reverse topological
order (an iterative sort, so a 100,000-step chain is fine), hands each node the gradients of its
outputs (zeros for an output nobody used) and whether to build a graph (``create_graph``), asks it for
the gradients of its inputs, reduces broadcast gradients to the input's shape (the one place this
happens), and accumulates them. `Function`'s docstring is the protocol every op is written in.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar, cast

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
        self.sites = False  # record where each node is created (anomaly mode, gradcheck localization)


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


def no_grad(func: Callable[..., Any] | None = None) -> Any:
    """Turn graph recording off: `with no_grad(): ...`, `@no_grad()`, or `@no_grad` as in torch."""
    return _GradMode(False) if func is None else _GradMode(False)(func)


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


class _Released:
    """What a node's `saved_tensors` is once backward has freed the saved values: using it raises."""

    __slots__ = ()

    def _raise(self, *args: Any) -> Any:
        raise RuntimeError(
            "saved_tensors: the values this node saved were released after the first backward through it. "
            "Pass retain_graph=True to that backward() (or grad()) call to keep them."
        )

    __iter__ = __len__ = __getitem__ = _raise


_RELEASED: Any = _Released()


class Function:
    """A node of the graph: one op applied to some Tensors, with one or several outputs.

    Subclass it to define an op, forward and backward side by side:

    - ``forward(self, *arrays, **params)`` gets NumPy arrays (one per positional input) and the keyword
      parameters, and returns an array, or a tuple of arrays for several outputs. It keeps what backward
      needs with ``self.save_for_backward(...)`` (save the very arrays it received or returns: see below),
      and may read ``self.needs_input_grad`` (one bool per input, set before forward runs) to skip work.
    - ``backward(self, *grads)`` gets one gradient per output (an output nobody used gets zeros of its
      shape, never None) and returns one gradient per positional input (None for an input that needs
      none); ``self.saved_tensors`` gives back what forward saved. The engine sums a broadcast gradient
      back to its input's shape, so no rule does that itself.
    - ``self.create_graph`` says which kind of pass this is: the engine sets it to the pass's
      ``create_graph`` for the time backward runs (it is never read from the grad mode). In a
      first-order pass (False) the gradients and `saved_tensors` are NumPy arrays, and backward returns
      arrays (NOTE: speed: no Tensor or graph node per backward op). With ``create_graph=True`` they are
      Tensors: a saved array that is an input's or an output's data comes back as that very Tensor, any
      other float array as a constant (a mask stays an array), so the gradient's graph joins the
      forward graph and can be differentiated again. A rule written with what arrays and Tensors share
      (operators, reshape, transpose, sum, astype) serves both passes; a rule written with NumPy
      functions serves the first only: its class sets ``first_order_only`` to the way to get a
      differentiable version, and the engine raises `FirstOrderOnlyError` with that
      text when create_graph asks it for a graph.

    Use it with ``MyOp.apply(x, y, param=...)`` (Tensors or arrays in): a Tensor out, or a tuple of
    Tensors for a forward that returns a tuple. Example, two outputs::

        class SinCos(Function):  # (sin x, cos x);  dx = dsin cos x - dcos sin x
            def forward(self, x):
                s, c = np.sin(x), np.cos(x)
                self.save_for_backward(s, c)  # its outputs: with create_graph, the output Tensors
                return s, c
            def backward(self, dsin, dcos):
                s, c = self.saved_tensors
                return dsin * c - dcos * s    # operators only: serves both passes

        s, c = SinCos.apply(x)

    The saved values are released after backward unless ``retain_graph=True``; a second backward through
    a released node raises an error that says so. ``self.frees_saved`` (set by the engine, False outside
    its passes) is True in a first-order backward after which they will be: a rule may then reuse a
    buffer it made and saved itself as its gradient, in place (see functional.FusedCrossEntropy).

    The one other speed hook: an indexing op may define ``scatter_into(out, grad)``, its first-order
    backward done in place (``out[index] += grad``), and the engine then adds its gradient straight into
    its input's gradient buffer (see ops.GetItem).
    """

    label: ClassVar[str | None] = None  # what a picture writes in the op's box (None: the class name)
    legend: ClassVar[str | None] = None  # the op's line in a picture's legend, e.g. "tanh: out = tanh(x)"
    # set to the way to get a differentiable version when backward is NumPy only (see above)
    first_order_only: ClassVar[str | None] = None
    scatter_into: Any = None  # an indexing op's in-place first-order backward (see above)

    # set by apply before forward runs
    needs_input_grad: tuple[bool, ...]
    # set by apply when the node is recorded (a node made under no_grad has none of them)
    inputs: tuple[Tensor, ...]
    params: dict[str, Any]  # the keyword arguments of forward: the node can be run again alone
    scope: tuple[str, ...]
    versions: tuple[int, ...]  # each input's version when forward read it
    n_outputs: int = 1  # set by apply when forward returns a tuple
    results: tuple[np.ndarray, ...]  # a node with several outputs: the arrays forward returned
    created_at: str | None = None  # the line of user code that made the node (see record_sites)
    released: bool = False  # True once backward has freed the saved values
    create_graph: bool = False  # set by the engine: True while it runs backward with create_graph
    # set by the engine: True while a first-order backward runs whose saved values are released right
    # after it (no retain_graph), so the rule may write into a buffer it saved and owns (never an input's)
    frees_saved: bool = False

    def forward(self, *arrays: Any, **params: Any) -> np.ndarray | tuple[np.ndarray, ...]:
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def backward(self, *grads: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.backward is not written")

    # What forward saved: arrays in a first-order pass, Tensors with create_graph (see above); once
    # backward has freed them, an object that raises when used. NOTE: speed: a plain attribute of the
    # node (no property), read as one in a first-order backward.
    saved_tensors: tuple = ()

    def save_for_backward(self, *values: Any) -> None:
        """Keep `values` (arrays, usually inputs or outputs) for backward, as ``self.saved_tensors``."""
        self.saved_tensors = values

    def _graph_saved(self, outputs: Sequence[Tensor]) -> tuple:
        """The saved values as a backward with create_graph sees them: an input's or one of `outputs`'
        data as that Tensor, any other float array as a constant (a mask, a shape: as it is)."""
        saved = []
        for v in self.saved_tensors:
            if isinstance(v, np.ndarray) and v.dtype.kind == "f":
                same = [t for t in (*self.inputs, *outputs) if t._data is v]
                v = same[0] if same else constant(v)
            saved.append(v)
        return tuple(saved)

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        """Run the op forward on Tensors (or arrays) and record a node when a gradient is needed.

        Returns a Tensor, or a tuple of Tensors when forward returns a tuple of arrays.
        """
        tensor_type = _tensor_type
        for x in inputs:
            if not isinstance(x, tensor_type):
                inputs = tuple(x if isinstance(x, tensor_type) else tensor_type(x) for x in inputs)
                break
        return run_op(cls, inputs, params)

    def _describe(self) -> str:
        created = f" created at {self.created_at}" if self.created_at else ""
        scope = "/".join(getattr(self, "scope", ())) or "<top level>"
        return f"op '{self.name}' in scope '{scope}'{created}"


_new = object.__new__
_ndarray = np.ndarray
_NO_PARAMS: dict[str, Any] = {}  # never written to
_NONE_NEEDED = tuple((False,) * n for n in range(8))  # needs_input_grad under no_grad, for n < 8 inputs
_NEEDS_1 = ((False,), (True,))  # needs_input_grad of one input, indexed by its requires_grad
_NEEDS_2 = (((False, False), (False, True)), ((True, False), (True, True)))  # of two, [x][y]


def run_op(cls: type[Function], tensors: tuple, params: dict[str, Any] = _NO_PARAMS) -> Any:
    """`cls.apply(*tensors, **params)` for inputs that are all Tensors already: the operators' path.

    NOTE: speed. One plain call (no argument packing), the forward called with its arrays spelled out
    for one or two inputs, and the result Tensor made in place: per op this is most of the engine's cost
    when arrays are small (a (1, 100) add).
    """
    fn = _new(cls)
    state = STATE
    n = len(tensors)
    if state.grad_enabled:  # needs_input_grad is set before forward runs
        # NOTE: speed: for one or two inputs a ready-made tuple (no allocation for the collector to track)
        needs: tuple[bool, ...]
        if n == 2:
            needs = _NEEDS_2[tensors[0].requires_grad][tensors[1].requires_grad]
        elif n == 1:
            needs = _NEEDS_1[tensors[0].requires_grad]
        else:
            needs = tuple([t.requires_grad for t in tensors])
        fn.needs_input_grad = needs
        record = True in needs
    else:
        fn.needs_input_grad = _NONE_NEEDED[n] if n < 8 else (False,) * n
        record = False
    try:
        if params:
            out = fn.forward(*[t._data for t in tensors], **params)
        elif n == 2:
            out = fn.forward(tensors[0]._data, tensors[1]._data)
        elif n == 1:
            out = fn.forward(tensors[0]._data)
        else:
            out = fn.forward(*[t._data for t in tensors])
    except ShapeError:
        raise
    except (ValueError, IndexError, TypeError) as err:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise type(err)(f"{fn.name.lower()}: {err} (input shapes: {shapes})") from None
    if type(out) is not _ndarray:
        if type(out) is tuple:
            return _multi_output(fn, tensors, params, out, record)
        out = _as_array(fn, out)
    result = _new(_tensor_type)
    result._data = out
    if record and out.dtype.kind == "f":
        result.requires_grad = True
        result.grad_fn = fn
        fn.inputs = tensors
        fn.params = params
        fn.scope = state.scope
        # NOTE: speed: a tuple spelled out for one or two inputs is cheaper to build
        fn.versions = (tensors[0]._version, tensors[1]._version) if n == 2 else (
            (tensors[0]._version,) if n == 1 else tuple([t._version for t in tensors]))
    if state.sites:
        fn.created_at = _user_frame()
        if state.anomaly:
            _check_finite(out, fn, "forward")
    return result


def _as_array(fn: Function, value: Any) -> np.ndarray:
    """A forward result as an array (a NumPy reduction gives a 0-d scalar); a saved copy of the scalar
    is replaced by the array too, so that it is still recognised as the output."""
    out = np.asarray(value)
    if fn.saved_tensors:
        fn.saved_tensors = tuple([out if v is value else v for v in fn.saved_tensors])
    return out


def _multi_output(fn: Function, tensors: tuple, params: dict[str, Any], outs: tuple,
                  record: bool) -> tuple[Tensor, ...]:
    """The Tensors of a forward that returned a tuple of arrays: output i has ``output_index`` i."""
    outs = tuple([o if type(o) is _ndarray else _as_array(fn, o) for o in outs])
    record = record and any(o.dtype.kind == "f" for o in outs)
    results = []
    for i, out in enumerate(outs):
        t = _tensor_type._wrap(out, False)
        if record and out.dtype.kind == "f":  # (an integer output, such as indices, has no gradient)
            t.requires_grad, t.grad_fn, t.output_index = True, fn, i
        results.append(t)
    state = STATE
    if record:
        fn.inputs, fn.params, fn.scope = tensors, params, state.scope
        fn.versions = tuple([t._version for t in tensors])
        fn.results, fn.n_outputs = outs, len(outs)
    if state.sites:
        fn.created_at = _user_frame()
        if state.anomaly:
            for i, out in enumerate(outs):
                _check_finite(out, fn, f"forward (output {i})")
    return tuple(results)


def _output_tensor(fn: Function, i: int) -> Tensor:
    """Output i of a recorded node as a Tensor of the graph (the same data, node and output index)."""
    t = _tensor_type._wrap(fn.results[i], True)
    t.grad_fn, t.output_index = fn, i
    return t


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


def sum_to(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum a broadcast gradient (an array or a Tensor) back down to `shape` (broadcasting in reverse)."""
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
        grad = _sum_leading(grad, lead)
    return grad


def _sum_leading(grad: Any, lead: int) -> Any:
    """`grad` summed over its first `lead` axes (a bias's gradient: (..., N) -> (N,) and the like).

    NOTE: speed: for a float array, one matrix-vector product ones (M,) @ grad (M, N), 2-4x faster than
    NumPy's sum over axis 0 at the sizes of a layer's output.
    """
    if isinstance(grad, np.ndarray) and grad.dtype.kind == "f" and grad.ndim > lead and grad.size:
        rows = grad.reshape(-1, *grad.shape[lead:]) if lead > 1 else grad
        flat = rows.reshape(rows.shape[0], -1)
        return (np.ones(flat.shape[0], dtype=grad.dtype) @ flat).reshape(grad.shape[lead:])
    return grad.sum(axis=tuple(range(lead)))


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


class FirstOrderOnlyError(RuntimeError):
    """An op whose backward is NumPy only (``first_order_only`` set) was asked for a gradient of its
    gradient (create_graph=True, gradgradcheck)."""


def _raise_first_order_only(fn: Function) -> None:
    raise FirstOrderOnlyError(
        f"{fn.name}: its backward is first-order only (written in NumPy), so it cannot give a gradient "
        f"of a gradient (create_graph=True, gradgradcheck). {fn.first_order_only}"
    )


class _BackwardPass:
    """One backward pass: the gradient reaching each tensor so far, and the steps that move it on.

    Gradients are kept by (node, output index) for a tensor an op made, keyed by the node itself for
    output 0 (most nodes have one output) and by ``(node, i)`` for output i > 0, and by tensor for a leaf
    (nodes and tensors hash by identity). NOTE: speed: in a first-order pass they are plain arrays (see
    `Function`), and an array this pass allocated itself, that nothing else refers to yet, is `owned`
    (by id): further contributions are added into it in place instead of allocating a new sum. With
    ``create_graph`` they are Tensors throughout, so that every step is recorded.
    """

    __slots__ = ("grads", "leaves", "watched", "wanted_leaves", "owned", "create_graph", "retain_graph",
                 "report_retained", "found", "outputs")

    def __init__(self, wanted: Sequence[Tensor] | None, retain_graph: bool, create_graph: bool) -> None:
        self.grads: dict[Any, Any] = {}
        self.leaves: dict[Tensor, None] = {}  # the leaves reached, in the order reached
        self.watched: dict[Any, Tensor] = {}  # non-leaf tensors whose gradient is reported, by key
        self.wanted_leaves: set[Tensor] | None = None
        if wanted is not None:
            self.watched = {_node_key(t): t for t in wanted if t.grad_fn is not None}
            self.wanted_leaves = {t for t in wanted if t.grad_fn is None}
        self.report_retained = wanted is None  # backward() also reports tensors marked retain_grad()
        self.found: list[tuple[Tensor, Tensor]] = []  # (watched tensor, its gradient), as reached
        self.outputs: dict[Any, Tensor] = {}  # with create_graph: the output Tensor behind each key
        self.owned: set[int] = set()
        self.retain_graph, self.create_graph = retain_graph, create_graph

    def value(self, g: Any) -> Any:
        """A gradient as this pass keeps it: an array in a first-order pass, a Tensor with create_graph."""
        if self.create_graph:
            return g if isinstance(g, _tensor_type) else _tensor_type(g)
        return g._data if isinstance(g, _tensor_type) else np.asarray(g)

    def tensor(self, g: Any) -> Tensor:
        """A kept gradient as a Tensor (to report it)."""
        return g if isinstance(g, _tensor_type) else _tensor_type._wrap(g, False)

    def _key(self, x: Tensor) -> Any:
        """Where x's gradient is kept, or None when nobody asked for it (a constant, an unwanted leaf)."""
        fn = x.grad_fn
        if fn is not None:
            key = fn if x.output_index == 0 else (fn, x.output_index)
            if self.report_retained and x._retains_grad:
                self.watched[key] = x
            if self.create_graph:
                self.outputs[key] = x
            return key
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

    def take(self, fn: Function) -> tuple | None:
        """The gradients reaching the outputs of a node with several, one per output (zeros for an output
        that got none), or None when none did; each is removed from `grads` (and may be shared from
        here on) and reported when it was asked for. (`run_backward` does this inline for one output.)"""
        grads, watched = self.grads, self.watched
        keys = [fn] + [(fn, i) for i in range(1, fn.n_outputs)]
        found = [grads.pop(k, None) for k in keys]
        if all(g is None for g in found):
            return None
        for i, (k, g) in enumerate(zip(keys, found, strict=True)):
            if g is None:  # an output nobody used: zeros of its shape
                zero = np.zeros(fn.results[i].shape, dtype=fn.results[i].dtype)
                found[i] = constant(zero) if self.create_graph else zero
            else:
                self.owned.discard(id(g))
                if watched and k in watched:
                    self.found.append((watched[k], self.tensor(g)))
        return tuple(found)

    def _outputs(self, fn: Function) -> list[Tensor]:
        """fn's output Tensors (with create_graph): those this pass met, the others made from fn."""
        if fn.n_outputs == 1:
            return [self.outputs[fn]]
        met = [self.outputs.get(fn if i == 0 else (fn, i)) for i in range(fn.n_outputs)]
        return [_output_tensor(fn, i) if t is None else t for i, t in enumerate(met)]

    def step(self, fn: Function, out_grads: tuple, anomaly: bool) -> None:
        """Run fn's backward rule on the gradients of its outputs and deposit what its inputs receive."""
        if fn.released:
            _raise_released(fn)
        for x, version in zip(fn.inputs, fn.versions):
            if x._version != version:
                _raise_modified(fn)
        create_graph = self.create_graph
        grads: Any  # what backward returned: one gradient or a tuple, made a tuple below
        if not create_graph:
            if fn.scatter_into is not None:
                self.deposit_scatter(fn.inputs[0], fn, out_grads[0])
                if not self.retain_graph:
                    _release(fn)
                return
            fn.frees_saved = not self.retain_graph
            grads = _backward_with_graph(fn, out_grads, True, None) if anomaly else fn.backward(*out_grads)
        else:
            if fn.first_order_only:
                _raise_first_order_only(fn)
            fn.create_graph = True
            grads = _backward_with_graph(fn, out_grads, anomaly, self._outputs(fn))
        if type(grads) is not tuple:
            grads = (grads,)
        n = len(fn.inputs)
        if len(grads) != n:
            raise RuntimeError(f"{fn.name}.backward returned {len(grads)} gradients for {n} inputs")
        if not self.retain_graph:
            _release(fn)
        first_order = not create_graph
        for i, (x, g) in enumerate(zip(fn.inputs, grads)):
            if g is None or not x.requires_grad:
                continue
            if type(g) is not _ndarray or create_graph:
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


def _backward_with_graph(fn: Function, out_grads: tuple, anomaly: bool,
                         outputs: Sequence[Tensor] | None) -> Any:
    """fn.backward in a pass that builds a graph (its saved arrays seen as Tensors while it runs, given
    its `outputs`) or in anomaly mode (the ops inside the rule are not checked one by one: a NaN there
    is reported as this node's gradient, naming the op the user wrote rather than a helper)."""
    arrays = fn.saved_tensors
    if outputs is not None:
        fn.saved_tensors = fn._graph_saved(outputs)
    STATE.anomaly = False
    try:
        return fn.backward(*out_grads)
    finally:
        STATE.anomaly = anomaly
        fn.saved_tensors = arrays
        fn.create_graph = False  # the class default: what a first-order backward reads


def _node_key(t: Tensor) -> Any:
    """Where a backward pass keeps the gradient of a tensor an op made (see `_BackwardPass`)."""
    return t.grad_fn if t.output_index == 0 else (t.grad_fn, t.output_index)


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
    every leaf that requires grad and every tensor marked with ``retain_grad()``. `create_graph` is
    handed to every node's backward (``fn.create_graph``); grad mode is set to it only so that the
    Tensor ops of a rule record a graph exactly when one is asked for.
    """
    state = _BackwardPass(wanted, retain_graph, create_graph)
    anomaly = STATE.anomaly
    with _GradMode(create_graph):
        for root, seed in zip(roots, root_grads, strict=True):
            state.deposit(root, state.value(seed))
        grads, owned, watched = state.grads, state.owned, state.watched
        g: Any
        out_grads: Any
        for fn in reversed(toposort(roots)):
            if fn.n_outputs == 1:  # NOTE: speed: most nodes, so `take` is inlined for them
                g = grads.pop(fn, None)
                if g is None:
                    continue
                owned.discard(id(g))  # from here on it may be shared (e.g. Add passes it on twice)
                if watched and fn in watched:
                    state.found.append((watched[fn], state.tensor(g)))
                out_grads = (g,)
            else:
                out_grads = state.take(fn)
                if out_grads is None:
                    continue
            state.step(fn, out_grads, anomaly)
            g = out_grads = None  # NOTE: memory: hold no gradient past its node (the next may be large)
    return state.found + [(x, state.tensor(state.grads[x])) for x in state.leaves]


def node_backward(fn: Function, out_grads: Sequence[Any]) -> tuple[np.ndarray | None, ...]:
    """What `fn`'s backward sends to each of its inputs, given one gradient per output (arrays): a
    first-order pass over this one node that keeps its saved values; each result is summed to its
    input's shape (None for an input that gets none). For pictures that split a gradient by reader."""
    if fn.released:
        _raise_released(fn)
    fn.frees_saved = False  # the node keeps its saved values
    with _GradMode(False):
        grads = fn.backward(*[g._data if isinstance(g, _tensor_type) else np.asarray(g) for g in out_grads])
    if type(grads) is not tuple:
        grads = (grads,)
    result: list[np.ndarray | None] = []
    for x, g in zip(fn.inputs, grads, strict=True):
        if g is not None:
            g = np.asarray(sum_to(g._data if isinstance(g, _tensor_type) else np.asarray(g), x.shape))
        result.append(g)
    return tuple(result)


def _release(fn: Function) -> None:
    """Free what forward saved for backward; the graph's structure (inputs, scope) stays."""
    fn.released = True
    fn.params = _NO_PARAMS
    fn.saved_tensors = _RELEASED


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


