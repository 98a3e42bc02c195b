"""Pictures of the computation graph: DOT text, a `graphviz.Source`, or an SVG / PNG / PDF file.

One rounded box per op, which also stands for the tensor the op made (op name, shape, dtype, gradient
norm); one record per leaf tensor: parameters (named from a Module or a dict), inputs, constants and
detached tensors. Scopes become nested clusters; the time steps of a recurrent layer (scopes named
``t=0``, ``t=1``, ...) are laid out in time order (`graph_layout`: one row, or downwards), and a
tensor they share (a weight) is drawn once with an edge into each step; a detached tensor gets a dashed
edge from the tensor it was cut from.
Gradients are computed from the graph itself (`tinygrad_seq.graph_analysis`) with
``grad(roots, every tensor, retain_graph=True)``, so call `render` before ``backward()`` or use
``backward(retain_graph=True)``; after a backward that released the graph only the leaves' ``.grad``
(and retained gradients) can be shown, and the legend says so. `step_grads` (from `graph_analysis`,
re-exported here) splits a shared weight's gradient into what each time step contributes (the shares
add up to the gradient).

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
import shutil
from collections import deque
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import numpy as np

from . import graph_layout
from .autograd import Function
from .explorer import explore
from .extras import install_hint, require
from .graph_analysis import (
    STEP,
    Graph,
    detach_sources,
    norm_of,
    param_names,
    step_grads,
    step_name,
    time_step,
)
from .graph_style import NORM_SCALE, ZERO_COLOUR, norm_colour, text_colour
from .tensor import Tensor

if TYPE_CHECKING:
    import graphviz

__all__ = ["GraphvizFailed", "GraphvizNotFound", "draw", "explore", "render", "step_grads", "to_dot"]

_FORMATS = ("svg", "png", "pdf", "dot")
_INSTALL = (
    "Install Graphviz and try again: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz` (conda), "
    "`winget install graphviz` (Windows)."
)
_OP, _PARAM, _INPUT, _LOSS = "#dbe7f5", "#fff1c1", "#f2f2f2", "#e6d3f5"
_SHARE, _CUT = "#b8860b", "#d62728"
# nodes named by a localized gradcheck (`highlight=`): border colour, the line added to the label, legend
_MARKS = {"failed": (_CUT, "✗ backward wrong", "its backward disagrees with its own forward"),
          "skipped": ("#ff7f0e", "skipped: kink", "skipped: not differentiable at the point it saw")}


class GraphvizFailed(RuntimeError):
    """Graphviz's `dot` ran but failed on the graph (too large, or a crash); the DOT text was kept."""


class GraphvizNotFound(RuntimeError):
    """The `dot` program (or the `graphviz` Python package) is missing; the DOT text was written instead."""


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def _fmt(v: float) -> str:
    return "0" if v == 0 else f"{v:.1e}"


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


