"""Pictures of the computation graph: DOT text, a `graphviz.Source`, or an SVG / PNG / PDF file.

One rounded box per op, which also stands for the tensor the op made (op name, shape, dtype, gradient
norm); one record per leaf tensor: parameters (named from a Module or a dict), inputs, constants and
detached tensors. Scopes become nested clusters; the time steps of a recurrent layer (scopes named
``t=0``, ``t=1``, ...) are laid out left to right, and a tensor they share (a weight) is drawn once with
an edge into each step. Gradients are computed from the graph itself with
``grad(roots, every tensor, retain_graph=True)``, so call `render` before ``backward()`` or use
``backward(retain_graph=True)``; after a backward that released the graph only the leaves' ``.grad``
(and retained gradients) can be shown, and the legend says so. `step_grads` splits a shared weight's
gradient into what each time step contributes (the shares add up to the gradient).

    >>> from tinygrad_seq import Tensor, graph
    >>> x, w = Tensor([1.0, 2.0]), Tensor([0.5, -1.0], requires_grad=True)
    >>> text = graph.to_dot((x * w).sum(), params={"w": w})
    >>> graph.render((x * w).sum(), path="out/xw.svg")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections import deque
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import numpy as np

from . import autograd
from .autograd import Function, toposort
from .tensor import DETACHED, Tensor

if TYPE_CHECKING:
    import graphviz

__all__ = ["GraphvizNotFound", "draw", "render", "step_grads", "to_dot"]

_STEP = re.compile(r"t=(\d+)$")
_FORMATS = ("svg", "png", "pdf", "dot")
_INSTALL = (
    "Install Graphviz and try again: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz` (conda), "
    "`winget install graphviz` (Windows)."
)
# Gradient norms on a fixed log scale, dark blue (vanishing) -> green -> yellow -> red (exploding). Fixed,
# not fitted to each picture, so that two pictures (an RNN's and an LSTM's) can be compared.
_SCALE = ((-8, "#1a237e"), (-6, "#2166ac"), (-4, "#26a69a"), (-2, "#66bd63"), (0, "#fee04c"), (2, "#d73027"))
_ZERO, _BAD = "#e0e0e0", "#ff00ff"  # exactly zero (cut off, e.g. by a detach); NaN or Inf
_OP, _PARAM, _INPUT, _LOSS = "#dbe7f5", "#fff1c1", "#f2f2f2", "#e6d3f5"
_SHARE, _CUT = "#b8860b", "#d62728"


class GraphvizNotFound(RuntimeError):
    """The `dot` program (or the `graphviz` Python package) is missing; the DOT text was written instead."""


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


def _fmt(v: float) -> str:
    return "0" if v == 0 else f"{v:.1e}"


def _colour(norm: float) -> str:
    """The colour of a gradient norm on the fixed log scale (linear in log10 between the stops)."""
    if norm == 0:
        return _ZERO
    if not math.isfinite(norm):
        return _BAD
    x = min(max(math.log10(norm), _SCALE[0][0]), _SCALE[-1][0])
    for (x0, c0), (x1, c1) in zip(_SCALE, _SCALE[1:]):
        if x <= x1:
            f = (x - x0) / (x1 - x0)
            rgb = (round(int(c0[i:i + 2], 16) * (1 - f) + int(c1[i:i + 2], 16) * f) for i in (1, 3, 5))
            return "#" + "".join(f"{v:02x}" for v in rgb)
    return _SCALE[-1][1]


def _ink(fill: str) -> str:
    """Black or white text, whichever reads on `fill`."""
    r, g, b = (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"


def _q(s: str) -> str:
    """A DOT double-quoted string; a newline becomes a centred line break."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**kw: Any) -> str:
    return ", ".join(f"{k}={v if isinstance(v, int | float) else _q(str(v))}" for k, v in kw.items())


def _field(s: str) -> str:
    """One field of a record label, with the record syntax characters escaped."""
    return re.sub(r"([{}|<>])", r"\\\1", s)


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shape(t: Tensor) -> str:
    return f"{t.shape if t.shape else 'scalar'} {t.dtype}"


def _values(a: np.ndarray) -> str:
    if a.size <= 6:
        return np.array2string(a.ravel(), precision=3, separator=", ", suppress_small=True)
    return f"mean {a.mean():.3g}, std {a.std():.3g}"


