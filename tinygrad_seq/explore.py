"""The BPTT explorer: one self-contained HTML page to step through a recurrent model unrolled over time.

`explore` reads everything from the graph behind the loss, so it works for any model whose time steps
run inside ``scope("t=k")`` (every recurrent layer of `tinygrad_seq.nn` does, and so can a hand-written
loop): the ops of step k, the hidden state passed to step k+1 (and, for an LSTM, the cell state), the
input the step slices from a time-major tensor (``x[k]``), the gates (sigmoid ops in the step), the
output distribution (the softmax behind a cross-entropy, in the step or after the loop, time-major),
the gradient reaching each step's state, and each parameter's gradient split by step with
`Graph.step_grads` (BPTT's sum: the shares add up to the gradient). `explore_page` draws the page.

    >>> from tinygrad_seq import graph
    >>> graph.explore(loss, params=model, path="out/bptt.html")  # doctest: +SKIP
    >>> graph.explore(loss_rnn, params=rnn, name="RNN", compare={"LSTM": (loss_lstm, lstm)},
    ...               path="out/rnn_vs_lstm.html")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .autograd import Function
from .graph_analysis import Graph, norm_of, param_names, time_step
from .tensor import Tensor

__all__ = ["analyse", "explore"]

_GATES = {4: "ifgo", 3: "rzn"}  # torch's gate order in a cell's stacked projection, by its width / H
_SOFTMAX_OPS = ("LogSumExp", "FusedCrossEntropy")  # behind a cross-entropy: their input is the logits
_SHOWN_STATE_DIGITS = 4  # state, gate and input values are drawn as colours: 4 significant digits suffice


def explore(
    *roots: Tensor,
    params: Any = None,
    path: str | os.PathLike,
    name: str = "model",
    tokens: Sequence[str] | None = None,
    vocab: Sequence[str] | None = None,
    compare: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> str:
    """Write one self-contained HTML page exploring the unrolled graph behind `roots`; returns the path.

    The page needs no server and no network (the SVG, its data as JSON and a small script are inline).
    A time slider runs the forward pass step by step (the input, the hidden state as a colour strip,
    the output distribution), then the backward pass from the loss (the gradient norm reaching each
    step lights up as it arrives). A click on a parameter shows each step's share of its gradient as
    bars that add up to the whole gradient; a click on a step shows its gates and the gradient there.

    Parameters
    ----------
    roots : the loss (or tensors whose sum is differentiated). Call before ``backward()``, or after
        ``backward(retain_graph=True)``: the page needs the graph.
    params : a Module or a dict name -> Tensor naming the parameters.
    path : the .html file to write (folders are created).
    name : what to call this model on the page.
    tokens : a label per time step (the characters read), shown above the steps.
    vocab : labels of the output classes, for the output distribution.
    compare : more models on the same input, drawn next to this one with the same slider:
        ``{"LSTM": (loss_lstm, lstm)}`` (name -> (root or tuple of roots, params)).
    title : the page's title.

    Example: ``explore(loss, params=model, path="out/bptt.html", tokens=list("hello"))``
    """
    from .explore_page import page

    models = [analyse(*roots, params=params, name=name, tokens=tokens, vocab=vocab)]
    for other, (other_roots, other_params) in (compare or {}).items():
        other_roots = other_roots if isinstance(other_roots, tuple | list) else (other_roots,)
        models.append(analyse(*other_roots, params=other_params, name=other, tokens=tokens, vocab=vocab))
    text = page(models, title or "BPTT explorer: " + " vs ".join(m["name"] for m in models))
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def analyse(
    *roots: Tensor,
    params: Any = None,
    name: str = "model",
    tokens: Sequence[str] | None = None,
    vocab: Sequence[str] | None = None,
) -> dict:
    """What the explorer shows of one model, as plain JSON-able data (lists and floats).

    Keys: name, loss, T, steps ("t=0", ...), keys (their `step_grads` names), tokens, states (name,
    values per step (batch element 0), grad_norm per step), inputs and outputs per step (or None),
    gates per step ([{label, values}]), params ([{name, shape, total, shares: [{key, label, along,
    norm}]}]) where ``along`` is the share's component along the whole gradient: the ``along`` of
    the shares add up to ``total`` (= ||gradient||), and ``norm`` is the share's own norm.
    """
    g = Graph(roots)
    if g.released:
        raise RuntimeError(
            "explore: the graph was released by backward(); call explore before backward(), or call "
            "backward(retain_graph=True)"
        )
    parent, steps = _unroll(g)
    ks = sorted(steps)
    T = len(ks)
    if tokens is not None and len(tokens) != T:
        raise ValueError(f"explore: {len(tokens)} tokens for {T} time steps")
    grads, _ = g.gradients()
    states = _states(g, steps)
    first = next((t for _, per_step in states for t in per_step if t is not None), None)
    batch = first.shape[0] if first is not None and first.ndim > 1 else 1  # states are (B, H) or (H,)
    width = first.shape[-1] if first is not None and first.ndim else None
    keys = [".".join(parent + (f"t={k}",)) for k in ks]
    loss = roots[0].item() if len(roots) == 1 and roots[0].size == 1 else None
    return {
        "name": name,
        "loss": loss,
        "T": T,
        "steps": [f"t={k}" for k in ks],
        "keys": keys,
        "tokens": None if tokens is None else [str(t) for t in tokens],
        "states": [
            {
                "name": state_name,
                "values": [None if t is None else _row(t.numpy(), batch) for t in per_step],
                "grad_norm": [
                    None if t is None or id(t) not in grads else norm_of(grads[id(t)]) for t in per_step
                ],
            }
            for state_name, per_step in states
        ],
        "inputs": _inputs(g, steps, batch),
        "outputs": _outputs(g, steps, batch, vocab),
        "gates": [_gates(g, steps[k], width, batch) for k in ks],
        "params": _shares(g, params, keys),
    }


# ---------------------------------------------------------------------------------------------
# reading the unroll from the graph
# ---------------------------------------------------------------------------------------------


def _unroll(g: Graph) -> tuple[tuple[str, ...], dict[int, list[Function]]]:
    """(scope of the unrolled layer, k -> the ops of step k) for the unroll with the most steps."""
    unrolls: dict[tuple[str, ...], dict[int, list[Function]]] = {}
    for fn in g.order:
        s = time_step(fn.scope)
        if s:
            unrolls.setdefault(s[0], {}).setdefault(s[1], []).append(fn)
    if not unrolls:
        raise ValueError(
            "explore: no time steps in this graph. The explorer shows recurrent models unrolled over time: "
            "each step's ops must run inside scope('t=k'), as the recurrent layers of tinygrad_seq.nn do "
            "(a fused layer is one node: set layer.fused = False to run the same weights step by step)"
        )
    parent = max(unrolls, key=lambda p: len(unrolls[p]))  # the first of the longest, in topological order
    return parent, unrolls[parent]


def _signatures(fns: list[Function]) -> dict[tuple, Function]:
    """A key per op of one step that the same op of every other step shares: its structure within the step.

    The key hashes the op's name and, for each input, the key of the op in the step that made it, or
    the input's shape when it comes from outside the step (so step 0, which reads the initial state,
    matches the others). Ops of identical structure are told apart by their order.
    """
    inside: dict[int, int] = {}
    count: dict[int, int] = {}
    out = {}
    for fn in fns:  # in topological order: inputs first
        key = hash((fn.name, tuple(inside.get(id(x.grad_fn), hash(x.shape)) for x in fn.inputs)))
        inside[id(fn)] = key
        count[key] = count.get(key, -1) + 1
        out[(key, count[key])] = fn
    return out


def _states(g: Graph, steps: dict[int, list[Function]]) -> list[tuple[str, list[Tensor | None]]]:
    """The state a step passes on, per step: [("h", [h_0, h_1, ...]), ("c", [...])] (None: not found).

    A state is what a step makes that another step of the unroll reads; the last step's state is the
    same op of that step. Of an LSTM's two states, h is the one also read outside the steps (the
    layer's output) or else the one made from the other; c is the other.
    """
    step_of = {id(fn): k for k, fns in steps.items() for fn in fns}
    sigs = {k: _signatures(fns) for k, fns in steps.items()}
    passed: dict[tuple, bool] = {}  # signature -> also read outside the steps (an output)
    ks = sorted(steps)
    for k in ks[:-1] if len(ks) > 1 else ks:
        for sig, fn in sigs[k].items():
            users = g.users.get(id(g.out[id(fn)]), [])
            other = [step_of.get(id(u)) for u in users if step_of.get(id(u)) != k]
            if len(ks) > 1 and not any(o is not None for o in other):
                continue
            if len(ks) == 1 and not other:
                continue
            passed[sig] = passed.get(sig, False) or any(o is None for o in other)
    order = list(passed)
    names = ["h"] if len(order) == 1 else [f"state {j}" for j in range(len(order))]
    if len(order) == 2:  # an LSTM's (h, c): h is the layer's output, and made from c (h = o * tanh(c))
        a, b = order
        made_from = _depends(sigs[ks[0]][b], sigs[ks[0]][a], set(map(id, steps[ks[0]])))
        if passed[b] > passed[a] or (passed[a] == passed[b] and made_from):
            order.reverse()
        names = ["h", "c"]
    return [
        (nm, [g.out[id(sigs[k][sig])] if sig in sigs[k] else None for k in ks])
        for nm, sig in zip(names, order)
    ]


def _depends(fn: Function, on: Function, inside: set[int]) -> bool:
    """True when op `fn` reads the output of op `on`, directly or through ops whose ids are `inside`."""
    stack, seen = [fn], set()
    while stack:
        f = stack.pop()
        for x in f.inputs:
            up = x.grad_fn
            if up is on:
                return True
            if up is not None and id(up) in inside and id(up) not in seen:
                seen.add(id(up))
                stack.append(up)
    return False


def _param_derived(g: Graph) -> set[int]:
    """ids of the parameters and of what is computed from them alone (``W.T``, ``b_ih + b_hh``)."""
    derived = {id(t) for t in g.leaves.values() if t.requires_grad}
    for fn in g.order:
        if all(id(x) in derived or (x.grad_fn is None and x.size == 1) for x in fn.inputs):
            derived.add(id(g.out[id(fn)]))
    return derived


def _inputs(g: Graph, steps: dict[int, list[Function]], batch: int) -> list[list[float]] | None:
    """The input of each step (batch element 0), or None when the graph does not show one.

    Either each step slices a time-major tensor (``gi[k]``: walk back through the ops that prepare
    it, an input projection or an embedding, to the tensor they start from: the input), or each step
    reads a constant of its own in the same place (``x[k]`` of an input that needs no gradient is a
    plain tensor, not an op).
    """
    ks = sorted(steps)
    first = {id(fn) for fn in steps[ks[0]]}
    sliced = (fn.inputs[0] for fn in steps[ks[0]] if fn.name == "GetItem" and _leading(fn.index) == ks[0]  # type: ignore[attr-defined]
              and id(fn.inputs[0].grad_fn) not in first)
    source = next(sliced, None)
    if source is None:
        return _own_inputs(g, steps, batch)
    derived = _param_derived(g)
    while source.grad_fn is not None:
        data = [x for x in source.grad_fn.inputs if id(x) not in derived and x.size > 1]
        if len(data) != 1 or data[0].size % len(ks):
            break
        source = data[0]
    return [_time_row(source.numpy(), k, len(ks), batch) for k in ks]  # type: ignore[misc]


def _own_inputs(g: Graph, steps: dict[int, list[Function]], batch: int) -> list[list[float]] | None:
    """The constant each step reads in the same place (the same op of the step, the same argument)."""
    ks = sorted(steps)
    step_of = {id(fn): k for k, fns in steps.items() for fn in fns}
    places = []
    for k in ks:
        found: dict[tuple, Tensor] = {}
        for sig, fn in _signatures(steps[k]).items():
            for j, x in enumerate(fn.inputs):
                if (x.grad_fn is None and not x.requires_grad and x.size > 1
                        and all(step_of.get(id(u)) == k for u in g.users[id(x)])):
                    found.setdefault((sig, j), x)
        places.append(found)
    common = [place for place in places[0] if all(place in p for p in places[1:])]
    return [_row(p[common[0]].numpy(), batch) for p in places] if common else None


def _leading(index: Any) -> int | None:
    """The int an index starts with (``x[3]``, ``x[3, :]``), else None."""
    first = index[0] if isinstance(index, tuple) and index else index
    return int(first) if isinstance(first, int | np.integer) else None


def _time_row(a: np.ndarray, k: int, T: int, batch: int) -> list[float] | None:
    """Row k of a time-major array, batch element 0: a[k, 0] of (T, B, ...), a[k * B] of (T * B, ...)."""
    if a.shape and a.shape[0] == T:
        row = a[k]
        row = row[0] if row.ndim > 1 else row
    elif a.shape and a.shape[0] == T * batch:
        row = a[k * batch]
    else:
        return None
    return _round(np.ravel(row))


def _outputs(
    g: Graph, steps: dict[int, list[Function]], batch: int, vocab: Sequence[str] | None
) -> list | None:
    """Each step's output distribution (batch element 0): the softmax behind a cross-entropy.

    A log-softmax is ``x - logsumexp(x)``; its distribution is ``exp(x - logsumexp(x))`` from the
    LogSumExp op's input (or the logits a fused cross-entropy reads). Found in the step itself, or
    after the loop on time-major logits.
    """
    ks = sorted(steps)
    in_steps = {k: next((fn for fn in steps[k] if fn.name in _SOFTMAX_OPS), None) for k in ks}
    rows: list[np.ndarray | None]
    if all(fn is not None for fn in in_steps.values()):
        rows = [_softmax_rows(in_steps[k])[0] for k in ks]  # type: ignore[arg-type]
    else:
        after = [fn for fn in g.order if fn.name in _SOFTMAX_OPS and time_step(fn.scope) is None]
        rows = [None] * len(ks)
        for fn in after:
            probs = _softmax_rows(fn)
            if len(probs) in (len(ks), len(ks) * batch):
                stride = len(probs) // len(ks)
                rows = [probs[j * stride] for j in range(len(ks))]
                break
    if all(r is None for r in rows):
        return None
    labels = [str(v) for v in vocab] if vocab is not None else None
    return [
        None
        if r is None
        else {
            "probs": _round(r),
            "labels": labels if labels and len(labels) == len(r) else [str(i) for i in range(len(r))],
        }
        for r in rows
    ]


def _softmax_rows(fn: Function) -> np.ndarray:
    """The distributions exp(x - logsumexp(x)) of a LogSumExp op (over one axis) or of the rows a fused
    cross-entropy reads, as rows (N, classes)."""
    axis: int | None
    if fn.name == "FusedCrossEntropy":
        axis = 1
    else:
        axis = fn.axis[0] if fn.axis is not None and len(fn.axis) == 1 else None  # type: ignore[attr-defined]
    x = fn.inputs[0].numpy().astype(np.float64)
    if axis is None:  # over every element: one distribution
        x, axis = x.reshape(1, -1), 1
    p = np.exp(x - x.max(axis=axis, keepdims=True))
    p = np.moveaxis(p / p.sum(axis=axis, keepdims=True), axis, -1)
    return p.reshape(-1, p.shape[-1])


def _gates(g: Graph, fns: list[Function], width: int | None, batch: int) -> list[dict]:
    """The sigmoid gates of one step (batch element 0), labelled i/f/o (LSTM) or r/z (GRU) when known."""
    gates = []
    for fn in fns:
        if fn.name != "Sigmoid":
            continue
        row = _row(g.out[id(fn)].numpy(), batch)
        letters = _gate_letters(fn, width)
        if letters and width and len(row) == len(letters) * width:
            gates += [{"label": c, "values": row[j * width : (j + 1) * width]} for j, c in enumerate(letters)]
        else:
            gates.append({"label": f"sigmoid {len(gates)}", "values": row})
    return gates


def _gate_letters(fn: Function, width: int | None) -> str | None:
    """Which gates a sigmoid computes, from the slice of the cell's projection it reads (torch's order)."""
    if not width:
        return None
    x = fn.inputs[0]
    candidates = [x] + (list(x.grad_fn.inputs) if x.grad_fn is not None and x.grad_fn.name == "Add" else [])
    for c in candidates:
        op = c.grad_fn
        if op is None or op.name != "GetItem":
            continue
        index = op.index if isinstance(op.index, tuple) else (op.index,)  # type: ignore[attr-defined]
        last = index[-1]
        whole = op.inputs[0].shape[-1]
        letters = _GATES.get(whole // width) if whole % width == 0 else None
        if isinstance(last, slice) and letters:
            a, b, step = last.indices(whole)
            if step == 1 and a % width == 0 and b % width == 0:
                return letters[a // width : b // width]
    return None


def _shares(g: Graph, params: Any, keys: list[str]) -> list[dict]:
    """Each parameter's gradient split by time step (`Graph.step_grads`), with the shares' components.

    A parameter used in the steps lists every step (zero where a step sends it nothing), then any part
    that reaches it from outside the steps (an output layer); one used only outside lists those parts.
    Named parameters come in the order of `params`, the others after them in the graph's order.
    """
    names = param_names(params)
    rank = {i: j for j, i in enumerate(names)}
    found = [t for t in g.leaves.values() if t.requires_grad]
    found.sort(key=lambda t: rank.get(id(t), len(rank)))  # stable: unnamed ones keep the graph's order
    out = []
    for j, p in enumerate(found):
        parts = g.step_grads(p)
        total = sum(parts.values(), np.zeros(p.shape, dtype=np.float64))
        size = norm_of(total)
        shown = (keys if any(key in parts for key in keys) else []) + [
            key for key in parts if key not in keys
        ]
        shares = []
        for key in shown:
            part = parts.get(key, np.zeros(p.shape))
            along = float(np.vdot(part.astype(np.float64), total) / size) if size > 0 else 0.0
            label = key.rsplit(".", 1)[-1] if key in keys else key or "outside the steps"
            shares.append({"key": key, "label": label, "along": along, "norm": norm_of(part)})
        out.append(
            {
                "name": names.get(id(p), f"parameter {j}"),
                "shape": list(p.shape),
                "total": size,
                "shares": shares,
            }
        )
    return out


def _row(a: np.ndarray, batch: int) -> list[float]:
    """Batch element 0 of a state (B, H) (or the state itself when it has no batch axis), rounded."""
    return _round(np.ravel(a[0] if a.ndim > 1 and a.shape[0] == batch else a))


def _round(a: np.ndarray) -> list[float]:
    return [float(f"{v:.{_SHOWN_STATE_DIGITS}g}") for v in np.asarray(a, dtype=np.float64)]