def _common(scopes: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The longest common prefix of some scopes."""
    first = scopes[0] if scopes else ()
    n = len(first)
    for s in scopes[1:]:
        n = min(n, len(s))
        n = next((j for j in range(n) if s[j] != first[j]), n)
    return first[:n]


# ---------------------------------------------------------------------------------------------
# layout: which node draws each op and leaf, in which cluster
# ---------------------------------------------------------------------------------------------


class _Item:
    """One drawn node: an op, a leaf, a collapsed scope ("box") or elided time steps ("gap")."""

    __slots__ = ("key", "kind", "cluster", "fn", "tensor", "ops", "steps", "outs", "root")

    def __init__(self, key: tuple, kind: str, cluster: tuple[str, ...]) -> None:
        self.key, self.kind, self.cluster = key, kind, cluster
        self.fn: Function | None = None
        self.tensor: Tensor | None = None
        self.ops, self.root = 0, False
        self.steps: list[int] = []
        self.outs: dict[int, Tensor] = {}


def _layout(g: Graph, group: str | None, collapse: Any, max_steps: int | None) -> tuple[dict, dict]:
    """The drawn items (in topological order) and, for each op and leaf, the key of the item drawing it."""
    pats = None if collapse is None or isinstance(collapse, int) else [str(p) for p in collapse]
    hidden: set[tuple[tuple[str, ...], str]] = set()  # (unroll scope, "t=k") of elided steps
    if max_steps is not None:
        unrolls: dict[tuple[str, ...], set[int]] = {}
        for fn in g.order:
            s = time_step(fn.scope)
            if s:
                unrolls.setdefault(s[0], set()).add(s[1])
        for parent, found in unrolls.items():
            ks = sorted(found)
            if len(ks) > max_steps:
                head, tail = (max_steps + 1) // 2, max_steps // 2
                hidden.update((parent, f"t={k}") for k in ks[head : len(ks) - tail])

    homes: dict[tuple[str, ...], tuple | None] = {}

    def scope_home(s: tuple[str, ...]) -> tuple | None:
        """The gap or box that swallows the ops of scope `s` (None: drawn one by one)."""
        if s not in homes:
            homes[s] = None
            for j in range(1, len(s) + 1):
                if (s[: j - 1], s[j - 1]) in hidden:
                    homes[s] = ("gap", s[: j - 1])
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
            if src[0] == "gap" or (src[0] == "box" and fn.scope == src[1][:-1] and STEP.match(src[1][-1])):
                home = src
        fn_home[id(fn)] = home or ("op", id(fn))

    place = (lambda s: s) if group == "scope" else (lambda s: ())

    def cluster_of(home: tuple, scope: tuple[str, ...]) -> tuple[str, ...]:
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
                    ("leaf", id(x)), "leaf", _common([cluster_of(fn_home[id(u)], u.scope) for u in readers])
                )
                it.tensor, key_of[id(x)] = x, it.key
        home = fn_home[id(fn)]
        if home not in items:
            items[home] = _Item(home, home[0], cluster_of(home, fn.scope))
        it = items[home]
        out = g.out[id(fn)]
        if home[0] == "op":
            it.fn, it.tensor = fn, out
            if fn.n_outputs > 1:  # one box for all of an op's outputs
                it.outs.update((id(o), o) for o in g.outputs[id(fn)].values())
        it.ops += 1
        s = time_step(fn.scope)
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
    layout: str | int = "auto",
    legend: bool = True,
    highlight: Any = None,
) -> str:
    """The graph behind `roots` as DOT text; the same graph always gives the same text.

    Nodes are numbered n0, n1, ... in topological order (each leaf just before its first reader).

    Example: ``to_dot(loss, params=model, collapse=["*.t=*"], max_steps=6)``

    Parameters
    ----------
    roots
        the tensors to draw back from (usually the loss).
    group
        "scope" draws each scope as a cluster (time steps ``t=k`` in time order); None draws none.
    collapse
        an int d: scopes deeper than d become one box each; or glob patterns matched against the
        dot-joined scope name (``["*.t=*"]``: each time step of every recurrent layer is one box). A box
        shows the scope's name, its op count and its output shapes; an op just outside it that reads only
        its output (a layer stacking a time step's output after its loop) is counted in it.
    max_steps
        an unroll longer than this shows its first and last ``max_steps/2`` steps and one
        "... N steps ..." node between them.
    show_values, show_grad
        add values (small tensors) / gradient norms to the labels. Gradients colour
        the ops on a fixed log scale and label the state passed from step to step (h, c).
    per_step_grad
        label each edge carrying a parameter, or a tensor read in several time steps, with
        the share of its gradient that this edge brings back; the shares add up (see `step_grads`).
    params
        a Module (anything with ``named_parameters()``) or a dict name -> Tensor naming leaves.
    layout
        "auto": one row, left to right, when that fits a page, else rows of time steps (their count
        chosen to fit a page); "row": one long row, every step left to right; an int k: rows of k steps,
        left to right and top to bottom (1: time runs downwards). See `tinygrad_seq.graph_layout`.
    legend
        add a legend node.
    highlight
        a `GradcheckReport` from ``gradcheck(..., localize=True)``: the nodes whose local check
        failed get a thick red border, the skipped ones an orange one (matched by op, scope and order, so
        the graph may come from another run of the same code).
    """
    g = Graph(roots)
    names = param_names(params)
    grads, note = g.gradients() if show_grad else ({}, "")
    items, key_of = _layout(g, group, collapse, max_steps)

    edges = _edges(g, items, key_of)
    if per_step_grad and grads and not g.released:
        _shares(g, edges, key_of, grads)
    cuts = _cuts(items, key_of)  # leaf key -> key of the node it was cut from (None: not drawn)
    links = [(a, b) for a, b, _ in edges]
    step = graph_layout.steps(items)

    number = {key: f"n{i}" for i, key in enumerate(items)}
    marked: dict[tuple, Any] = {}  # drawn key -> the failed (else skipped) local check it holds
    for fn_id, check in (highlight.marks(g.order) if highlight is not None else {}).items():
        if key_of[fn_id] not in marked or check.status == "failed":
            marked[key_of[fn_id]] = check

    def node_lines(record: str) -> dict[tuple, str]:  # a record's fields stack across the rank direction
        return {key: f"{number[key]} [{_node(it, names, grads, show_values, cuts, record, marked.get(key))}"
                f"{_mark(marked.get(key))}];" for key, it in items.items()}

    lines = node_lines("%s")
    per_row = graph_layout.choose(layout, links, step, graph_layout.widths(lines))
    rankdir = "LR" if per_row is None else "TB"
    if per_row is not None:
        lines = node_lines("{%s}")
    graph_attrs = _attrs(
        rankdir=rankdir, fontname="Helvetica", fontsize=11, newrank="true",
        nodesep=0.25 if per_row is None or per_row == 1 else 0.7, ranksep=0.35,  # 0.7: room for xlabels
    )
    out = [
        "digraph tinygrad_seq {",
        f"  graph [{graph_attrs}];",
        f"  node [{_attrs(fontname='Helvetica', fontsize=10)}];",
        f"  edge [{_attrs(fontname='Helvetica', fontsize=9, color='#555555', arrowsize=0.6)}];",
    ]
    out += _clusters(items, lines)
    states = _state_names(edges)
    texts = {key: f"{states.get(key, '')} {_norm_text(grads, e[0])}".strip()
             for key, e in edges.items() if e[2]}  # each state edge: its name and gradient norm
    order, loose = graph_layout.constraints(links, step, number, per_row)
    for (src, dst, xid), (x, share, state) in edges.items():
        attrs: dict[str, Any] = {"constraint": "false"} if (src, dst) in loose else {}
        if state:
            attrs["penwidth"] = 2.5
            if id(x) in grads:
                attrs["color"] = norm_colour(norm_of(grads[id(x)]))
            if texts[(src, dst, xid)]:  # side by side (flat), a label would reorder the row: xlabel
                attrs["xlabel" if (src, dst) in loose else "label"] = texts[(src, dst, xid)]
        if share is not None:
            attrs.update(color=_SHARE, fontcolor=_SHARE, label=f"‖g‖ {_fmt(norm_of(share))}")
        if x.grad_fn is not None and x.grad_fn.n_outputs > 1:
            attrs["taillabel"] = str(x.output_index)  # which output of the op this edge carries
        out.append(f"  {number[src]} -> {number[dst]}" + (f" [{_attrs(**attrs)}];" if attrs else ";"))
    for key, skey in cuts.items():
        if skey is not None and skey != key:
            style = _attrs(style="dashed", color=_CUT, fontcolor=_CUT, penwidth=1.5, label="✂ detach")
            out.append(f"  {number[skey]} -> {number[key]} [{style}];")
    out += order + _cut_order(items, cuts, links, number)
    if legend:
        shown = {"kinds": _kinds(items, names, cuts), "cut": bool(cuts),
                 "states": {states.get(k, "") for k, e in edges.items() if e[2]},
                 "shares": any(e[1] is not None for e in edges.values())}
        notes = [note] + list(dict.fromkeys(fn.legend for fn in g.order if fn.legend))
        statuses = {c.status for c in marked.values()}
        out.append(f"  legend [{_legend(grads, notes, shown, statuses)}];")
        last = [number[key] for key, it in items.items() if it.root][-1:]
        out += [f"  {{rank=same; {n}; legend}}" for n in last]  # beside the loss, where the picture ends
    out.append("}")
    return "\n".join(out) + "\n"


def _norm_text(grads: dict, x: Tensor) -> str:
    return f"‖g‖ {_fmt(norm_of(grads[id(x)]))}" if id(x) in grads else ""


def _edges(g: Graph, items: dict[tuple, _Item], key_of: dict[int, tuple]) -> dict[tuple, list]:
    """(src key, dst key, id(tensor)) -> [tensor, its share of the gradient (None), a state between steps?]"""
    edges: dict[tuple, list] = {}
    for fn in g.order:
        dst = key_of[id(fn)]
        for x in fn.inputs:
            src = key_of[id(x.grad_fn) if x.grad_fn is not None else id(x)]
            if src != dst:
                a, b = (time_step(x.grad_fn.scope) if x.grad_fn is not None else None), time_step(fn.scope)
                state = bool(a and b and a[0] == b[0] and abs(a[1] - b[1]) == 1)
                edges.setdefault((src, dst, id(x)), [x, None, state])
                if items[src].kind == "box":
                    items[src].outs.setdefault(id(x), x)
    return edges


def _shares(g: Graph, edges: dict[tuple, list], key_of: dict[int, tuple], grads: dict) -> None:
    """Fill in each edge's share of the gradient of a parameter, or of a tensor read in several steps."""
    shared: dict[int, bool] = {}  # id(tensor) -> a parameter, or read in several steps from outside them
    for (_, dst, _), e in edges.items():
        x = e[0]
        readers = g.users.get(id(x), [])
        if id(x) not in shared:
            steps = {step_name(u.scope) for u in readers} - {None}
            outside = x.grad_fn is None or time_step(x.grad_fn.scope) is None
            shared[id(x)] = (x.grad_fn is None and x.requires_grad) or (outside and len(steps) > 1)
        if shared[id(x)]:
            parts = [g.share(u, x, grads) for u in readers if key_of[id(u)] == dst]
            e[1] = sum(p for p in parts if p is not None)


def _state_names(edges: dict[tuple, list]) -> dict[tuple, str]:
    """The name of each state edge: the tag ("h", "c") its tensor got in the step that made it (the
    recurrent layers tag their states: `tinygrad_seq.tag`); an untagged state is drawn without a name."""
    names: dict[tuple, str] = {}
    for key, (x, _, state) in edges.items():
        found = [name for scope, name in x.tags if name in ("h", "c") and time_step(scope)] if state else []
        if found:
            names[key] = found[-1]
    return names


def _cuts(items: dict[tuple, _Item], key_of: dict[int, tuple]) -> dict[tuple, tuple | None]:
    """Leaves cut from a graph (truncation points) -> the drawn node they were cut from (None: not drawn)."""
    leaves = {
        key: it.tensor for key, it in items.items()
        if it.kind == "leaf" and it.tensor is not None and not it.tensor.requires_grad
    }
    sources = detach_sources(leaves.values())
    cuts: dict[tuple, tuple | None] = {}
    for key, x in leaves.items():
        if id(x) in sources:
            src = sources[id(x)]
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


def _node(it: _Item, names: dict, grads: dict, show_values: bool, cuts: dict, record: str,
          check: Any = None) -> str:
    """The attributes of one node."""
    t = it.tensor
    norm = norm_of(grads[id(t)]) if t is not None and id(t) in grads else None
    if it.kind == "leaf":
        assert t is not None  # a leaf item draws its tensor
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
        name = it.key[1][-1] if it.cluster == it.key[1][:-1] else ".".join(it.key[1])
        lines = [name, f"{it.ops} ops"]
        if outs:
            shapes = ", ".join(dict.fromkeys(str(x.shape) if x.shape else "scalar" for x in outs))
            lines.append(f"→ {shapes} " + "/".join(dict.fromkeys(str(x.dtype) for x in outs)))
        found = [grads[id(x)] for x in outs if id(x) in grads]
        if found and not it.root:
            norm = math.sqrt(sum(norm_of(a) ** 2 for a in found))
            lines.append(f"‖g‖ {_fmt(norm)}")
    else:
        # a node may describe itself (a fused layer: its name, steps and shapes): `Function.label`
        assert it.fn is not None and t is not None  # an op item draws its node and result
        lines = [it.fn.label or it.fn.name, _shape(t)]
        if it.fn.n_outputs > 1:  # one box for all of an op's outputs, an edge from it per output read
            results = it.fn.results
            dtypes = "/".join(dict.fromkeys(str(a.dtype) for a in results))
            lines[1] = ", ".join(str(a.shape) for a in results) + " " + dtypes
            found = [grads[id(x)] for x in it.outs.values() if id(x) in grads]
            norm = math.sqrt(sum(norm_of(a) ** 2 for a in found)) if found else None
        lines += [_values(t.numpy())] if show_values and not it.root else []
        if norm is not None and not it.root:
            lines.append(f"‖g‖ {_fmt(norm)}")
    if check is not None:
        lines.append(_MARKS[check.status][1])
    if it.root:
        value = [f"= {t.item():.4g}"] if t is not None and t.size == 1 else []
        return _attrs(
            shape="box",
            style="rounded,filled",
            peripheries=2,
            fillcolor=_LOSS,
            label="\n".join(["loss: " + lines[0]] + lines[1:] + value),
        )
    fill = norm_colour(norm) if norm is not None else _OP
    return _attrs(
        shape="box", style="rounded,filled", fillcolor=fill, fontcolor=text_colour(fill),
        label="\n".join(lines),
    )


def _mark(check: Any) -> str:
    """The border of a node a localized gradcheck named (its reason shows as a tooltip)."""
    if check is None:
        return ""
    return ", " + _attrs(color=_MARKS[check.status][0], penwidth=4, tooltip=check.reason)


def _clusters(items: dict[tuple, _Item], lines: dict[tuple, str]) -> list[str]:
    """Node lines nested in one cluster per scope (walked with a stack, not recursion)."""
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {(): []}
    members: dict[tuple[str, ...], list[tuple]] = {(): []}
    for key, it in items.items():
        for j in range(1, len(it.cluster) + 1):
            s = it.cluster[:j]
            if s not in children:
                children[s], members[s] = [], []
                children[s[:-1]].append(s)
        members[it.cluster].append(key)
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
            if STEP.match(s[-1]):
                style = _attrs(label=s[-1], style="rounded,filled", fillcolor="#f5f8fc", color="#9fb3d1")
            else:
                style = _attrs(label=s[-1], style="rounded,dashed", color="#888888", labeljust="l")
            out += [f"{pad[:-2]}subgraph cluster_{count} {{", f"{pad}graph [{style}];"]
            count += 1
            stack.append((s, True))
        out += [pad + lines[key] for key in members[s]]
        stack += [(c, False) for c in reversed(children[s])]
    return out


def _cut_order(items: dict[tuple, _Item], cuts: dict, links: list[tuple], number: dict) -> list[str]:
    """Invisible edges that put the scope a truncation point feeds (the next chunk) right of its source."""
    out = []
    for key, skey in cuts.items():
        if skey is None:
            continue
        a, b = items[skey].cluster, items[key].cluster
        j = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
        if j < len(b):
            inside = {k for k, it in items.items() if it.cluster[: j + 1] == b[: j + 1]}
            fed = {d for s, d in links if s in inside}
            out += [f"  {number[skey]} -> {number[k]} [style=invis];" for k in items if k in inside - fed]
    return out


def _kinds(items: dict[tuple, _Item], names: dict, cuts: dict) -> set[str]:
    """Which kinds of node the picture draws (as `_node` draws them): what the legend explains."""
    kinds = set()
    for key, it in items.items():
        t = it.tensor
        if it.root:
            kinds.add("loss")
        elif it.kind != "leaf":
            kinds.add(it.kind)
        elif t is not None and t.requires_grad:
            kinds.add("parameter")
        elif key not in cuts:
            kinds.add("constant" if t is not None and t.size == 1 and id(t) not in names else "input")
    return kinds


def _legend(grads: dict, notes: list[str], shown: dict[str, Any], marks: set[str]) -> str:
    """One HTML-table node explaining what the picture holds: node kinds, edges, the gradient colours.

    `shown`: "kinds" (from `_kinds`), "states" (the names on state edges, or {""}), "shares", "cut".
    """

    def row(swatch: str, text: str, fill: str = "") -> str:
        bg = f' BGCOLOR="{fill}"' if fill else ""
        return f'<TR><TD{bg}>{swatch}</TD><TD ALIGN="LEFT">{_html(text)}</TD></TR>'

    kinds, coloured = shown["kinds"], " coloured by ‖g‖" if grads else ""
    rows = ['<TR><TD COLSPAN="2"><B>legend</B></TD></TR>']
    described = {
        "parameter": row("name", "parameter (a leaf that requires grad)", _PARAM),
        "input": row("input", "input tensor (no gradient)", _INPUT),
        "constant": row("0.5", "a scalar constant"),
        "op": row("Op", "an op and the tensor it makes" + coloured, "" if grads else _OP),
        "box": row("t=k", "a time step's ops drawn as one box" + coloured, "" if grads else _OP),
        "gap": row("… N steps …", "time steps left out (max_steps)"),
        "loss": row("loss", "the root (loss)", _LOSS),
    }
    rows += [text for kind, text in described.items() if kind in kinds]
    if shown["states"]:
        names = ", ".join(sorted(n for n in shown["states"] if n))
        rows.append(row("━━▶", (f"{names}: " if names else "") + "state passed to the next time step"
                        + (", with ‖g‖" if grads else "")))
    if shown["shares"]:
        rows.append(row(f'<FONT COLOR="{_SHARE}">──▶</FONT>', "its share of the gradient; shares add up"))
    if shown["cut"]:
        rows.append(row(f'<FONT COLOR="{_CUT}">✂ ╌╌▶</FONT>', "detach: no gradient flows back"))
    for status in ("failed", "skipped"):
        if status in marks:
            colour, text, meaning = _MARKS[status]
            rows.append(f'<TR><TD BORDER="3" COLOR="{colour}">{_html(text)}</TD>'
                        f'<TD ALIGN="LEFT">{_html(meaning)} (gradcheck localize)</TD></TR>')
    if grads:
        cells = [f'<TD BGCOLOR="{ZERO_COLOUR}">0</TD>'] + [
            f'<TD BGCOLOR="{c}"><FONT COLOR="{text_colour(c)}">1e{x:+d}</FONT></TD>' for x, c in NORM_SCALE
        ]
        rows.append('<TR><TD COLSPAN="2">gradient norm ‖g‖, log scale</TD></TR>')
        scale = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3"><TR>' + "".join(cells)
        rows.append(f'<TR><TD COLSPAN="2">{scale}</TR></TABLE></TD></TR>')
    for note in filter(None, notes):  # the gradient note, then what special nodes (fused layers) say
        rows.append(f'<TR><TD COLSPAN="2">{_html(note)}</TD></TR>')
    table = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>"
    return f"shape=plaintext, fontsize=9, label=<{table}>"


# ---------------------------------------------------------------------------------------------
# pictures
# ---------------------------------------------------------------------------------------------


def draw(*roots: Tensor, **opts: Any) -> graphviz.Source:
    """The graph as a `graphviz.Source` (inline in Jupyter, shrunk to fit the cell); options as in `to_dot`.

    Needs the graphviz Python package (the ``viz`` extra). Without Graphviz's `dot` program a notebook
    shows how to install it in place of the picture (the DOT text stays in ``.source``).
    """
    return _picture_type(require("graphviz", "graph.draw"))(to_dot(*roots, **opts))


@functools.cache
def _picture_type(graphviz: Any) -> type:
    """graphviz.Source, shown in a notebook as the install hint (not a traceback) when dot is missing."""

    class Picture(graphviz.Source):
        def __repr__(self) -> str:  # the text beside the picture in a notebook: no memory address
            return "<graph.draw picture: SVG in a notebook, its DOT text in .source>"

        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
            try:
                bundle = super()._repr_mimebundle_(include, exclude, **kwargs)
                if "image/svg+xml" in bundle:  # the whole graph within the cell's column
                    bundle["image/svg+xml"] = graph_layout.fit_svg(bundle["image/svg+xml"])
                return bundle
            except graphviz.ExecutableNotFound:
                reason, install = _missing(graphviz)
                return {"text/plain": f"graph.draw: {reason}, so the picture cannot be shown (its DOT "
                                      f"text is in .source). {install}"}

    return Picture


def _missing(graphviz: Any) -> tuple[str, str]:
    """Which part of Graphviz is missing (the Python package, the `dot` program or both), and how to install
    the program ("" when only the package is missing)."""
    dot = "Graphviz's `dot` program was not found on PATH"
    if graphviz is not None:
        return dot, _INSTALL
    package = f"the graphviz Python package is not installed ({install_hint('graphviz')})"
    if shutil.which("dot") is None:
        return f"{package} and {dot}", _INSTALL
    return f"{package}; the `dot` program itself is installed", ""


def render(*roots: Tensor, path: str | os.PathLike, format: str | None = None,  # noqa: A002
           width: int | None = None, **opts: Any) -> str:
    """Write the graph to `path` as SVG, PNG, PDF or DOT text (the format defaults to the suffix).

    Without Graphviz's `dot` program the DOT text is written next to `path` (same name, ``.dot``) and
    `GraphvizNotFound` says how to install Graphviz. Returns the path written. Options as in `to_dot`.
    `width` (px): a PNG is drawn that many pixels wide, a PDF as wide as that at 96 dpi, and an SVG
    shows that wide; by default a PNG has 96 dpi (9 pt text is 12 px) and an SVG its natural size. An
    SVG keeps its viewBox and shrinks to a narrower column (`graph_layout.fit_svg`).
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
    if width is not None and width < 1:
        raise ValueError(f"render: width={width}: a picture must be at least 1 px wide")
    text = to_dot(*roots, **opts)
    if width is not None and fmt in ("png", "pdf"):  # "!" scales a smaller drawing up as well as down
        text = text.replace("\n", f"\n  graph [dpi=96, size=\"{width / 96:.4f},1000!\"];\n", 1)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    dot_path = f"{stem}.dot"
    if fmt != "dot":
        graphviz: Any
        try:
            graphviz = require("graphviz", "render")
        except ImportError:
            graphviz = None
        else:
            try:
                data = graphviz.pipe("dot", fmt, text.encode("utf-8"))
                if fmt == "svg":
                    data = graph_layout.fit_svg(data.decode("utf-8"), width).encode("utf-8")
            except graphviz.ExecutableNotFound:
                pass
            except graphviz.CalledProcessError as error:  # dot crashed (a segfault past ~10^5 nodes)
                with open(dot_path, "w", encoding="utf-8") as f:
                    f.write(text)
                code = error.returncode
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                raise GraphvizFailed(f"render: Graphviz's dot failed ({how}) on a graph of "
                                     f"{text.count(' -> '):,} edges, so {path} was not drawn; the DOT text "
                                     f"is in {dot_path}. Draw fewer nodes (collapse, max_steps)") from None
            else:
                with open(path, "wb") as f:
                    f.write(data)
                return path
    with open(dot_path, "w", encoding="utf-8") as f:
        f.write(text)
    if fmt == "dot":
        return dot_path
    reason, install = _missing(graphviz)
    raise GraphvizNotFound(
        f"render: {reason}, so {path} was not drawn. The graph was written as DOT text to {dot_path} "
        f"(make the picture later with `dot -T{fmt} {dot_path} -o {path}`). {install}".rstrip()
    )