def _names(params: Any) -> dict[int, str]:
    """id(tensor) -> name, from anything with `named_parameters()` (a Module) or a dict name -> Tensor."""
    if params is None:
        return {}
    pairs = params.named_parameters() if hasattr(params, "named_parameters") else params.items()
    return {id(t): str(name) for name, t in pairs}


@functools.lru_cache(maxsize=4096)  # every op of a step shares one scope tuple
def _step(scope: tuple[str, ...]) -> tuple[tuple[str, ...], int] | None:
    """(scope of the unrolled layer, k) for the deepest ``t=k`` in `scope`, or None."""
    for j in range(len(scope) - 1, -1, -1):
        m = _STEP.match(scope[j])
        if m:
            return scope[:j], int(m.group(1))
    return None


@functools.lru_cache(maxsize=4096)
def _step_name(scope: tuple[str, ...]) -> str | None:
    """The dotted name of the time step an op ran in ("lstm.l0.t=3"), or None."""
    s = _step(scope)
    return None if s is None else ".".join(s[0] + (f"t={s[1]}",))


def _common(scopes: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The longest common prefix of some scopes."""
    first = scopes[0] if scopes else ()
    n = len(first)
    for s in scopes[1:]:
        n = min(n, len(s))
        n = next((j for j in range(n) if s[j] != first[j]), n)
    return first[:n]


# ---------------------------------------------------------------------------------------------
# the graph and its gradients
# ---------------------------------------------------------------------------------------------


class _Graph:
    """The ops behind `roots` in topological order, the tensor each op made, the leaves, who reads what."""

    def __init__(self, roots: Sequence[Tensor]) -> None:
        self.roots = list(roots)
        self.order: list[Function] = toposort(self.roots)
        self.pos = {id(fn): i for i, fn in enumerate(self.order)}
        self.out: dict[int, Tensor] = {id(r.grad_fn): r for r in self.roots if r.grad_fn is not None}
        self.leaves: dict[int, Tensor] = {}  # in order of first use
        self.users: dict[int, list[Function]] = {}  # id(tensor) -> the ops that read it, each once
        for fn in self.order:
            for x in fn.inputs:
                if x.grad_fn is not None:
                    self.out.setdefault(id(x.grad_fn), x)
                else:
                    self.leaves.setdefault(id(x), x)
                users = self.users.setdefault(id(x), [])
                if not users or users[-1] is not fn:
                    users.append(fn)
        for r in self.roots:
            if r.grad_fn is None:
                self.leaves.setdefault(id(r), r)
        self.released = any(fn.released for fn in self.order)
        self._parts: dict[int, tuple] = {}

    def gradients(self) -> tuple[dict[int, np.ndarray], str]:
        """id(tensor) -> d(sum of roots)/d(tensor), and a note on where the numbers come from."""
        if self.released:
            grads = {id(t): t.grad.numpy() for t in self.leaves.values() if t.grad is not None}
            grads.update((id(t), t.grad.numpy()) for t in self.out.values() if t.grad is not None)
            return grads, (
                "the graph was released by backward(): only .grad of leaves (and retained tensors) is "
                "shown; render before backward(), or call backward(retain_graph=True)"
            )
        outputs = [r for r in self.roots if r.grad_fn is not None]
        wanted = [self.out[id(fn)] for fn in self.order]
        wanted += [t for t in self.leaves.values() if t.requires_grad]
        if not outputs:
            return {}, "nothing in this graph requires grad"
        seeds = [np.ones(r.shape, dtype=r.dtype) for r in outputs]
        try:
            found = autograd.grad(outputs, wanted, grad_outputs=seeds, retain_graph=True)
        except (RuntimeError, FloatingPointError) as err:
            return {}, f"no gradients: {err}"
        what = "loss" if len(outputs) == 1 and outputs[0].size == 1 else "(sum of the roots)"
        return {id(t): g.numpy() for t, g in zip(wanted, found)}, f"‖g‖ = norm of d{what} / d(tensor)"

    def share(self, fn: Function, x: Tensor, grads: dict[int, np.ndarray]) -> np.ndarray | None:
        """The gradient that `fn`'s backward sends to its input `x` (its share of x's gradient)."""
        if id(fn) not in self._parts:
            g = grads.get(id(self.out[id(fn)]))
            if g is None:
                return None
            with autograd.no_grad():
                parts = fn.backward(Tensor(g))
            self._parts[id(fn)] = parts if isinstance(parts, tuple) else (parts,)
        total = np.zeros(x.shape, dtype=x.dtype)
        for y, part in zip(fn.inputs, self._parts[id(fn)]):
            if y is x and part is not None:
                total += autograd.sum_to(part if isinstance(part, Tensor) else Tensor(part), x.shape).numpy()
        return total


def step_grads(*roots: Tensor, tensor: Tensor) -> dict[str, np.ndarray]:
    """Split d(sum of roots)/d(tensor) into what each time step contributes; the parts add up to it.

    This is BPTT's sum over time for a shared weight: ``{"rnn.t=0": dW_0, "rnn.t=1": dW_1, ...}``,
    keyed by the dotted name of the step's scope. A step's part is the gradient that the ops of that
    step send back to `tensor`, also through ops outside the steps that prepare it (``W_hh.T``, or an
    input projection computed once for all steps). Gradient that reaches `tensor` without passing
    through a time step (an output layer) is keyed by the dotted scope of the op that reads it ("" at
    the top level). Needs the graph: call it before ``backward()`` or after ``backward(retain_graph=True)``.

    Example: ``sum(step_grads(loss, tensor=w_hh).values())`` equals ``w_hh.grad`` after backward.
    """
    g = _Graph(roots)
    if g.released:
        raise RuntimeError(
            "step_grads: the graph was released by backward(); call it before backward(), or call "
            "backward(retain_graph=True)"
        )
    if not tensor.requires_grad:
        raise ValueError(f"step_grads: the tensor of shape {tensor.shape} does not require grad")
    grads, _ = g.gradients()
    reaches: set[int] = set()  # ops in a step, or with a path into one
    for fn in reversed(g.order):
        if _step(fn.scope) or any(id(u) in reaches for u in g.users.get(id(g.out[id(fn)]), [])):
            reaches.add(id(fn))
    # walk forward from `tensor` through the ops that prepare it for the steps; every other read is a boundary
    boundary, seen, stack = [], {id(tensor)}, [tensor]
    while stack:
        u = stack.pop()
        for fn in g.users.get(id(u), []):
            if _step(fn.scope) is None and id(fn) in reaches:
                out = g.out[id(fn)]
                if id(out) not in seen:
                    seen.add(id(out))
                    stack.append(out)
            else:
                boundary.append((u, fn))
    seeds: dict[str, dict[int, list]] = {}  # step name -> id(u) -> [u, gradient the step sends to u]
    for u, fn in sorted(boundary, key=lambda e: g.pos[id(e[1])]):
        part = g.share(fn, u, grads)
        if part is not None:
            entry = seeds.setdefault(_step_name(fn.scope) or ".".join(fn.scope), {}).setdefault(id(u), [u, 0])
            entry[1] = entry[1] + part
    result = {}
    for key, by_u in seeds.items():
        total = np.zeros(tensor.shape, dtype=tensor.dtype)
        direct = by_u.pop(id(tensor), None)
        if direct is not None:
            total += direct[1]
        if by_u:  # pull the step's part back through the preparing ops
            us = [u for u, _ in by_u.values()]
            seeds_u = [s for _, s in by_u.values()]
            (pulled,) = autograd.grad(us, [tensor], grad_outputs=seeds_u, retain_graph=True)
            total += pulled.numpy()
        result[key] = total
    return result


# ---------------------------------------------------------------------------------------------
# layout: which node draws each op and leaf, in which cluster
# ---------------------------------------------------------------------------------------------


class _Item:
    """One drawn node: an op, a leaf, a collapsed scope ("box") or elided time steps ("gap")."""

    __slots__ = ("key", "kind", "where", "fn", "tensor", "ops", "steps", "outs", "root")

    def __init__(self, key: tuple, kind: str, where: tuple[str, ...]) -> None:
        self.key, self.kind, self.where = key, kind, where
        self.fn: Function | None = None
        self.tensor: Tensor | None = None
        self.ops, self.steps, self.outs, self.root = 0, [], {}, False


def _layout(g: _Graph, group: str | None, collapse: Any, max_steps: int | None) -> tuple[dict, dict]:
    """The drawn items (in topological order) and, for each op and leaf, the key of the item drawing it."""
    pats = None if collapse is None or isinstance(collapse, int) else [str(p) for p in collapse]
    hidden: set[tuple[tuple[str, ...], str]] = set()  # (unroll scope, "t=k") of elided steps
    if max_steps is not None:
        unrolls: dict[tuple[str, ...], set[int]] = {}
        for fn in g.order:
            s = _step(fn.scope)
            if s:
                unrolls.setdefault(s[0], set()).add(s[1])
        for parent, ks in unrolls.items():
            ks = sorted(ks)
            if len(ks) > max_steps:
                head, tail = (max_steps + 1) // 2, max_steps // 2
                hidden.update((parent, f"t={k}") for k in ks[head:len(ks) - tail])

    homes: dict[tuple[str, ...], tuple | None] = {}

    def scope_home(s: tuple[str, ...]) -> tuple | None:
        """The gap or box that swallows the ops of scope `s` (None: drawn one by one)."""
        if s not in homes:
            homes[s] = None
            for j in range(1, len(s) + 1):
                if (s[:j - 1], s[j - 1]) in hidden:
                    homes[s] = ("gap", s[:j - 1])
                    break
                if (isinstance(collapse, int) and j > collapse) or (
                    pats and any(fnmatchcase(".".join(s[:j]), p) for p in pats)
                ):
                    homes[s] = ("box", s[:j])
                    break
        return homes[s]

    root_ids = {id(r) for r in g.roots}
    fn_home: dict[int, tuple] = {}
    for fn in g.order:
        home = scope_home(fn.scope)
        if home is None and id(g.out[id(fn)]) not in root_ids:
            # an op fed only by elided steps is elided with them; one fed only by a time step's box, in
            # the layer's scope (the layer stacking that step's output after its loop), joins the box
            srcs = {fn_home[id(x.grad_fn)] for x in fn.inputs if x.grad_fn is not None}
            src = next(iter(srcs)) if len(srcs) == 1 else ("op",)
            if src[0] == "gap" or (src[0] == "box" and fn.scope == src[1][:-1] and _STEP.match(src[1][-1])):
                home = src
        fn_home[id(fn)] = home or ("op", id(fn))

    place = (lambda s: s) if group == "scope" else (lambda s: ())

    def where_of(home: tuple, scope: tuple[str, ...]) -> tuple[str, ...]:
        return place(home[1][:-1] if home[0] == "box" else home[1] if home[0] == "gap" else scope)

    items: dict[tuple, _Item] = {}
    key_of: dict[int, tuple] = {}
    for fn in g.order:
        for x in fn.inputs:  # a leaf is numbered just before its first reader: numbering stays topological
            if x.grad_fn is None and id(x) not in key_of:
                readers = g.users[id(x)]
                their = {fn_home[id(u)] for u in readers}
                small = x.size == 1 and not x.requires_grad
                home = next(iter(their))
                if len(their) == 1 and (home[0] == "gap" or (home[0] == "box" and small)):
                    key_of[id(x)] = home  # a constant inside a box, or anything only elided steps read
                    continue
                it = items[("leaf", id(x))] = _Item(
                    ("leaf", id(x)), "leaf", _common([where_of(fn_home[id(u)], u.scope) for u in readers])
                )
                it.tensor, key_of[id(x)] = x, it.key
        home = fn_home[id(fn)]
        it = items.get(home)
        if it is None:
            it = items[home] = _Item(home, home[0], where_of(home, fn.scope))
        out = g.out[id(fn)]
        if home[0] == "op":
            it.fn, it.tensor = fn, out
        it.ops += 1
        s = _step(fn.scope)
        if home[0] == "gap" and s and s[0] == home[1] and s[1] not in it.steps:
            it.steps.append(s[1])
        if id(out) in root_ids:
            it.root = True
            it.outs.setdefault(id(out), out)
            if it.tensor is None:  # a box or gap shows the value of the root it holds
                it.tensor = out
        key_of[id(fn)] = home
    for r in g.roots:
        if r.grad_fn is None and id(r) not in key_of:
            it = items[("leaf", id(r))] = _Item(("leaf", id(r)), "leaf", ())
            it.tensor, it.root, key_of[id(r)] = r, True, it.key
    return items, key_of


# ---------------------------------------------------------------------------------------------
# DOT text
# ---------------------------------------------------------------------------------------------


def to_dot(
    *roots: Tensor,
    group: str | None = "scope",
    collapse: int | Sequence[str] | None = None,
    max_steps: int | None = None,
    show_values: bool = False,
    show_grad: bool = True,
    per_step_grad: bool = False,
    params: Any = None,
    rankdir: str = "LR",
    legend: bool = True,
) -> str:
    """The graph behind `roots` as DOT text; the same graph always gives the same text.

    Parameters
    ----------
    roots : the tensors to draw back from (usually the loss).
    group : "scope" draws each scope as a cluster (time steps ``t=k`` left to right); None draws none.
    collapse : an int d: scopes deeper than d become one box each; or glob patterns matched against the
        dot-joined scope name (``["*.t=*"]``: each time step of every recurrent layer is one box). A box
        shows the scope's name, its op count and its output shapes; an op just outside it that reads only
        its output (a layer stacking a time step's output after its loop) is counted in it.
    max_steps : an unroll longer than this shows its first and last ``max_steps/2`` steps and one
        "... N steps ..." node between them.
    show_values, show_grad : add values (small tensors) / gradient norms to the labels. Gradients colour
        the ops on a fixed log scale and label the hidden state passed from step to step.
    per_step_grad : label each edge carrying a parameter, or a tensor read in several time steps, with
        the share of its gradient that this edge brings back; the shares add up (see `step_grads`).
    params : a Module (anything with ``named_parameters()``) or a dict name -> Tensor naming leaves.
    rankdir : Graphviz's layout direction ("LR": time flows left to right).
    legend : add a legend node.

    Nodes are numbered n0, n1, ... in topological order (each leaf just before its first reader).

    Example: ``to_dot(loss, params=model, collapse=["*.t=*"], max_steps=6)``
    """
    g = _Graph(roots)
    names = _names(params)
    grads, note = g.gradients() if show_grad else ({}, "")
    items, key_of = _layout(g, group, collapse, max_steps)

    # edges: (src key, dst key, id(tensor)) -> [tensor, share of its gradient or None, hidden state?]
    edges: dict[tuple, list] = {}
    for fn in g.order:
        dst = key_of[id(fn)]
        for x in fn.inputs:
            src = key_of[id(x.grad_fn) if x.grad_fn is not None else id(x)]
            if src != dst:
                a, b = (_step(x.grad_fn.scope) if x.grad_fn is not None else None), _step(fn.scope)
                state = bool(a and b and a[0] == b[0] and abs(a[1] - b[1]) == 1)
                edges.setdefault((src, dst, id(x)), [x, None, state])
                if items[src].kind == "box":
                    items[src].outs.setdefault(id(x), x)
    if per_step_grad and grads and not g.released:
        shared: dict[int, bool] = {}  # id(tensor) -> a parameter, or read in several steps from outside them
        for (_, dst, _), e in edges.items():
            x = e[0]
            readers = g.users.get(id(x), [])
            if id(x) not in shared:
                steps = {_step_name(u.scope) for u in readers} - {None}
                outside = x.grad_fn is None or _step(x.grad_fn.scope) is None
                shared[id(x)] = (x.grad_fn is None and x.requires_grad) or (outside and len(steps) > 1)
            if shared[id(x)]:
                parts = [g.share(u, x, grads) for u in readers if key_of[id(u)] == dst]
                e[1] = sum(p for p in parts if p is not None)
    cuts = _cuts(g, items, key_of)  # leaf key -> key of the node it was cut from (None: not drawn)

    number = {key: f"n{i}" for i, key in enumerate(items)}
    record = "{%s}" if rankdir in ("TB", "BT") else "%s"  # fields stack across the rank direction
    lines = {key: f"{number[key]} [{_node(it, names, grads, show_values, cuts, record)}];"
             for key, it in items.items()}
    graph_attrs = _attrs(rankdir=rankdir, fontname="Helvetica", fontsize=11, newrank="true", nodesep=0.25,
                         ranksep=0.35)
    out = [
        "digraph tinygrad_seq {",
        f"  graph [{graph_attrs}];",
        f"  node [{_attrs(fontname='Helvetica', fontsize=10)}];",
        f"  edge [{_attrs(fontname='Helvetica', fontsize=9, color='#555555', arrowsize=0.6)}];",
    ]
    out += _clusters(items, lines)
    for (src, dst, _), (x, share, state) in edges.items():
        attrs: dict[str, Any] = {}
        if state:
            attrs["penwidth"] = 2.5
            if id(x) in grads:
                norm = _norm(grads[id(x)])
                attrs.update(color=_colour(norm), label=f"‖g‖ {_fmt(norm)}")
        if share is not None:
            attrs.update(color=_SHARE, fontcolor=_SHARE, label=f"‖g‖ {_fmt(_norm(share))}")
        out.append(f"  {number[src]} -> {number[dst]}" + (f" [{_attrs(**attrs)}];" if attrs else ";"))
    for key, skey in cuts.items():
        if skey is not None and skey != key:
            style = _attrs(style="dashed", color=_CUT, fontcolor=_CUT, penwidth=1.5, label="✂ detach")
            out.append(f"  {number[skey]} -> {number[key]} [{style}];")
    links = [(a, b) for a, b, _ in edges]
    out += _time_order(items, links, number) + _cut_order(items, cuts, links, number)
    if legend:
        state = any(e[2] for e in edges.values())
        shares = any(e[1] is not None for e in edges.values())
        out.append(f"  legend [{_legend(grads, note, state, shares, bool(cuts))}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns the memory `a` views."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _cuts(g: _Graph, items: dict[tuple, _Item], key_of: dict[int, tuple]) -> dict[tuple, tuple | None]:
    """Leaves cut from a graph (truncation points) -> the drawn node they were cut from (None: not drawn).

    A leaf whose memory `detach()` registered (the detached tensor, or a view of it that a layer took,
    ``h.detach()[0]``) was cut from the tensor detached; a leaf made by hand from an op's values
    (``Tensor(h.data)``) shares that op's memory.
    """
    owners: dict[int, list[Tensor]] = {}
    for fn in g.order:
        t = g.out[id(fn)]
        owners.setdefault(id(_owner(t.numpy())), []).append(t)
    cuts: dict[tuple, tuple | None] = {}
    for key, it in items.items():
        x = it.tensor
        if it.kind != "leaf" or x.requires_grad:
            continue
        owner = _owner(x.numpy())
        entry = DETACHED.get(id(owner))
        if entry is not None and entry[0]() is owner:
            src = entry[1]()
        else:
            where = (x.numpy().__array_interface__["data"][0], x.shape, x.numpy().strides)
            same = owners.get(id(owner), [])
            exact = [t for t in same
                     if (t.numpy().__array_interface__["data"][0], t.shape, t.numpy().strides) == where]
            src = (exact or same or [None])[0]
            if src is None:
                continue
        cuts[key] = None if src is None else _drawn_ancestor(src, key_of)
    return cuts


def _drawn_ancestor(t: Tensor, key_of: dict[int, tuple]) -> tuple | None:
    """The key of the drawn node nearest to `t` walking back through its graph (breadth first)."""
    queue, seen = deque([t]), {id(t)}
    while queue:
        t = queue.popleft()
        key = key_of.get(id(t.grad_fn) if t.grad_fn is not None else id(t))
        if key is not None:
            return key
        for x in t.grad_fn.inputs if t.grad_fn is not None else ():
            if id(x) not in seen:
                seen.add(id(x))
                queue.append(x)
    return None


def _node(it: _Item, names: dict, grads: dict, show_values: bool, cuts: dict, record: str) -> str:
    """The attributes of one node."""
    t = it.tensor
    norm = _norm(grads[id(t)]) if t is not None and id(t) in grads else None
    if it.kind == "leaf":
        extra: dict[str, Any] = {}
        if t.requires_grad:
            head, fill, extra["penwidth"] = names.get(id(t), "parameter"), _PARAM, 1.5
        elif it.key in cuts:
            head, fill = "✂ detached" + ("" if cuts[it.key] is not None else " (source not drawn)"), "white"
            extra.update(color=_CUT, style="filled,dashed")
        elif t.size == 1 and id(t) not in names:
            return _attrs(shape="plaintext", label=f"{t.item():.4g}", fontsize=9, fontcolor="#555555")
        else:
            head, fill = names.get(id(t), "input" if np.any(t.numpy()) else "zeros"), _INPUT
        fields = [head, _shape(t)] + ([_values(t.numpy())] if show_values else [])
        if norm is not None:
            fields.append(f"‖grad‖ {_fmt(norm)}")
        if it.root:
            fill, extra["peripheries"] = _LOSS, 2
        label = record % "|".join(_field(f) for f in fields)
        return _attrs(**{"shape": "record", "style": "filled", "fillcolor": fill, "label": label, **extra})
    if it.kind == "gap":
        ks = sorted(it.steps)
        label = f"… {len(ks)} steps …\nt={ks[0]} … t={ks[-1]}\n{it.ops} ops" if ks else f"… {it.ops} ops …"
        return _attrs(shape="box", style="rounded,dashed", color="#777777", label=label)
    if it.kind == "box":
        outs = list(it.outs.values())
        name = it.key[1][-1] if it.where == it.key[1][:-1] else ".".join(it.key[1])
        lines = [name, f"{it.ops} ops"]
        if outs:
            shapes = ", ".join(dict.fromkeys(str(x.shape) if x.shape else "scalar" for x in outs))
            lines.append(f"→ {shapes} " + "/".join(dict.fromkeys(str(x.dtype) for x in outs)))
        found = [grads[id(x)] for x in outs if id(x) in grads]
        if found and not it.root:
            norm = math.sqrt(sum(_norm(a) ** 2 for a in found))
            lines.append(f"‖g‖ {_fmt(norm)}")
    else:
        lines = [it.fn.name, _shape(t)] + ([_values(t.numpy())] if show_values and not it.root else [])
        if norm is not None and not it.root:
            lines.append(f"‖g‖ {_fmt(norm)}")
    if it.root:
        value = [f"= {t.item():.4g}"] if t is not None and t.size == 1 else []
        return _attrs(shape="box", style="rounded,filled", peripheries=2, fillcolor=_LOSS,
                      label="\n".join(["loss: " + lines[0]] + lines[1:] + value))
    fill = _colour(norm) if norm is not None else _OP
    return _attrs(shape="box", style="rounded,filled", fillcolor=fill, fontcolor=_ink(fill),
                  label="\n".join(lines))


def _clusters(items: dict[tuple, _Item], lines: dict[tuple, str]) -> list[str]:
    """Node lines nested in one cluster per scope (walked with a stack, not recursion)."""
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {(): []}
    members: dict[tuple[str, ...], list[tuple]] = {(): []}
    for key, it in items.items():
        for j in range(1, len(it.where) + 1):
            s = it.where[:j]
            if s not in children:
                children[s], members[s] = [], []
                children[s[:-1]].append(s)
        members[it.where].append(key)
    out: list[str] = []
    count = 0
    stack: list[tuple[tuple[str, ...], bool]] = [((), False)]
    while stack:
        s, done = stack.pop()
        pad = "  " * (len(s) + 1)
        if done:
            out.append(pad[:-2] + "}")
            continue
        if s:
            if _STEP.match(s[-1]):
                style = _attrs(label=s[-1], style="rounded,filled", fillcolor="#f5f8fc", color="#9fb3d1")
            else:
                style = _attrs(label=s[-1], style="rounded,dashed", color="#888888", labeljust="l")
            out += [f"{pad[:-2]}subgraph cluster_{count} {{", f"{pad}graph [{style}];"]
            count += 1
            stack.append((s, True))
        out += [pad + lines[key] for key in members[s]]
        stack += [(c, False) for c in reversed(children[s])]
    return out


def _time_order(items: dict[tuple, _Item], links: list[tuple[tuple, tuple]], number: dict) -> list[str]:
    """Invisible edges that put every node of step k left of every node of step k+1 (and the gap between).

    Each step's exits (no successor inside the step) point to the next step's entries (no predecessor
    inside it). Without them, steps whose first op does not depend on the previous step (x_t @ W_ih)
    would be stacked on top of each other instead of laid out in time.
    """
    step: dict[tuple, tuple] = {}
    for key, it in items.items():
        if it.kind == "gap":
            step[key] = (it.key[1], sum(it.steps) / max(len(it.steps), 1))
            continue
        s = _step(it.key[1] if it.kind == "box" else it.fn.scope if it.kind == "op" else it.where)
        if s:
            step[key] = s
    has_in, has_out = set(), set()
    for a, b in links:
        if a in step and step.get(b) == step[a]:
            has_out.add(a)
            has_in.add(b)
    unrolls: dict[tuple[str, ...], dict[float, list[tuple]]] = {}
    for key, (parent, k) in step.items():
        unrolls.setdefault(parent, {}).setdefault(k, []).append(key)
    out = []
    for by_step in unrolls.values():
        ks = sorted(by_step)
        for k0, k1 in zip(ks, ks[1:]):
            exits = [key for key in by_step[k0] if key not in has_out]
            entries = [key for key in by_step[k1] if key not in has_in]
            out += [f"  {number[a]} -> {number[b]} [style=invis];" for a in exits for b in entries]
    return out


def _cut_order(items: dict[tuple, _Item], cuts: dict, links: list[tuple], number: dict) -> list[str]:
    """Invisible edges that put the scope a truncation point feeds (the next chunk) right of its source."""
    out = []
    for key, skey in cuts.items():
        if skey is None:
            continue
        a, b = items[skey].where, items[key].where
        j = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
        if j < len(b):
            inside = {k for k, it in items.items() if it.where[: j + 1] == b[: j + 1]}
            fed = {d for s, d in links if s in inside}
            out += [f"  {number[skey]} -> {number[k]} [style=invis];" for k in items if k in inside - fed]
    return out


def _legend(grads: dict, note: str, state: bool, shares: bool, cut: bool) -> str:
    """One HTML-table node explaining the shapes, the edges and the gradient colour scale."""

    def row(swatch: str, text: str, fill: str = "") -> str:
        bg = f' BGCOLOR="{fill}"' if fill else ""
        return f'<TR><TD{bg}>{swatch}</TD><TD ALIGN="LEFT">{_html(text)}</TD></TR>'

    rows = [
        '<TR><TD COLSPAN="2"><B>legend</B></TD></TR>',
        row("name", "parameter (a leaf that requires grad)", _PARAM),
        row("input", "input or constant (no gradient)", _INPUT),
        row("Op", "an op and the tensor it makes", _OP),
        row("loss", "the root (loss)", _LOSS),
    ]
    if state:
        rows.append(row("━━▶", "hidden state passed to the next time step"))
    if shares:
        rows.append(row(f'<FONT COLOR="{_SHARE}">──▶</FONT>', "its share of the gradient; shares add up"))
    if cut:
        rows.append(row(f'<FONT COLOR="{_CUT}">✂ ╌╌▶</FONT>', "detach: no gradient flows back"))
    if grads:
        cells = [f'<TD BGCOLOR="{_ZERO}">0</TD>'] + [
            f'<TD BGCOLOR="{c}"><FONT COLOR="{_ink(c)}">1e{x:+d}</FONT></TD>' for x, c in _SCALE
        ]
        rows.append('<TR><TD COLSPAN="2">gradient norm ‖g‖, log scale</TD></TR>')
        scale = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3"><TR>' + "".join(cells)
        rows.append(f'<TR><TD COLSPAN="2">{scale}</TR></TABLE></TD></TR>')
    if note:
        rows.append(f'<TR><TD COLSPAN="2"><FONT POINT-SIZE="8">{_html(note)}</FONT></TD></TR>')
    table = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>"
    return f"shape=plaintext, fontsize=9, label=<{table}>"


# ---------------------------------------------------------------------------------------------
# pictures
# ---------------------------------------------------------------------------------------------


def draw(*roots: Tensor, **opts: Any) -> graphviz.Source:
    """The graph as a `graphviz.Source` (shows inline in Jupyter); options as in `to_dot`."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("draw needs the graphviz Python package: pip install graphviz") from None
    return graphviz.Source(to_dot(*roots, **opts))


def render(*roots: Tensor, path: str | os.PathLike, format: str | None = None, **opts: Any) -> str:  # noqa: A002
    """Write the graph to `path` as SVG, PNG, PDF or DOT text (the format defaults to the suffix).

    Without Graphviz's `dot` program the DOT text is written next to `path` (same name, ``.dot``) and
    `GraphvizNotFound` says how to install Graphviz. Returns the path written. Options as in `to_dot`.
    dot's layout time grows fast with the node count: draw long unrolls with ``collapse=["*.t=*"]``
    and ``max_steps`` (a 200-step LSTM op by op is 3,400 nodes and takes dot minutes; collapsed with
    ``max_steps=6``, under a second).

    Example: ``render(loss, path="out/rnn.png", collapse=["*.t=*"], max_steps=6)``
    """
    path = os.fspath(path)
    stem, suffix = os.path.splitext(path)
    fmt = (format or suffix.lstrip(".") or "svg").lower()
    if fmt not in _FORMATS:
        raise ValueError(f"render: format {fmt!r} is not one of {', '.join(_FORMATS)}")
    if not suffix:
        path = f"{path}.{fmt}"
    text = to_dot(*roots, **opts)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    dot_path = f"{stem}.dot"
    if fmt != "dot":
        try:
            import graphviz
        except ImportError:
            missing = "the graphviz Python package is not installed (pip install graphviz)"
        else:
            try:
                data = graphviz.pipe("dot", fmt, text.encode("utf-8"))
            except graphviz.ExecutableNotFound:
                missing = "Graphviz's `dot` program was not found on PATH"
            else:
                with open(path, "wb") as f:
                    f.write(data)
                return path
    with open(dot_path, "w", encoding="utf-8") as f:
        f.write(text)
    if fmt == "dot":
        return dot_path
    raise GraphvizNotFound(
        f"render: {missing}, so {path} was not drawn. The graph was written as DOT text to {dot_path} "
        f"(make the picture later with `dot -T{fmt} {dot_path} -o {path}`). {_INSTALL}"
    )
